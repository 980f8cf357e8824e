"""The questions' data path (api/question_queries.py): one statement per request, the exact JSON
of the schema-validated responses it replaced, a correct count past the end, no transaction."""

import json
from datetime import UTC, datetime

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from ninja.renderers import JSONRenderer

from api import question_queries
from api.schemas import QuestionOut
from projects.models import Question
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


def schema_json(question: Question) -> dict:
    """What django-ninja made of a Question before: QuestionOut, then its JSON renderer."""
    payload = QuestionOut.model_validate(question).model_dump()
    rendered = JSONRenderer().render(None, payload, response_status=200)  # type: ignore[arg-type]  # request unused
    return json.loads(rendered)


@pytest.fixture
def odd_questions(project):
    """Questions whose JSON is easy to get wrong: non-ASCII, a whole second, a far-future date."""
    return [
        Question.objects.create(
            project=project,
            text='Ça va? — 日本語 "quoted" \\ slash',
            priority=50,
            created_at=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        ),
        Question.objects.create(
            project=project,
            text="micro",
            priority=40,
            is_active=False,
            created_at=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        ),
    ]


def test_list_is_the_same_json_as_the_schema_made(client, key, project, odd_questions):
    response = client.get("/api/v1/questions?limit=200", headers=bearer(key))
    assert response.status_code == 200 and response["Content-Type"] == "application/json; charset=utf-8"
    expected = [schema_json(q) for q in Question.objects.filter(project=project).order_by("-priority", "id")]
    assert response.json() == {"items": expected, "count": len(expected)}
    # byte for byte: same separators, same \u escapes, same datetime format
    first = JSONRenderer().render(None, QuestionOut.model_validate(odd_questions[0]).model_dump(), response_status=200)
    assert first in response.content.decode()
    assert '"created_at": "2030-01-02T03:04:05Z"' in response.content.decode()
    assert '"created_at": "9999-12-31T23:59:59.999Z"' in response.content.decode()


def test_get_and_next_are_the_same_json_as_the_schema_made(client, key, odd_questions):
    question = odd_questions[0]
    response = client.get(f"/api/v1/questions/{question.pk}", headers=bearer(key))
    assert response.json() == schema_json(question)
    response = client.post(
        "/api/v1/next-question", {"answered": []}, content_type="application/json", headers=bearer(key)
    )
    assert response.json() == {"question": schema_json(question)}  # priority 50: the highest active


def test_count_past_the_end_is_the_projects_total(client, key, project):
    total = project.questions.count()
    for offset in (total - 1, total, total + 1, 1_000_000_000):
        body = client.get(f"/api/v1/questions?offset={offset}&limit=5", headers=bearer(key)).json()
        assert body["count"] == total
        assert len(body["items"]) == max(0, min(5, total - offset))


def test_count_of_a_project_without_questions_is_zero(other_project):
    other_project.questions.all().delete()
    assert json.loads(question_queries.list_page(other_project.pk, limit=10, offset=0)) == {"items": [], "count": 0}
    assert json.loads(question_queries.list_page(other_project.pk, limit=10, offset=20)) == {"items": [], "count": 0}


def test_pages_are_in_priority_order_and_never_another_projects(project, other_project):
    Question.objects.bulk_create(Question(project=project, text=f"tie {i}", priority=7) for i in range(5))
    expected = list(project.questions.order_by("-priority", "id").values_list("id", flat=True))
    seen = []
    for offset in range(0, len(expected), 4):
        seen += [q["id"] for q in json.loads(question_queries.list_page(project.pk, limit=4, offset=offset))["items"]]
    assert seen == expected
    theirs = other_project.questions.first()
    assert question_queries.get_question(project.pk, theirs.pk) is None


def test_next_question_skips_answered_and_inactive(project):
    active = list(project.questions.filter(is_active=True).order_by("-priority", "id"))
    first, second = active[0], active[1]
    first_inactive = Question.objects.create(project=project, text="hidden", priority=10**6, is_active=False)
    assert json.loads(question_queries.next_question(project.pk, set()))["question"]["id"] == first.pk
    assert json.loads(question_queries.next_question(project.pk, {first.pk}))["question"]["id"] == second.pk
    everything = {q.pk for q in active} | {first_inactive.pk}
    assert json.loads(question_queries.next_question(project.pk, everything)) == {"question": None}
    many = set(range(10**6, 10**6 + 10_000)) | {first.pk}  # the most the schema allows
    assert json.loads(question_queries.next_question(project.pk, many))["question"]["id"] == second.pk


@pytest.mark.parametrize(
    "path, method",
    [
        ("/api/v1/questions?limit=10", "get"),
        ("/api/v1/questions?offset=100", "get"),
        ("/api/v1/next-question", "post"),
        ("QUESTION", "get"),
    ],
)
def test_each_data_request_is_one_query(client, key, project, settings, django_assert_num_queries, path, method):
    settings.API_KEY_RECORD_CACHE_SECONDS = 10  # as with REDIS_URL: the key's record from the cache
    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200  # first use of the minute
    path = path.replace("QUESTION", f"/api/v1/questions/{project.questions.first().pk}")
    with django_assert_num_queries(1):
        if method == "get":
            response = client.get(path, headers=bearer(key))
        else:
            response = client.post(path, {"answered": [1, 2]}, content_type="application/json", headers=bearer(key))
    assert response.status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_data_request_is_one_statement_and_no_transaction_on_postgres(client, key, project, settings, monkeypatch):
    """What PostgreSQL sees, below Django's query log: no health-check `SELECT 1`, no BEGIN, one
    statement, sent in autocommit (one PostgreSQL transaction)."""
    settings.API_KEY_RECORD_CACHE_SECONDS = 10
    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200
    connection.close_if_unusable_or_obsolete()  # what Django does at the start of every request
    sent = []
    original = psycopg.Cursor.execute

    def recording(cursor, query, *args, **kwargs):
        sent.append((str(query), connection.in_atomic_block, cursor.connection.autocommit))
        return original(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", recording)
    with CaptureQueriesContext(connection):
        response = client.get("/api/v1/questions?limit=10", headers=bearer(key))
    assert response.status_code == 200 and response.json()["count"] == 12
    assert len(sent) == 1, sent
    sql, in_atomic, autocommit = sent[0]
    assert "COUNT(*)" in sql and "LIMIT" in sql
    assert not in_atomic and autocommit


@pytest.mark.postgres
def test_data_statements_are_prepared_once_per_connection_on_postgres(client, key, project):
    """Parameters are bound on the server and a statement run 5 times on a connection is prepared
    there (settings: `server_side_binding`, `prepare_threshold`): PostgreSQL parses and plans the
    list and next-question statements once per connection, not on every request."""
    for _ in range(6):
        assert client.get("/api/v1/questions?limit=10", headers=bearer(key)).status_code == 200
        response = client.post(
            "/api/v1/next-question", {"answered": [1]}, content_type="application/json", headers=bearer(key)
        )
        assert response.status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("COUNT(*)" in sql and "LIMIT" in sql for sql in prepared), prepared
    assert any("LIMIT 1" in sql and "<> ALL" in sql for sql in prepared), prepared
