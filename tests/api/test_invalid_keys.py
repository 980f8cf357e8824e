"""Malformed keys are refused by api/invalid_keys.py before the session, CSRF, auth and message
middleware and before django-ninja, with exactly the answer the API itself gives; every other
request goes through unchanged."""

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client
from ninja.operation import Operation

from projects import keygen

pytestmark = pytest.mark.django_db

EARLY = "api.invalid_keys.RejectMalformedKeysMiddleware"


def _bad_checksum() -> str:
    body = keygen.generate_key()[len(keygen.PREFIX):]
    last = keygen.ALPHABET[(keygen.ALPHABET.index(body[-1]) + 1) % len(keygen.ALPHABET)]
    return keygen.PREFIX + body[:-1] + last


MALFORMED = ["nbq_live_this-is-not-a-key", "nbq_live_" + "a" * 31, " " + _bad_checksum() + " "]
SECURED = [("get", "/api/v1/key"), ("get", "/api/v1/questions"), ("post", "/api/v1/questions"),
           ("get", "/api/v1/questions/1"), ("patch", "/api/v1/questions/1"), ("delete", "/api/v1/questions/1"),
           ("post", "/api/v1/next-question"), ("post", "/api/v1/invitations")]


def _boom(*args, **kwargs):
    raise AssertionError("the request got past the early check")


def send(client: Client, method: str, path: str, headers: dict):
    kwargs = {"content_type": "application/json", "data": "{}"} if method in ("post", "patch") else {}
    return getattr(client, method)(path, headers=headers, **kwargs)


def answer(response) -> tuple:
    return response.status_code, response.content, sorted(response.headers.items())


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
    assert stack.index(EARLY) < stack.index("django.contrib.sessions.middleware.SessionMiddleware")
    assert stack.index(EARLY) > stack.index("django.middleware.security.SecurityMiddleware")  # HTTPS redirect first


@pytest.mark.parametrize("method, path", SECURED)
@pytest.mark.parametrize("scheme", ["bearer", "x-api-key", "basic+x-api-key"])
def test_malformed_key_is_answered_early_and_exactly_as_the_api_does(method, path, scheme, without_early_check,
                                                                      monkeypatch, django_assert_num_queries):
    for bad in MALFORMED:
        headers = {"bearer": {"Authorization": f"Bearer {bad}"}, "x-api-key": {"X-API-Key": bad},
                   "basic+x-api-key": {"Authorization": "Basic dXNlcjpwdw==", "X-API-Key": bad}}[scheme]
        expected = without_early_check(method, path, headers)
        assert expected[0] == 401 and b'"invalid_api_key"' in expected[1]
        with monkeypatch.context() as patched, django_assert_num_queries(0):
            patched.setattr(SessionMiddleware, "process_request", _boom)
            patched.setattr(Operation, "run", _boom)
            got = answer(send(Client(), method, path, headers))
        assert got == expected


@pytest.mark.parametrize("method, path, headers", [
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
])
def test_everything_else_goes_through_unchanged(method, path, headers, without_early_check):
    assert answer(send(Client(), method, path, headers)) == without_early_check(method, path, headers)


def test_a_valid_key_still_works(client):
    from tests.factories import ApiKeyFactory, ProjectFactory

    key = ApiKeyFactory(project=ProjectFactory(active_questions=10), permissions=["read"])
    assert client.get("/api/v1/key", headers={"Authorization": f"Bearer {key.plaintext}"}).status_code == 200


def test_malformed_keys_count_against_the_address_and_get_its_429(settings, clock, without_early_check,
                                                                    django_assert_num_queries):
    """The early answer keeps the per-address failure budget (API_AUTH_FAILURES_PER_MINUTE): each
    malformed key counts, and past the budget the answer is the API's 429, Retry-After included."""
    clock.mid_window()
    settings.API_AUTH_FAILURES_PER_MINUTE = 3
    headers = {"Authorization": "Bearer nbq_live_nonsense"}
    early = [send(Client(), "get", "/api/v1/key", headers) for _ in range(4)]
    assert [r.status_code for r in early] == [401, 401, 401, 429]
    assert early[3]["Retry-After"] == "30" and early[3].json()["error"]["code"] == "rate_limited"
    with django_assert_num_queries(0):
        assert answer(send(Client(), "get", "/api/v1/key", headers)) == without_early_check("get", "/api/v1/key",
                                                                                             headers)
    other = Client(REMOTE_ADDR="198.51.100.7")
    assert other.get("/api/v1/key", headers=headers).status_code == 401  # another address: its own budget
