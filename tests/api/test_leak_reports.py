"""POST /api/v1/leaked-keys: anyone reports keys found in public; live ones stop at once."""

import pytest
from django.core import mail

from keys import keygen
from keys.models.api_key import KeyState
from projects.models import KeyEvent, Membership, Role
from projects.models.event import EventKind
from tests.api.conftest import bearer, error_code
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "https://pastebin.example/raw/abc"


def report(client, body, **kwargs):
    return client.post("/api/v1/leaked-keys", body, content_type="application/json", **kwargs)


@pytest.fixture
def owner(project):
    person = UserFactory()
    Membership.objects.create(project=project, user=person, role=Role.OWNER)
    return person


def test_mix_of_real_and_made_up_keys_answers_202_and_revokes_the_real_ones(
    client, make_key, owner, django_capture_on_commit_callbacks
):
    real, other_real, untouched = make_key(), make_key(), make_key()
    assert client.get("/api/v1/key", headers=bearer(real)).status_code == 200  # cached record, if any
    made_up = [keygen.generate_key(), "nbq_live_" + "x" * 32, "hello"]
    with django_capture_on_commit_callbacks(execute=True):
        response = report(client, {"keys": [real.plaintext, *made_up, other_real.plaintext], "url": URL})
    assert response.status_code == 202 and response.json() == {"received": 5}
    for key in (real, other_real):
        key.refresh_from_db()
        assert key.state == KeyState.REVOKED
        refused = client.get("/api/v1/key", headers=bearer(key))
        assert refused.status_code == 401 and error_code(refused) == "revoked_api_key"
    untouched.refresh_from_db()
    assert untouched.state == KeyState.ACTIVE
    events = KeyEvent.objects.filter(kind=EventKind.LEAKED)
    assert {e.key_id for e in events} == {real.key_id, other_real.key_id}
    assert all(e.details["found_at"] == URL and e.ip == "127.0.0.1" for e in events)
    assert len(mail.outbox) == 2 and all(m.to == [owner.email] for m in mail.outbox)


def test_all_made_up_keys_get_the_same_answer(client, key, owner):
    response = report(client, {"keys": [keygen.generate_key() for _ in range(5)], "url": URL})
    assert response.status_code == 202 and response.json() == {"received": 5}
    key.refresh_from_db()
    assert key.state == KeyState.ACTIVE
    assert not KeyEvent.objects.exists() and not mail.outbox


def test_no_key_needed_and_a_malformed_auth_header_is_ignored(client, key):
    response = report(client, {"keys": [key.plaintext]}, headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 202
    key.refresh_from_db()
    assert key.state == KeyState.REVOKED


@pytest.mark.parametrize(
    "body",
    [
        {"keys": []},
        {"keys": ["nbq_live_x"] * 101},
        {"keys": "nbq_live_x"},
        {"keys": [1, 2]},
        {"url": URL},
        {"keys": ["k"], "url": "x" * 2001},
        {"keys": ["k"], "other": 1},
        [],
        "text",
    ],
)
def test_invalid_body_is_400_invalid_request(client, body):
    response = report(client, body)
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid_request"


def test_not_json_is_400(client):
    response = client.post("/api/v1/leaked-keys", "{nope", content_type="application/json")
    assert response.status_code == 400 and error_code(response) == "invalid_request"


def test_reports_are_limited_per_address(client, settings):
    settings.LEAK_REPORTS_PER_MINUTE = 2
    body = {"keys": [keygen.generate_key()], "url": URL}
    assert [report(client, body).status_code for _ in range(2)] == [202, 202]
    limited = report(client, body)
    assert limited.status_code == 429 and error_code(limited) == "rate_limited"
    assert int(limited["Retry-After"]) >= 1
    other_address = report(client, body, REMOTE_ADDR="198.51.100.9")
    assert other_address.status_code == 202


def test_in_the_openapi_document_without_security(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    operation = paths["/api/v1/leaked-keys"]["post"]
    assert not operation.get("security")
    assert "202" in operation["responses"]
    assert "/api/v1/projects/{slug}/leaked-keys" not in paths
