"""Questions of the key's project: list, create, read, update, delete, and the next question."""

from ninja import Query, Router
from ninja.responses import Status

from projects.actors import Actor
from projects.models import Question
from projects.questions import question_create, question_delete, question_update

from .. import question_queries as queries
from ..errors import NotFound
from ..permissions import require
from ..schemas import ErrorOut, NextQuestionIn, NextQuestionOut, QuestionIn, QuestionList, QuestionOut, QuestionPatch

router = Router(tags=["Questions"])

MAX_ID = 2**63 - 1  # BIGINT: larger ids cannot exist (and would overflow the database driver)
MAX_OFFSET = 1_000_000_000
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 429: ErrorOut}


def _questions(request):
    return Question.objects.filter(project_id=request.auth.project_id)


def _question(request, question_id: int) -> Question:
    if not 1 <= question_id <= MAX_ID:
        raise NotFound("No such question.")
    try:
        return _questions(request).get(pk=question_id)
    except Question.DoesNotExist:
        # Also for another project's question: a key cannot even learn that it exists.
        raise NotFound("No such question.") from None


@router.get(
    "/questions",
    response={200: QuestionList, **ERRORS},
    operation_id="listQuestions",
    summary="List the project's questions (highest priority first)",
)
def list_questions(request, limit: int = Query(50, ge=1, le=200), offset: int = Query(0, ge=0, le=MAX_OFFSET)):
    require(request, "read")
    return queries.json_response(queries.list_page(request.auth.project_id, limit=limit, offset=offset))


@router.post(
    "/questions", response={201: QuestionOut, **ERRORS}, operation_id="createQuestion", summary="Create a question"
)
def create_question(request, payload: QuestionIn):
    require(request, "create")
    key = request.auth
    question = question_create(project=key.project, actor=Actor.api(request, key=key), **payload.dict())
    return Status(201, question)


@router.get(
    "/questions/{int:question_id}",
    response={200: QuestionOut, **ERRORS},
    operation_id="getQuestion",
    summary="Read a question",
)
def get_question(request, question_id: int):
    require(request, "read")
    body = queries.get_question(request.auth.project_id, question_id) if 1 <= question_id <= MAX_ID else None
    if body is None:  # also another project's question: a key cannot even learn that it exists
        raise NotFound("No such question.")
    return queries.json_response(body)


@router.patch(
    "/questions/{int:question_id}",
    response={200: QuestionOut, **ERRORS},
    operation_id="updateQuestion",
    summary="Change a question (only the fields sent)",
)
def update_question(request, question_id: int, payload: QuestionPatch):
    require(request, "write")
    question = _question(request, question_id)
    return question_update(
        question=question, actor=Actor.api(request, key=request.auth), **payload.dict(exclude_unset=True)
    )


@router.delete(
    "/questions/{int:question_id}",
    response={204: None, **ERRORS},
    operation_id="deleteQuestion",
    summary="Delete a question",
)
def delete_question(request, question_id: int):
    require(request, "delete")
    question_delete(question=_question(request, question_id), actor=Actor.api(request, key=request.auth))
    return Status(204, None)


@router.post(
    "/next-question",
    response={200: NextQuestionOut, **ERRORS},
    operation_id="nextQuestion",
    summary="The active question of highest priority not yet answered",
)
def next_question(request, payload: NextQuestionIn | None = None):
    """Ties in priority go to the lowest id. `{"question": null}` when every active question is answered.
    Without a body, nothing counts as answered."""
    require(request, "read")
    answered = {i for i in (payload.answered if payload else ()) if 1 <= i <= MAX_ID}
    return queries.json_response(queries.next_question(request.auth.project_id, answered))
