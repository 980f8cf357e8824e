"""The console-only middleware (sessions, CSRF, auth, messages, htmx) is passed by for `/api/`
requests (keys_console/console_middleware.py), and API clients see exactly the same responses."""

import json

import pytest
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import Client
from django_htmx.middleware import HtmxMiddleware

from tests.api.conftest import bearer, x_api_key

pytestmark = pytest.mark.django_db

STOCK = {
    "keys_console.console_middleware.ConsoleSessionMiddleware": "django.contrib.sessions.middleware.SessionMiddleware",
    "keys_console.console_middleware.ConsoleAuthenticationMiddleware": (
        "django.contrib.auth.middleware.AuthenticationMiddleware"
    ),
    "keys_console.console_middleware.ConsoleMessageMiddleware": "django.contrib.messages.middleware.MessageMiddleware",
    "keys_console.console_middleware.ConsoleHtmxMiddleware": "django_htmx.middleware.HtmxMiddleware",
}
CONSOLE_ONLY = (SessionMiddleware, AuthenticationMiddleware, MessageMiddleware, HtmxMiddleware)


def _boom(*args, **kwargs):
    raise AssertionError("console-only middleware ran for an /api/ request")


def test_settings_use_the_bypassing_classes(settings):
    assert set(STOCK) <= set(settings.MIDDLEWARE)
    assert not set(STOCK.values()) & set(settings.MIDDLEWARE)


def test_console_only_middleware_is_skipped_for_api_requests(key, monkeypatch):
    with monkeypatch.context() as patched:
        for cls in CONSOLE_ONLY:
            for hook in ("__call__", "process_request", "process_view", "process_response"):
                if hook in vars(cls):
                    patched.setattr(cls, hook, _boom)
        response = Client().get("/api/v1/key", headers=bearer(key))
    assert response.status_code == 200, response.content


def test_console_pages_still_get_sessions_csrf_and_the_user(client, user):
    client.force_login(user)
    response = client.get("/projects/")
    assert response.status_code == 200
    assert response.wsgi_request.user == user
    assert hasattr(response.wsgi_request, "htmx")
    assert "csrftoken" in response.cookies or "CSRF_COOKIE" in response.wsgi_request.META


def _requests(project, make_key):
    """(method, path, headers, body) for a spread of API answers: 200s, 201, 204, errors, docs."""

    def fresh():
        return make_key()

    q = project.questions.first()
    return [
        ("get", "/api/v1/key", bearer(fresh()), None),
        ("get", "/api/v1/key", x_api_key(fresh()), None),
        ("get", "/api/v1/questions?limit=3", bearer(fresh()), None),
        ("get", f"/api/v1/questions/{q.pk}", bearer(fresh()), None),
        ("post", "/api/v1/questions", bearer(fresh()), {"text": ""}),  # 400: invalid
        ("post", "/api/v1/next-question", bearer(fresh()), {"answered": [q.pk]}),
        ("get", "/api/v1/key", {"Authorization": "Bearer nbq_live_bad"}, None),  # malformed: 401
        ("get", "/api/v1/key", {}, None),  # no key: 401
        ("put", "/api/v1/key", bearer(fresh()), None),  # 405
        ("get", "/api/v1/nope", {}, None),  # 404
        ("get", "/api/v1/openapi.json", {}, None),
        ("get", "/api/v1/docs", {}, None),
        ("post", "/api/v1/questions", bearer(fresh()), {"text": "new one"}),  # last: it adds a question
    ]


def _answer(method, path, headers, body):
    kwargs = {"headers": headers}
    if body is not None:
        kwargs |= {"data": json.dumps(body), "content_type": "application/json"}
    response = getattr(Client(), method)(path, **kwargs)
    # The request id is new for every request; the same keys are used twice: one request fewer left.
    seen = {k: v for k, v in response.items() if k.lower() not in {"x-request-id", "x-ratelimit-remaining"}}
    seen["has X-RateLimit-Remaining"] = response.has_header("X-RateLimit-Remaining")
    cookies = {name: str(morsel) for name, morsel in response.cookies.items()}
    content = response.content
    if path == "/api/v1/questions" and method == "post" and response.status_code == 201:
        fresh = {"id", "created_at", "updated_at"}  # the new question's
        content = json.dumps({k: v for k, v in response.json().items() if k not in fresh}).encode()
    return response.status_code, seen, cookies, content


def test_api_responses_are_the_same_as_through_the_stock_middleware(settings, project, make_key, clock):
    requests = _requests(project, make_key)
    ours = [_answer(*request) for request in requests]
    project.questions.filter(text="new one").delete()  # the same questions for the second pass
    settings.MIDDLEWARE = [STOCK.get(name, name) for name in settings.MIDDLEWARE]
    stock = [_answer(*request) for request in requests]
    for got, expected, request in zip(ours, stock, requests, strict=True):
        assert got == expected, request[:2]
