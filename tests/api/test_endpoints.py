"""The endpoints of the contract's table: bodies, validation, pagination and project scope."""

import pytest
from django.core import mail

from keys.services import api_key_create
from projects.actors import Actor
from projects.models import Invitation, Membership, Question
from tests.api.conftest import bearer, error_code
from tests.factories import ProjectFactory, QuestionFactory, UserFactory

pytestmark = pytest.mark.django_db

QUESTION_FIELDS = {"id", "text", "priority", "is_active", "created_at", "updated_at"}
BIG = 2**70


def post(client, path, body, key, **kwargs):
    return client.post(path, body, content_type="application/json", headers=bearer(key), **kwargs)


def patch(client, path, body, key):
    return client.patch(path, body, content_type="application/json", headers=bearer(key))


def assert_400(response, *fields):
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid_request"
    for field in fields:
        assert field in response.json()["error"]["fields"], response.json()


# --- GET /key ----------------------------------------------------------------------------------
def test_key_introspection(client, make_key, project):
    key = make_key(permissions=["invite", "read"], rate_limit_per_minute=42)
    body = client.get("/api/v1/key", headers=bearer(key)).json()
    assert body["id"] == key.key_id and body["name"] == key.name
    assert body["project"] == {"slug": project.slug, "name": project.name}
    assert body["permissions"] == ["read", "invite"]
    assert body["created_at"] and body["expires_at"] is None and body["stops_at"] is None
    assert body["rate_limit_per_minute"] == 42
    assert key.plaintext not in str(body) and key.key_hash not in str(body)


# --- GET /questions ----------------------------------------------------------------------------
def test_list_questions_ordered_and_paginated(client, key, project, other_project):
    response = client.get("/api/v1/questions", headers=bearer(key))
    body = response.json()
    assert response.status_code == 200 and body["count"] == 12 and len(body["items"]) == 12
    assert set(body["items"][0]) == QUESTION_FIELDS
    priorities = [q["priority"] for q in body["items"]]
    assert priorities == sorted(priorities, reverse=True)
    assert {q["id"] for q in body["items"]} == set(project.questions.values_list("id", flat=True))

    page = client.get("/api/v1/questions?limit=5&offset=10", headers=bearer(key)).json()
    assert page["count"] == 12 and [q["id"] for q in page["items"]] == [q["id"] for q in body["items"][10:]]
    page = client.get("/api/v1/questions?limit=5&offset=5", headers=bearer(key)).json()
    assert page["count"] == 12 and len(page["items"]) == 5
    beyond = client.get("/api/v1/questions?offset=500", headers=bearer(key)).json()
    assert beyond == {"items": [], "count": 12}


def test_default_limit_is_50_and_max_200(client, key, project):
    Question.objects.bulk_create(Question(project=project, text=f"Q{i}") for i in range(250))
    assert len(client.get("/api/v1/questions", headers=bearer(key)).json()["items"]) == 50
    body = client.get("/api/v1/questions?limit=200", headers=bearer(key)).json()
    assert len(body["items"]) == 200 and body["count"] == 262


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "limit=-1", "limit=x", "offset=-1", "offset=x", f"offset={BIG}", f"limit={BIG}"]
)
def test_bad_pagination(client, key, query):
    assert_400(client.get(f"/api/v1/questions?{query}", headers=bearer(key)), query.split("=")[0])


# --- POST /questions ---------------------------------------------------------------------------
def test_create_question(client, key, project):
    response = post(client, "/api/v1/questions", {"text": "  Why?  ", "priority": -5, "is_active": False}, key)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == QUESTION_FIELDS
    assert (body["text"], body["priority"], body["is_active"]) == ("Why?", -5, False)
    assert Question.objects.get(pk=body["id"]).project == project


def test_create_question_defaults(client, key):
    body = post(client, "/api/v1/questions", {"text": "Why not?"}, key).json()
    assert (body["priority"], body["is_active"]) == (0, True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"text": 5}, "text"),
        ({"text": "ok", "priority": 1_000_001}, "priority"),
        ({"text": "ok", "priority": -1_000_001}, "priority"),
        ({"text": "ok", "priority": BIG}, "priority"),
        ({"text": "ok", "priority": "5"}, "priority"),
        ({"text": "ok", "priority": 1.5}, "priority"),
        ({"text": "ok", "priority": True}, "priority"),
        ({"text": "ok", "priority": 1e300}, "priority"),
        ({"text": "ok", "is_active": "yes"}, "is_active"),
        ({"text": "ok", "project": 1}, "project"),
        ([1, 2], "body"),
        ('"just a string"', "body"),
        ("42", "body"),
    ],
)
def test_create_question_validation(client, key, body, field):
    before = Question.objects.count()
    assert_400(post(client, "/api/v1/questions", body, key), field)
    assert Question.objects.count() == before


def test_text_of_2000_characters_is_fine(client, key):
    assert post(client, "/api/v1/questions", {"text": "x" * 2000, "priority": 1_000_000}, key).status_code == 201


