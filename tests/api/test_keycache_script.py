"""The hot path's cache round trip is one Redis script (api.keycache.FETCH_SCRIPT): one command
sent, the same answers as the six commands it replaces, and it survives Redis forgetting it."""

import os

import pytest
import redis
import redis.connection
from django.utils import timezone

from api import keycache
from tests.api.conftest import bearer
from tests.api.test_ratelimit import _redis_reachable

pytestmark = pytest.mark.django_db

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/8")


@pytest.fixture
def on_redis(settings):
    if not _redis_reachable():
        pytest.skip("needs Redis on 127.0.0.1:6379")
    settings.API_KEY_RECORD_CACHE_SECONDS = 10
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": REDIS_URL, "KEY_PREFIX": "nbq-script-test"}}
    from django.core.cache import cache

    cache.clear()
    yield redis.Redis.from_url(REDIS_URL)
    cache.clear()


def test_fetch_is_one_command_with_the_pipelines_answers(on_redis, key, monkeypatch):
    keycache.fetch("0" * 64, timezone.now(), "192.0.2.9")  # connected, script loaded
    sent = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    now = timezone.now()
    first = keycache.fetch(key.key_hash, now, "192.0.2.1")
    second = keycache.fetch(key.key_hash, now, "192.0.2.1")
    assert len(sent) == 2 and all(b"EVALSHA" in b"".join(c if isinstance(c, list) else [c]) for c in sent)
    assert (first.record, first.count, first.first_use_this_minute, first.failures, first.known_key) == (
        None, 1, True, 0, False)
    assert (second.count, second.first_use_this_minute) == (2, False)
    keycache.remember(key.key_hash, keycache.record_of(key))
    keycache.count_failure("192.0.2.1", now)
    keycache.mark_known(key.key_hash)
    third = keycache.fetch(key.key_hash, now, "192.0.2.1")
    assert third.record == keycache.record_of(key) and third.failures == 1 and third.known_key and third.count == 3
    ttl = on_redis.ttl(on_redis.keys("*api:rl:*")[0])
    assert 0 < ttl <= keycache.WINDOW_SECONDS + 5  # the counter expires with its window


def test_a_redis_that_forgot_the_script_still_answers(on_redis, client, key):
    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200
    on_redis.script_flush()  # as after a Redis restart
    response = client.get("/api/v1/key", headers=bearer(key))
    assert response.status_code == 200 and response["X-RateLimit-Remaining"] == str(key.rate_limit - 2)
