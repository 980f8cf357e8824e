"""After generate, rotate and revoke through the console, the full key is nowhere it could leak:
no database row (of any model), no log line (SQL included), no session, no cache entry, no later page."""

import logging
import pickle

import pytest
from django.apps import apps
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.urls import reverse

from keys.models import ApiKey
from projects.sandbox import sandbox_create
from tests.helpers import HX, KEY_IN_TEXT, revealed_key
from tests.urls import project_url

pytestmark = pytest.mark.django_db


def _all_rows_as_text() -> str:
    """Every row of every table of every installed model, as text (raw values, not model methods)."""
    chunks = []
    for model in apps.get_models(include_auto_created=True):
        for row in model._base_manager.values():
            chunks.append(f"{model._meta.label} {row!r}")
    return "\n".join(chunks)


def _session_text() -> str:
    return "\n".join(repr(s.get_decoded()) for s in Session.objects.all())


def _cache_text() -> str | None:
    """Every key and value in the cache; None when it cannot be listed (not the local-memory cache)."""
    cache = caches["default"]
    if not isinstance(cache, LocMemCache):
        return None
    chunks = []
    for name, value in list(cache._cache.items()):  # type: ignore[attr-defined]  # LocMemCache's store
        chunks.append(repr(name))
        try:
            chunks.append(repr(pickle.loads(value)))
        except Exception:  # pragma: no cover - value not a pickle: search its bytes
            chunks.append(repr(value))
    return "\n".join(chunks)


@pytest.fixture
def everything_logged(caplog, settings):
    """Capture every log record at DEBUG, SQL statements with their parameters included."""
    settings.DEBUG = True  # the database backend logs queries (with params) only with DEBUG on
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    caplog.set_level(logging.DEBUG, logger="django.request")
    return caplog


def _leaks(text: str, secrets: list[str]) -> list[str]:
    found = []
    for secret in secrets:
        for needle in (secret, secret[len("nbq_live_") :], secret[len("nbq_live_") : -4]):
            if needle in text:
                found.append(needle)
    return found


@pytest.mark.parametrize("kind", ["live", "sandbox"])
def test_the_key_is_nowhere_after_generate_rotate_and_revoke(
    owner_client, user, unlocked_project, everything_logged, admin_client, kind
):
    # a real project's live keys, and a Sandbox's test keys (nbq_test_)
    project = unlocked_project if kind == "live" else sandbox_create(user=user)
    caches["default"].set("cache-probe", "cache-probe-value")
    url = lambda name, *a: project_url(name, args=[project.slug, *a])  # noqa: E731

    # generate (htmx) and generate (plain post), rotate both ways, revoke, delete
    first = revealed_key(
        owner_client.post(url("key_new"), {"name": "web", "permissions": ["read", "write"], "expiration": "30"}, **HX)
    )
    second = revealed_key(
        owner_client.post(url("key_new"), {"name": "batch", "permissions": ["read"], "expiration": "never"})
    )
    web = ApiKey.objects.get(name="web")
    batch = ApiKey.objects.get(name="batch")
    third = revealed_key(owner_client.post(url("key_rotate", web.key_id), {"grace": "24h"}, **HX))
    fourth = revealed_key(owner_client.post(url("key_rotate", batch.key_id), {"grace": ""}))
    web2 = ApiKey.objects.get(rotated_from=web)
    assert owner_client.post(url("key_revoke", web.key_id), **HX).status_code == 200
    assert owner_client.post(url("key_revoke", web2.key_id)).status_code == 302
    batch2 = ApiKey.objects.get(rotated_from=batch)
    assert owner_client.post(url("key_delete", batch.key_id), **HX).status_code == 200
    secrets = [first, second, third, fourth]
    assert len(set(secrets)) == 4
    assert all(s.startswith("nbq_test_" if kind == "sandbox" else "nbq_live_") for s in secrets)

    # the pages one visits afterwards (which also consume any flash messages)
    later = [
        owner_client.get(url("api_keys")),
        owner_client.get(url("api_keys"), **HX),
        owner_client.get(url("key_detail", web2.key_id)),
        owner_client.get(url("key_detail", batch2.key_id), **HX),
        owner_client.get(url("events")),
        admin_client.get(reverse("admin:keys_apikey_changelist")),
        admin_client.get(reverse("admin:projects_keyevent_changelist")),
        admin_client.get(reverse("admin:keys_apikey_change", args=[batch2.pk])),
    ]
    for response in later:
        assert response.status_code == 200
        assert not KEY_IN_TEXT.search(response.content.decode())
        assert not _leaks(response.content.decode(), secrets)
        for cookie in response.cookies.values():
            assert not _leaks(cookie.value, secrets)

    # the database: every row of every model (the sessions table included, decoded below)
    rows = _all_rows_as_text()
    assert "keys.ApiKey" in rows and "projects.KeyEvent" in rows  # we really looked
    assert web.key_id in rows
    assert _leaks(rows, secrets) == []
    assert not KEY_IN_TEXT.search(rows)

    # the sessions, decoded
    sessions = _session_text()
    assert "_auth_user_id" in sessions
    assert _leaks(sessions, secrets) == []

    # the cache
    cached = _cache_text()
    if cached is not None:
        assert "cache-probe-value" in cached  # we really looked
        assert _leaks(cached, secrets) == []

    # the logs, including every SQL statement with its parameters
    records = everything_logged.records
    sql = [r for r in records if r.name == "django.db.backends"]
    assert any("INSERT INTO" in r.getMessage() and "keys_apikey" in r.getMessage() for r in sql), (
        "SQL was not captured: the test would prove nothing"
    )
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {getattr(r, 'params', '')!r}" for r in records)
    logged += "\n" + everything_logged.text
    assert _leaks(logged, secrets) == []
    assert not KEY_IN_TEXT.search(logged)
    # ...while the hashes do appear in the SQL log: proof that parameters were logged
    assert web.key_hash in logged


def test_the_key_never_enters_a_url(owner_client, unlocked_project):
    response = owner_client.post(
        reverse("project_keys:key_new", args=[unlocked_project.slug]),
        {"name": "web", "permissions": ["read"], "expiration": "7"},
    )
    assert response.status_code == 200  # the reveal is the response itself, not a redirect to it
    assert "Location" not in response
    plaintext = revealed_key(response)
    assert plaintext not in response.request["PATH_INFO"] + response.request.get("QUERY_STRING", "")
    # the reveal page sends no Referer to other origins
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]


def test_reveal_response_is_not_cached_and_marks_the_view_sensitive(owner_client, unlocked_project):
    from keys.views import keys

    for view in (keys.key_new, keys.key_rotate):
        wrapped = view
        names = set()
        while wrapped is not None:
            names |= set(getattr(wrapped, "sensitive_variables", ()) or ())
            wrapped = getattr(wrapped, "__wrapped__", None)
        assert "plaintext" in names, view
