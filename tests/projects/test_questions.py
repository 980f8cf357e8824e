"""The question bank: add, edit, (de)activate, delete; bad input; progress toward 10 active questions."""

import pytest
from django.urls import reverse

from projects.models import Membership, Project, Question, Role
from tests.factories import ProjectFactory, QuestionFactory
from tests.helpers import page_text
from tests.urls import project_url

pytestmark = pytest.mark.django_db


def _url(name, project, *args):
    return project_url(name, args=[project.slug, *args])


# --- projects -------------------------------------------------------------------------------


def test_project_list_shows_only_my_projects(owner_client, project):
    ProjectFactory(name="Somebody else's")
    response = owner_client.get(reverse("projects:list"))
    assert response.status_code == 200
    text = page_text(response)
    assert project.name in text
    assert "Somebody else's" not in text


def test_create_project_makes_me_owner(owner_client, user):
    response = owner_client.post(reverse("projects:list"), {"name": "  Trivia night  "})
    project = Project.objects.get(name="Trivia night")
    assert response.status_code == 302
    assert response.url == reverse("projects:questions", args=[project.slug])
    assert project.slug == "trivia-night"
    assert Membership.objects.get(project=project).user == user
    assert Membership.objects.get(project=project).role == Role.OWNER
    # a second project with the same name gets its own slug
    owner_client.post(reverse("projects:list"), {"name": "Trivia night"})
    assert set(Project.objects.values_list("slug", flat=True)) == {"trivia-night", "trivia-night-2"}


def test_project_slug_never_shadows_console_paths(owner_client):
    owner_client.post(reverse("projects:list"), {"name": "Invitations"})
    assert Project.objects.get().slug != "invitations"


def test_create_project_with_blank_name_is_refused(owner_client):
    response = owner_client.post(reverse("projects:list"), {"name": "   "})
    assert response.status_code == 422
    assert not Project.objects.exists()


def test_project_detail_redirects_to_questions(owner_client, project):
    response = owner_client.get(reverse("projects:detail", args=[project.slug]))
    assert response.url == _url("questions", project)


def test_project_tabs_are_named(owner_client, project):
    text = page_text(owner_client.get(_url("questions", project)))
    for tab in ("Questions", "Members", "API Key", "Event log"):
        assert tab in text


# --- question bank --------------------------------------------------------------------------


def test_add_question(owner_client, project):
    response = owner_client.post(
        _url("questions", project), {"text": "  What is 2 + 2?  ", "priority": "5", "is_active": "on"}
    )
    assert response.status_code == 302
    question = Question.objects.get(project=project)
    assert (question.text, question.priority, question.is_active) == ("What is 2 + 2?", 5, True)
    page = page_text(owner_client.get(_url("questions", project)))
    assert "What is 2 + 2?" in page
    assert "Question added." in page


def test_add_inactive_question(owner_client, project):
    owner_client.post(_url("questions", project), {"text": "Later?", "priority": "0"})
    assert Question.objects.get(project=project).is_active is False


def test_edit_question(owner_client, project):
    question = QuestionFactory(project=project, text="Old?", priority=1)
    url = _url("question_edit", project, question.pk)
    assert owner_client.get(url).status_code == 200
    response = owner_client.post(url, {"text": "New?", "priority": "-3", "is_active": "on"})
    assert response.status_code == 302
    question.refresh_from_db()
    assert (question.text, question.priority) == ("New?", -3)


def test_toggle_question(owner_client, project):
    question = QuestionFactory(project=project, is_active=True)
    owner_client.post(_url("question_toggle", project, question.pk))
    question.refresh_from_db()
    assert question.is_active is False
    owner_client.post(_url("question_toggle", project, question.pk))
    question.refresh_from_db()
    assert question.is_active is True


def test_toggle_and_delete_only_ask_on_get(owner_client, project):
    """GET shows the confirmation (see test_confirmations.py); only POST changes anything."""
    question = QuestionFactory(project=project)
    assert "Deactivate question" in page_text(owner_client.get(_url("question_toggle", project, question.pk)))
    assert "Delete question" in page_text(owner_client.get(_url("question_delete", project, question.pk)))
    assert Question.objects.filter(pk=question.pk, is_active=True).exists()