def test_a_whole_number_may_be_written_as_a_float(client, key):
    """JSON Schema counts 7.0 as an integer; so do we (7.5 is refused above)."""
    assert post(client, "/api/v1/questions", {"text": "ok", "priority": 7.0}, key).json()["priority"] == 7


@pytest.mark.parametrize("raw", ["{bad json", "", "null", "\xff\xfe"])
def test_bad_json_body(client, key, raw):
    response = client.post("/api/v1/questions", raw, content_type="application/json", headers=bearer(key))
    assert response.status_code == 400
    assert error_code(response) == "invalid_request"


# --- GET / PATCH / DELETE /questions/{id} ------------------------------------------------------
def test_get_question(client, key, project):
    question = project.questions.first()
    body = client.get(f"/api/v1/questions/{question.pk}", headers=bearer(key)).json()
    assert body["id"] == question.pk and body["text"] == question.text


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_projects_question_is_not_found(client, key, other_project, method):
    foreign = other_project.questions.first()
    response = getattr(client, method)(
        f"/api/v1/questions/{foreign.pk}", {"text": "mine now"}, content_type="application/json", headers=bearer(key)
    )
    assert response.status_code == 404 and error_code(response) == "not_found"
    foreign.refresh_from_db()
    assert foreign.text != "mine now"


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
@pytest.mark.parametrize("question_id", ["999999", str(2**63 - 1), str(2**63), str(BIG), "0", "-1", "abc", "1.5"])
def test_unknown_and_out_of_range_ids(client, key, method, question_id):
    response = getattr(client, method)(
        f"/api/v1/questions/{question_id}", {"text": "x"}, content_type="application/json", headers=bearer(key)
    )
    assert response.status_code == 404, response.content
    assert error_code(response) == "not_found"


def test_patch_question_changes_only_what_is_sent(client, key, project):
    question = QuestionFactory(project=project, text="Before?", priority=3, is_active=True)
    body = patch(client, f"/api/v1/questions/{question.pk}", {"priority": 7}, key).json()
    assert (body["text"], body["priority"], body["is_active"]) == ("Before?", 7, True)
    body = patch(client, f"/api/v1/questions/{question.pk}", {"text": "After?", "is_active": False}, key).json()
    assert (body["text"], body["priority"], body["is_active"]) == ("After?", 7, False)
    question.refresh_from_db()
    assert (question.text, question.priority, question.is_active) == ("After?", 7, False)
    assert patch(client, f"/api/v1/questions/{question.pk}", {}, key).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": None}, "text"),
        ({"text": " "}, "text"),
        ({"priority": None}, "priority"),
        ({"priority": 2_000_000}, "priority"),
        ({"is_active": None}, "is_active"),
        ({"id": 5}, "id"),
    ],
)
def test_patch_validation(client, key, project, body, field):
    question = project.questions.first()
    assert_400(patch(client, f"/api/v1/questions/{question.pk}", body, key), field)


def test_delete_question(client, key, project):
    question = project.questions.first()
    response = client.delete(f"/api/v1/questions/{question.pk}", headers=bearer(key))
    assert response.status_code == 204 and response.content == b""
    assert not Question.objects.filter(pk=question.pk).exists()
    assert client.get(f"/api/v1/questions/{question.pk}", headers=bearer(key)).status_code == 404
    assert client.delete(f"/api/v1/questions/{question.pk}", headers=bearer(key)).status_code == 404


# --- POST /next-question -----------------------------------------------------------------------
def test_next_question(client, key, project):
    project.questions.all().delete()
    low = QuestionFactory(project=project, priority=1)
    tie_first = QuestionFactory(project=project, priority=5)
    tie_second = QuestionFactory(project=project, priority=5)
    QuestionFactory(project=project, priority=99, is_active=False)

    def next_after(answered):
        response = post(client, "/api/v1/next-question", {"answered": answered}, key)
        assert response.status_code == 200, response.content
        question = response.json()["question"]
        return question and question["id"]

    assert next_after([]) == tie_first.pk
    assert next_after([tie_first.pk]) == tie_second.pk
    assert next_after([tie_first.pk, tie_second.pk, 2**63 - 1, BIG, -5, 0]) == low.pk
    assert next_after([tie_first.pk, tie_second.pk, low.pk]) is None
    body = post(client, "/api/v1/next-question", {"answered": []}, key).json()
    assert set(body["question"]) == QUESTION_FIELDS


def test_next_question_without_body_means_nothing_answered(client, key, project):
    response = client.post("/api/v1/next-question", "", content_type="application/json", headers=bearer(key))
    assert response.request.get("CONTENT_LENGTH", "0") in (0, "0")
    assert response.status_code == 200
    assert response.json()["question"]["id"] == project.questions.filter(is_active=True).first().pk


