"""Malformed keys are refused by api/invalid_keys.py before the session, CSRF, auth and message
middleware and before django-ninja, with exactly the answer the API itself gives; every other
request goes through unchanged."""

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client
from ninja.operation import Operation

from keys import keygen

pytestmark = pytest.mark.django_db

EARLY = "api.invalid_keys.RejectMalformedKeysMiddleware"


def _bad_checksum() -> str:
    body = keygen.generate_key()[len(keygen.PREFIX) :]
    last = keygen.ALPHABET[(keygen.ALPHABET.index(body[-1]) + 1) % len(keygen.ALPHABET)]
    return keygen.PREFIX + body[:-1] + last


MALFORMED = ["nbq_live_this-is-not-a-key", "nbq_live_" + "a" * 31, " " + _bad_checksum() + " "]
SECURED = [
    ("get", "/api/v1/key"),
    ("get", "/api/v1/questions"),
    ("post", "/api/v1/questions"),
    ("get", "/api/v1/questions/1"),
    ("patch", "/api/v1/questions/1"),
    ("delete", "/api/v1/questions/1"),
    ("post", "/api/v1/next-question"),
    ("post", "/api/v1/invitations"),
]


def _boom(*args, **kwargs):
    raise AssertionError("the request got past the early check")


def send(client: Client, method: str, path: str, headers: dict):
    kwargs = {"content_type": "application/json", "data": "{}"} if method in ("post", "patch") else {}
    return getattr(client, method)(path, headers=headers, **kwargs)


def answer(response) -> tuple:
    # Every response has its own request id; everything else must be byte-identical.
    headers = sorted((k, v) for k, v in response.headers.items() if k.lower() != "x-request-id")
    assert response.headers.get("X-Request-ID"), "the request id is set on early answers too"
    return response.status_code, response.content, headers


@pytest.fixture
def without_early_check(settings):
    """The API as it was: the same stack minus the early middleware."""
    full = list(settings.MIDDLEWARE)

    def run(method, path, headers):
        settings.MIDDLEWARE = [m for m in full if m != EARLY]
        try:
            return answer(send(Client(), method, path, headers))
        finally:
            settings.MIDDLEWARE = full

    return run


def test_early_middleware_sits_before_the_session_and_auth_middleware():
    stack = django_settings.MIDDLEWARE
    assert stack.index(EARLY) < stack.index("keys_console.console_middleware.ConsoleSessionMiddleware")
    assert stack.index(EARLY) > stack.index("django.middleware.security.SecurityMiddleware")  # HTTPS redirect first


@pytest.mark.parametrize("method, path", SECURED)
@pytest.mark.parametrize("scheme", ["bearer", "x-api-key", "basic+x-api-key"])
def test_malformed_key_is_answered_early_and_exactly_as_the_api_does(
    method, path, scheme, without_early_check, monkeypatch, django_assert_num_queries
):
    for bad in MALFORMED:
        headers = {
            "bearer": {"Authorization": f"Bearer {bad}"},
            "x-api-key": {"X-API-Key": bad},
            "basic+x-api-key": {"Authorization": "Basic dXNlcjpwdw==", "X-API-Key": bad},
        }[scheme]
        expected = without_early_check(method, path, headers)
        assert expected[0] == 401 and b'"invalid_api_key"' in expected[1]
        with monkeypatch.context() as patched, django_assert_num_queries(0):
            patched.setattr(SessionMiddleware, "process_request", _boom)
            patched.setattr(Operation, "run", _boom)
            got = answer(send(Client(), method, path, headers))
        assert got == expected