def test_delete_question(owner_client, project):
    question = QuestionFactory(project=project)
    response = owner_client.post(_url("question_delete", project, question.pk))
    assert response.status_code == 302
    assert not Question.objects.filter(pk=question.pk).exists()


def test_question_of_another_project_is_404(owner_client, project):
    other = QuestionFactory(text="Not yours?")
    for name in ("question_edit", "question_toggle", "question_delete"):
        assert owner_client.post(_url(name, project, other.pk), {"text": "x", "priority": 1}).status_code == 404
    other.refresh_from_db()
    assert other.text == "Not yours?" and other.is_active


def test_admin_member_can_manage_questions(admin_member_client, unlocked_project):
    response = admin_member_client.post(
        _url("questions", unlocked_project), {"text": "From admin?", "priority": 1, "is_active": "on"}
    )
    assert response.status_code == 302
    assert unlocked_project.questions.filter(text="From admin?").exists()


BAD_INPUT = [
    ({"text": "", "priority": "1"}, "Write the question."),
    ({"text": "   \n\t  ", "priority": "1"}, "Write the question."),
    ({"text": "x" * 2001, "priority": "1"}, "Keep the question to 2000 characters (it has 2001)."),
    ({"text": "Fine?", "priority": "abc"}, "Priority must be a whole number"),
    ({"text": "Fine?", "priority": "1.5"}, "Priority must be a whole number"),
    ({"text": "Fine?", "priority": "1000001"}, "less than or equal to 1000000"),
    ({"text": "Fine?", "priority": "-1000001"}, "greater than or equal to -1000000"),
    ({"text": "Fine?", "priority": "99999999999999999999"}, "less than or equal to 1000000"),
    ({"text": "Fine?", "priority": ""}, "This field is required."),
]
BAD_IDS = [
    "empty",
    "whitespace",
    "huge",
    "priority-abc",
    "priority-float",
    "priority-high",
    "priority-low",
    "priority-overflow",
    "priority-missing",
]


@pytest.mark.parametrize(("data", "message"), BAD_INPUT, ids=BAD_IDS)
def test_add_question_bad_input_is_422_with_a_clear_message(owner_client, project, data, message):
    response = owner_client.post(_url("questions", project), {**data, "is_active": "on"})
    assert response.status_code == 422
    assert message in page_text(response)
    assert 'role="alert"' in response.content.decode()
    assert not Question.objects.exists()


@pytest.mark.parametrize(("data", "message"), BAD_INPUT, ids=BAD_IDS)
def test_edit_question_bad_input_is_422_and_changes_nothing(owner_client, project, data, message):
    question = QuestionFactory(project=project, text="Original?", priority=7)
    response = owner_client.post(_url("question_edit", project, question.pk), {**data, "is_active": "on"})
    assert response.status_code == 422
    assert message in page_text(response)
    question.refresh_from_db()
    assert (question.text, question.priority) == ("Original?", 7)


def test_text_of_exactly_2000_characters_is_accepted(owner_client, project):
    response = owner_client.post(_url("questions", project), {"text": "y" * 2000, "priority": "1000000"})
    assert response.status_code == 302
    assert len(Question.objects.get().text) == 2000


@pytest.mark.parametrize(
    ("active", "inactive", "expected"),
    [
        (0, 0, "0 active (10 needed) — 10 more to unlock API keys."),
        (7, 3, "7 active (10 needed) — 3 more to unlock API keys."),
        (9, 0, "9 active (10 needed) — 1 more to unlock API keys."),
        (10, 0, "10 active (10 needed) — API keys are unlocked."),
        (12, 2, "12 active (10 needed) — API keys are unlocked."),
    ],
)
def test_active_count_and_progress(owner_client, user, active, inactive, expected):
    project = ProjectFactory(owner=user, active_questions=active)
    QuestionFactory.create_batch(inactive, project=project, is_active=False)
    QuestionFactory.create_batch(3, is_active=True)  # other projects' questions never count
    assert expected in page_text(owner_client.get(_url("questions", project)))


def test_viewer_sees_questions_without_edit_controls(viewer_client, unlocked_project):
    response = viewer_client.get(_url("questions", unlocked_project))
    assert response.status_code == 200
    text = page_text(response)
    assert "Question 1?" in text
    assert "Add a question" not in text
    assert "Deactivate" not in text
