"""Redis unreachable, in-process (runs on SQLite too): the rate limiter and the login throttle fail
open — requests are served, logins work, nothing answers 500. Authentication is never skipped."""

import pytest
from django.urls import reverse

from api import ratelimit
from keys.services import api_key_create, api_key_revoke
from projects.actors import Actor
from tests.factories import PASSWORD

from . import live

pytestmark = pytest.mark.django_db


@pytest.fixture
def dead_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{live.free_port()}/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    ratelimit.reset_state()
    yield
    ratelimit.reset_state()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Overrides the suite's autouse cache.clear(): it would fail against the dead cache."""
    yield


def test_login_works_while_the_cache_is_down(client, user, dead_cache):
    wrong = client.post(reverse("account_login"), {"login": user.email, "password": "nope"})
    assert wrong.status_code == 200
    assert b"are not correct" in wrong.content
    right = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert right.status_code == 302


def test_api_fails_open_but_still_authenticates(client, unlocked_project, dead_cache):
    key, plaintext = api_key_create(
        project=unlocked_project, name="k", permissions=["read"], actor=Actor.cli(), rate_limit_per_minute=2
    )
    headers = {"Authorization": f"Bearer {plaintext}"}
    statuses = [client.get("/api/v1/questions", headers=headers).status_code for _ in range(6)]
    assert statuses == [200] * 6
    api_key_revoke(key=key, actor=Actor.cli())
    refused = client.get("/api/v1/key", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "revoked_api_key"