def test_next_question_never_returns_another_projects_question(client, key, project, other_project):
    QuestionFactory(project=other_project, priority=1_000_000)
    answered = list(project.questions.values_list("id", flat=True))
    assert post(client, "/api/v1/next-question", {"answered": answered}, key).json() == {"question": None}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"answered": list(range(10_001))}, "answered"),
        ({"answered": "1,2"}, "answered"),
        ({"answered": [1, "x"]}, "answered.1"),
        ({"answered": [False]}, "answered.0"),
        ({"answered": ["1"]}, "answered.0"),
        ({"answered": [1.5]}, "answered.0"),
        ({"answered": [1], "extra": 1}, "extra"),
        ([1], "body"),
    ],
)
def test_next_question_validation(client, key, body, field):
    assert_400(post(client, "/api/v1/next-question", body, key), field)


def test_next_question_accepts_10000_answered_ids(client, key):
    assert post(client, "/api/v1/next-question", {"answered": list(range(1, 10_001))}, key).status_code == 200


# --- POST /invitations -------------------------------------------------------------------------
def test_invitation(client, key, project):
    response = post(client, "/api/v1/invitations", {"email": " Ada@Example.com ", "role": "viewer"}, key)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "email", "role", "status", "created_at", "expires_at"}
    assert (body["email"], body["role"], body["status"]) == ("ada@example.com", "viewer", "pending")
    invitation = Invitation.objects.get(pk=body["id"])
    assert (
        invitation.project == project and invitation.invited_via_key_id == key.key_id and invitation.invited_by is None
    )
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada@example.com"]
    assert key.plaintext not in mail.outbox[0].body


def test_invitation_role_defaults_to_viewer(client, key):
    assert post(client, "/api/v1/invitations", {"email": "v@example.com"}, key).json()["role"] == "viewer"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b@c"}, "email"),
        ({"email": "x" * 250 + "@example.com"}, "email"),
        ({"email": "a@example.com", "role": "owner"}, "role"),
        ({"email": "a@example.com", "role": "superuser"}, "role"),
    ],
)
def test_invitation_validation(client, key, body, field):
    assert_400(post(client, "/api/v1/invitations", body, key), field)
    assert not Invitation.objects.exists()


def test_no_second_pending_invitation_and_none_to_members_409_conflict(client, key, project):
    assert post(client, "/api/v1/invitations", {"email": "ada@example.com"}, key).status_code == 201
    again = post(client, "/api/v1/invitations", {"email": "ADA@example.com"}, key)
    assert again.status_code == 409 and error_code(again) == "conflict"
    assert again.json()["error"]["fields"] == {"email": "An invitation to this address is already pending."}
    member = UserFactory(email="member@example.com")
    Membership.objects.create(project=project, user=member, role="viewer")
    joined = post(client, "/api/v1/invitations", {"email": "member@example.com"}, key)
    assert joined.status_code == 409 and error_code(joined) == "conflict"
    assert Invitation.objects.count() == 1


# --- the rest of the URL space -----------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/", "/api/v1/key/", "/api/v1/questions/1/extra"])
def test_unknown_path_is_a_json_404(client, key, path):
    response = client.get(path, headers=bearer(key))
    assert response.status_code == 404 and error_code(response) == "not_found"


def test_wrong_method_is_a_json_405(client, key):
    response = client.put("/api/v1/key", headers=bearer(key))
    assert response.status_code == 405 and error_code(response) == "method_not_allowed"
    assert response["Allow"] == "GET"


def test_unexpected_error_is_a_json_500(client, key, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr("api.question_queries.list_page", boom)
    response = client.get("/api/v1/questions", headers=bearer(key))
    assert response.status_code == 500 and error_code(response) == "server_error"
    assert "bug" not in response.content.decode()
    assert response["X-RateLimit-Limit"] == "600"


@pytest.mark.parametrize("path", ["/api/v1/questions", "/api/v1/projects/{slug}/questions"])
def test_text_over_the_limit_is_refused_as_sent_even_if_stripping_would_shorten_it(client, path):
    """Found by schemathesis: 2,001 characters starting with \\x1f were stripped to 2,000 and accepted,
    although the OpenAPI document says maxLength 2000 (a schema-violating request accepted)."""
    project = ProjectFactory(owner=UserFactory(), active_questions=10)
    _, plaintext = api_key_create(project=project, name="t", actor=Actor.cli(), permissions=["create"])
    url = path.format(slug=project.slug)
    headers = {"Authorization": f"Bearer {plaintext}"}
    too_long = client.post(url, {"text": "\x1f" + "a" * 2000}, content_type="application/json", headers=headers)
    assert too_long.status_code == 400
    assert too_long.json()["error"]["code"] == "invalid_request"
    assert "text" in too_long.json()["error"]["fields"]
    fits = client.post(url, {"text": "\x1f" + "a" * 1999}, content_type="application/json", headers=headers)
    assert fits.status_code == 201
    assert fits.json()["text"] == "a" * 1999
