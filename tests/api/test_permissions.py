"""Each endpoint needs its permission (and only that one); GET /key needs none in particular."""

import pytest

from tests.api.conftest import ALL_PERMISSIONS, bearer, error_code

pytestmark = pytest.mark.django_db

# (method, path, JSON body, required permission, success status); {q} is a question of the key's project.
ENDPOINTS: list[tuple[str, str, dict | None, str, int]] = [
    ("get", "/api/v1/questions", None, "read", 200),
    ("post", "/api/v1/questions", {"text": "New?"}, "create", 201),
    ("get", "/api/v1/questions/{q}", None, "read", 200),
    ("patch", "/api/v1/questions/{q}", {"priority": 3}, "write", 200),
    ("delete", "/api/v1/questions/{q}", None, "delete", 204),
    ("post", "/api/v1/next-question", {"answered": []}, "read", 200),
    ("post", "/api/v1/invitations", {"email": "new@example.com", "role": "viewer"}, "invite", 201),
]
IDS = [f"{method.upper()} {path}" for method, path, *_ in ENDPOINTS]


def call(client, key, project, method, path, body):
    path = path.format(q=project.questions.first().pk)
    if body is None:
        return getattr(client, method)(path, headers=bearer(key))
    return getattr(client, method)(path, body, content_type="application/json", headers=bearer(key))


@pytest.mark.parametrize(("method", "path", "body", "permission", "status"), ENDPOINTS, ids=IDS)
def test_the_required_permission_alone_is_enough(client, make_key, project, method, path, body, permission, status):
    key = make_key(permissions=[permission])
    response = call(client, key, project, method, path, body)
    assert response.status_code == status, response.content


@pytest.mark.parametrize(("method", "path", "body", "permission", "status"), ENDPOINTS, ids=IDS)
def test_every_other_permission_is_not_enough(client, make_key, project, method, path, body, permission, status):
    key = make_key(permissions=[p for p in ALL_PERMISSIONS if p != permission])
    before = project.questions.count(), project.invitations.count()
    response = call(client, key, project, method, path, body)
    assert response.status_code == 403, response.content
    assert error_code(response) == "insufficient_permission"
    assert permission in response.json()["error"]["message"]
    assert response["X-RateLimit-Limit"] and response["X-RateLimit-Remaining"]
    assert (project.questions.count(), project.invitations.count()) == before


@pytest.mark.parametrize("permission", ALL_PERMISSIONS)
def test_key_introspection_works_with_any_permission(client, make_key, permission):
    key = make_key(permissions=[permission])
    response = client.get("/api/v1/key", headers=bearer(key))
    assert response.status_code == 200 and response.json()["permissions"] == [permission]


def test_permission_is_checked_before_the_object_is_looked_up(client, make_key, other_project):
    """A key without "read" learns nothing, not even whether an id exists (403 either way)."""
    key = make_key(permissions=["create"])
    foreign = other_project.questions.first().pk
    for question_id in (foreign, 999_999):
        response = client.get(f"/api/v1/questions/{question_id}", headers=bearer(key))
        assert response.status_code == 403
