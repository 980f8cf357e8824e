"""Authentication: header forms, the four 401 codes, status at the moment of use, security events."""

from datetime import timedelta

import pytest
from django.db import OperationalError

from keys import keygen
from keys.models import ApiKey
from keys.services import api_key_delete, api_key_revoke, api_key_rotate
from projects.actors import Actor
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.api.conftest import bearer, error_code, x_api_key

pytestmark = pytest.mark.django_db


def assert_401(response, code):
    assert response.status_code == 401, response.content
    assert error_code(response) == code
    assert response["WWW-Authenticate"] == "Bearer"
    assert "X-RateLimit-Limit" not in response  # not an authenticated response
    assert response.json()["error"]["message"]


@pytest.mark.parametrize(
    "headers",
    [
        bearer,
        x_api_key,
        lambda k: {"Authorization": f"bearer {k.plaintext}"},
        lambda k: {"Authorization": f"  Bearer   {k.plaintext}  "},
    ],
    ids=["bearer", "x-api-key", "lowercase-scheme", "extra-spaces"],
)
def test_both_header_forms_authenticate(client, key, headers):
    response = client.get("/api/v1/key", headers=headers(key))
    assert response.status_code == 200, response.content
    assert response.json()["id"] == key.key_id


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer    "},
        {"X-API-Key": ""},
        {"X-API-Key": "   "},
    ],
)
def test_missing_key(client, headers, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/api/v1/key", headers=headers)
    assert_401(response, "missing_api_key")


def test_malformed_and_bad_checksum_rejected_without_a_query(client, key, django_assert_num_queries):
    tampered = key.plaintext[:-1] + ("A" if key.plaintext[-1] != "A" else "B")
    for candidate in [
        "nope",
        "nbq_live_short",
        key.plaintext + "x",
        tampered,
        key.plaintext.upper(),
        key.plaintext.replace("nbq_live_", "nbq_prod_"),  # (nbq_test_ is a Sandbox's prefix: well-formed)
    ]:
        with django_assert_num_queries(0):
            response = client.get("/api/v1/key", headers=bearer(candidate))
        assert_401(response, "invalid_api_key")


def test_unknown_well_formed_key_costs_one_query(client, db, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/api/v1/key", headers=x_api_key(keygen.generate_key()))
    assert_401(response, "invalid_api_key")


def test_other_authorization_scheme(client, key):
    assert_401(client.get("/api/v1/key", headers={"Authorization": f"Basic {key.plaintext}"}), "invalid_api_key")
    # A proxy's own Authorization header does not hide a key sent as X-API-Key.
    response = client.get("/api/v1/key", headers={"Authorization": "Basic dXNlcjpwYXNz", **x_api_key(key)})
    assert response.status_code == 200


def test_deleted_key_is_unknown(client, key):
    api_key_delete(key=key, actor=Actor.cli())
    assert_401(client.get("/api/v1/key", headers=bearer(key)), "invalid_api_key")


def test_revocation_takes_effect_on_the_very_next_request(client, key):
    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200
    api_key_revoke(key=key, actor=Actor.cli())
    assert_401(client.get("/api/v1/key", headers=bearer(key)), "revoked_api_key")
    assert_401(client.get("/api/v1/questions", headers=x_api_key(key)), "revoked_api_key")


def test_expiry_at_the_boundary(client, make_key, clock):
    expires_at = clock.current + timedelta(days=7)
    key = make_key(expires_at=expires_at)
    clock.at(expires_at - timedelta(microseconds=1))
    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200
    clock.at(expires_at)
    assert_401(client.get("/api/v1/key", headers=bearer(key)), "expired_api_key")
    clock.advance(days=365)
    assert_401(client.get("/api/v1/key", headers=bearer(key)), "expired_api_key")


def test_revoked_wins_over_expired(client, make_key, clock):
    key = make_key(
        expires_at=clock.current - timedelta(days=1), state="revoked", revoked_at=clock.current - timedelta(days=2)
    )
    assert_401(client.get("/api/v1/key", headers=bearer(key)), "revoked_api_key")


def test_rotation_with_grace_period(client, project, make_key, clock):
    old = make_key(permissions=["read"])
    new, new_plaintext = api_key_rotate(key=old, actor=Actor.cli(), grace="1h")
    old.refresh_from_db()
    grace_end = old.stops_at

    clock.at(grace_end - timedelta(seconds=1))
    response = client.get("/api/v1/key", headers=bearer(old))
    assert response.status_code == 200
    assert response.json()["stops_at"].startswith(grace_end.strftime("%Y-%m-%dT%H:%M:%S"))
    assert client.get("/api/v1/questions", headers=bearer(old)).status_code == 200
    new_response = client.get("/api/v1/key", headers=bearer(new_plaintext))
    assert new_response.status_code == 200 and new_response.json()["stops_at"] is None
    assert new_response.json()["name"] == old.name

    clock.at(grace_end)
    assert_401(client.get("/api/v1/key", headers=bearer(old)), "revoked_api_key")
    assert client.get("/api/v1/key", headers=bearer(new_plaintext)).status_code == 200


def test_rotation_without_grace_stops_the_old_key_at_once(client, key):
    _, new_plaintext = api_key_rotate(key=key, actor=Actor.cli())
    assert_401(client.get("/api/v1/key", headers=bearer(key)), "revoked_api_key")
    assert client.get("/api/v1/key", headers=bearer(new_plaintext)).status_code == 200


@pytest.mark.parametrize(
    ("dead", "kind", "code"),
    [
        ("revoked", EventKind.REVOKED_KEY_USED, "revoked_api_key"),
        ("expired", EventKind.EXPIRED_KEY_USED, "expired_api_key"),
    ],
)
def test_dead_key_use_is_logged_once_per_hour(client, make_key, dead, kind, code):
    from django.utils import timezone

    past = timezone.now() - timedelta(minutes=1)
    key = make_key(**({"state": "revoked", "revoked_at": past} if dead == "revoked" else {"expires_at": past}))
    for _ in range(3):
        assert_401(client.get("/api/v1/key", headers=bearer(key), HTTP_USER_AGENT="attacker/1.0"), code)
    events = KeyEvent.objects.filter(key_id=key.key_id, kind=kind)
    assert events.count() == 1
    event = events.get()
    assert event.actor_label == "api" and event.ip == "127.0.0.1" and event.user_agent == "attacker/1.0"
    assert event.project_id == key.project_id and event.key_id == key.key_id


def test_dead_key_dedupe_falls_back_to_the_database_when_the_cache_is_down(client, make_key, monkeypatch):
    from django.utils import timezone

    key = make_key(state="revoked", revoked_at=timezone.now() - timedelta(minutes=1))

    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr("api.auth.cache.add", broken)
    for _ in range(3):
        assert_401(client.get("/api/v1/key", headers=bearer(key)), "revoked_api_key")
    assert KeyEvent.objects.filter(key_id=key.key_id, kind=EventKind.REVOKED_KEY_USED).count() == 1


def test_database_down_is_a_503(client, key, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(ApiKey.objects, "select_related", down)
    response = client.get("/api/v1/key", headers=bearer(key))
    assert response.status_code == 503
    assert error_code(response) == "service_unavailable"
    assert int(response["Retry-After"]) > 0
