"""Fixtures of the runtime API tests: keys with chosen permissions, a controllable clock,
and a clean slate of process-global API state (usage buffer, rate-limit breaker) per test."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from api import ratelimit, usage
from tests.factories import ApiKeyFactory, ProjectFactory

ALL_PERMISSIONS = ["create", "read", "write", "delete", "invite"]


@pytest.fixture(autouse=True)
def _clean_api_state(settings):
    settings.API_USAGE_FLUSH_SECONDS = 3600  # tests flush explicitly with usage.flush_usage()
    usage.discard_pending()
    ratelimit.reset_state()
    yield
    usage.discard_pending()
    ratelimit.reset_state()


class Clock:
    """Stands in for `api.clock.now`: frozen at the real time it was made, then moved by hand
    (`clock.at(t)`, `clock.advance(seconds=…)`, `clock.mid_window()`)."""

    def __init__(self, start: datetime):
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def at(self, when: datetime) -> "Clock":
        self.current = when
        return self

    def advance(self, **delta) -> "Clock":
        self.current += timedelta(**delta)
        return self

    def mid_window(self) -> "Clock":
        """Second 30 of the current minute: 30 s left in the rate-limit window."""
        self.current = self.current.replace(second=30, microsecond=0)
        return self


@pytest.fixture
def clock(monkeypatch):
    c = Clock(timezone.now())
    monkeypatch.setattr("api.clock.now", c)
    return c


@pytest.fixture
def project(db):
    return ProjectFactory(active_questions=12)


@pytest.fixture
def other_project(db):
    return ProjectFactory(active_questions=3)


@pytest.fixture
def make_key(project):
    def make(permissions=None, **kwargs):
        kwargs.setdefault("project", project)
        return ApiKeyFactory(permissions=permissions or ALL_PERMISSIONS, **kwargs)

    return make


@pytest.fixture
def key(make_key):
    return make_key()


def bearer(key_or_plaintext) -> dict:
    return {"Authorization": f"Bearer {getattr(key_or_plaintext, 'plaintext', key_or_plaintext)}"}


def x_api_key(key_or_plaintext) -> dict:
    return {"X-API-Key": getattr(key_or_plaintext, "plaintext", key_or_plaintext)}


def error_code(response) -> str:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return response.json()["error"]["code"]