@pytest.mark.parametrize(
    "method, path, headers",
    [
        ("get", "/api/v1/openapi.json", {"Authorization": "Bearer nbq_live_bad"}),  # no key needed: 200
        ("get", "/api/v1/docs", {"X-API-Key": "nbq_live_bad"}),
        ("get", "/api/v1/nope", {"Authorization": "Bearer nbq_live_bad"}),  # unknown path: 404
        ("put", "/api/v1/key", {"Authorization": "Bearer nbq_live_bad"}),  # wrong method: 405
        ("get", "/api/v1/questions/abc", {"Authorization": "Bearer nbq_live_bad"}),  # not a route: 404
        ("get", "/api/v1/key", {"Authorization": f"Bearer {keygen.generate_key()}"}),  # well-formed, unknown
        ("get", "/api/v1/key", {}),  # no key
        ("get", "/api/v1/key", {"Authorization": "Bearer   "}),  # empty key
        ("get", "/api/v1/key", {"Authorization": "Basic nbq_live_bad"}),  # another scheme
        ("get", "/api/v1/key", {"X-API-Key": ""}),
    ],
)
def test_everything_else_goes_through_unchanged(method, path, headers, without_early_check):
    assert answer(send(Client(), method, path, headers)) == without_early_check(method, path, headers)


def test_a_valid_key_still_works(client):
    from tests.factories import ApiKeyFactory, ProjectFactory

    key = ApiKeyFactory(project=ProjectFactory(active_questions=10), permissions=["read"])
    assert client.get("/api/v1/key", headers={"Authorization": f"Bearer {key.plaintext}"}).status_code == 200


def test_malformed_keys_cost_no_cache_round_trip_and_do_not_use_the_address_budget(
    settings, clock, monkeypatch, django_assert_num_queries
):
    """Refusing a malformed key touches neither the database nor the cache, so it is not counted
    against the client address's failed-authentication budget: made-up well-formed keys still
    are, and past that budget they get 429 while a malformed key still gets its 401."""
    from api import keycache

    clock.mid_window()
    settings.API_AUTH_FAILURES_PER_MINUTE = 3
    malformed = {"Authorization": "Bearer nbq_live_nonsense"}

    def no_cache(*args, **kwargs):
        raise AssertionError("a malformed key reached the cache")

    with monkeypatch.context() as patched, django_assert_num_queries(0):
        patched.setattr(keycache, "count_failure", no_cache)
        patched.setattr(keycache, "fetch", no_cache)
        assert {send(Client(), "get", "/api/v1/key", malformed).status_code for _ in range(10)} == {401}
    for _ in range(3):  # made-up but well-formed keys: each costs a lookup and counts
        assert send(Client(), "get", "/api/v1/key", {"X-API-Key": keygen.generate_key()}).status_code == 401
    assert send(Client(), "get", "/api/v1/key", {"X-API-Key": keygen.generate_key()}).status_code == 429
    response = send(Client(), "get", "/api/v1/key", malformed)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


def test_a_well_formed_key_is_checked_once_per_request(client, key, monkeypatch):
    """The middleware's check serves api.auth too (the checksum is on every request's path)."""
    from keys import keygen

    calls = []
    real = keygen.is_well_formed
    monkeypatch.setattr(keygen, "is_well_formed", lambda candidate: calls.append(1) or real(candidate))
    assert client.get("/api/v1/key", headers={"Authorization": f"Bearer {key.plaintext}"}).status_code == 200
    assert len(calls) == 1
    calls.clear()  # the same key through the other header
    assert client.get("/api/v1/key", headers={"X-API-Key": key.plaintext}).status_code == 200
    assert len(calls) == 1


def test_the_routes_a_malformed_key_is_refused_on_are_worked_out_once_per_path(client, monkeypatch):
    """A client that keeps sending a malformed key to one path costs one URL resolution, not one
    per request; another path or method is worked out on its own (and still answered correctly)."""
    from api import invalid_keys

    invalid_keys._asks_for_a_key.cache_clear()
    resolved = []
    real = invalid_keys.resolve
    monkeypatch.setattr(invalid_keys, "resolve", lambda *args: resolved.append(args[0]) or real(*args))
    malformed = {"Authorization": "Bearer nbq_live_not-a-key"}
    for _ in range(3):
        assert send(Client(), "get", "/api/v1/key", malformed).status_code == 401
    assert resolved == ["/api/v1/key"]
    assert send(Client(), "post", "/api/v1/key", malformed).status_code == 405  # not a secured operation
    assert send(Client(), "get", "/api/v1/nowhere", malformed).status_code == 404
    assert resolved == ["/api/v1/key", "/api/v1/key", "/api/v1/nowhere"]
