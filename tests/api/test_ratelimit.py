"""Per-key rate limits: the fixed one-minute window, headers, 429, override, events, failing open."""

import pytest

from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.api.conftest import bearer, error_code

pytestmark = pytest.mark.django_db


def window_end(clock) -> int:
    return int(clock.current.timestamp()) // 60 * 60 + 60


def get_key(client, key):
    return client.get("/api/v1/key", headers=bearer(key))


def test_the_601st_request_of_a_minute_is_refused_with_the_default_limit(client, key, clock):
    clock.mid_window()
    for n in range(1, 601):
        response = get_key(client, key)
        assert response.status_code == 200, (n, response.content)
    assert response["X-RateLimit-Limit"] == "600" and response["X-RateLimit-Remaining"] == "0"

    response = get_key(client, key)
    assert response.status_code == 429
    assert error_code(response) == "rate_limited"
    assert response["Retry-After"] == "30"
    assert response["X-RateLimit-Limit"] == "600"
    assert response["X-RateLimit-Remaining"] == "0"
    assert response["X-RateLimit-Reset"] == str(window_end(clock))
    assert "WWW-Authenticate" not in response


def test_low_limit_window_and_headers(client, make_key, clock):
    key = make_key(rate_limit_per_minute=3)
    clock.mid_window().advance(seconds=15)  # second 45: 15 s left
    remaining = [get_key(client, key)["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    for _ in range(3):
        response = get_key(client, key)
        assert response.status_code == 429
        assert (response["Retry-After"], response["X-RateLimit-Remaining"]) == ("15", "0")
        assert response["X-RateLimit-Reset"] == str(window_end(clock))
    # Only the first 429 of the window is an event.
    events = KeyEvent.objects.filter(key_id=key.key_id, kind=EventKind.RATE_LIMITED)
    assert events.count() == 1 and events.get().actor_label == "api"

    clock.advance(seconds=15)  # the next window
    response = get_key(client, key)
    assert response.status_code == 200 and response["X-RateLimit-Remaining"] == "2"
    for _ in range(3):
        get_key(client, key)
    assert events.count() == 2  # one more for the new window


def test_per_key_override_and_default_from_settings(client, make_key, clock, settings):
    settings.API_KEY_RATE_LIMIT_PER_MINUTE = 4
    clock.mid_window()
    limited, default = make_key(rate_limit_per_minute=2), make_key()
    assert [get_key(client, limited).status_code for _ in range(3)] == [200, 200, 429]
    statuses = [get_key(client, default).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    assert get_key(client, default)["X-RateLimit-Limit"] == "4"
    generous = make_key(rate_limit_per_minute=1000)
    assert get_key(client, generous)["X-RateLimit-Limit"] == "1000"


def test_each_key_has_its_own_budget(client, make_key, clock):
    clock.mid_window()
    first, second = make_key(rate_limit_per_minute=1), make_key(rate_limit_per_minute=1)
    assert get_key(client, first).status_code == 200
    assert get_key(client, first).status_code == 429
    assert get_key(client, second).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("get", "/api/v1/key", None, 200),
        ("get", "/api/v1/questions?limit=0", None, 400),
        ("post", "/api/v1/questions", {"text": "x"}, 403),
        ("get", "/api/v1/questions/999999", None, 404),
        ("post", "/api/v1/next-question", "{broken", 400),
    ],
)
def test_headers_on_every_authenticated_response(client, make_key, clock, method, path, body, status):
    clock.mid_window()
    key = make_key(permissions=["read"], rate_limit_per_minute=1)
    kwargs = {"content_type": "application/json", "data": body} if body is not None else {}
    for expected_status, remaining in ((status, "0"), (429, "0")):
        response = getattr(client, method)(path, headers=bearer(key), **kwargs)
        assert response.status_code == expected_status, response.content
        assert response["X-RateLimit-Limit"] == "1"
        assert response["X-RateLimit-Remaining"] == remaining
        assert response["X-RateLimit-Reset"] == str(window_end(clock))


def test_fails_open_when_the_cache_is_down(client, make_key, clock, monkeypatch, caplog):
    clock.mid_window()
    key = make_key(rate_limit_per_minute=1)

    def down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to redis")

    for operation in ("get", "incr", "add"):
        monkeypatch.setattr(f"api.keystore.cache.{operation}", down)
    with caplog.at_level("WARNING", logger="api"):
        for _ in range(3):  # over the limit of 1, yet served
            response = get_key(client, key)
            assert response.status_code == 200
            assert response["X-RateLimit-Limit"] == "1" and response["X-RateLimit-Reset"]
    warnings = [r for r in caplog.records if r.name == "api" and "rate limit" in r.getMessage()]
    assert len(warnings) == 1  # then paused: no warning (nor timeout) per request


def test_fails_open_with_an_unreachable_redis(client, make_key, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    key = make_key(rate_limit_per_minute=1)
    assert [get_key(client, key).status_code for _ in range(3)] == [200, 200, 200]


def test_counts_in_redis_shared_by_all_processes(client, make_key, clock, settings, redis_url_for_tests):
    import redis

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url_for_tests,
            "KEY_PREFIX": "nbq-api-test",
        }
    }
    clock.mid_window()
    key = make_key(rate_limit_per_minute=2)
    server = redis.Redis.from_url(redis_url_for_tests)
    pattern = f"nbq-api-test:*:api:rl:{key.key_hash[-40:]}:*"
    for stale in server.scan_iter(pattern):
        server.delete(stale)
    try:
        assert [get_key(client, key).status_code for _ in range(3)] == [200, 200, 429]
        counters = list(server.scan_iter(pattern))
        assert len(counters) == 1 and int(server.get(counters[0])) == 3
        assert 0 < server.ttl(counters[0]) <= 65
    finally:
        for counter in server.scan_iter(pattern):
            server.delete(counter)
