"""Cached key records never outlive a revocation (api/keycache.py, api/invalidation.py)."""

import json

import pytest
from django.utils import timezone

from api import keycache, keyrecord, keystore
from keys.models import ApiKey
from keys.services import api_key_revoke, api_key_rotate
from projects.actors import Actor
from tests.api.conftest import bearer
from tests.conftest import use_record_cache

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["locmem", "redis"])
def record_cache(request, settings):
    return use_record_cache(settings, request.param)


def get_key(client, key):
    return client.get("/api/v1/key", headers=bearer(key))


def test_a_revoked_key_is_refused_on_the_next_request(client, key, record_cache):
    assert get_key(client, key).status_code == 200
    assert keycache.fetch(key.key_hash, timezone.now()).record is not None  # served from the cache now
    api_key_revoke(key=key, actor=Actor.cli())
    response = get_key(client, key)
    assert response.status_code == 401 and response.json()["error"]["code"] == "revoked_api_key"


def test_a_stale_record_cannot_overwrite_a_tombstone(key, record_cache):
    stale = keyrecord.record_of(ApiKey.objects.select_related("project").get(pk=key.pk))  # read before...
    api_key_revoke(key=key, actor=Actor.cli())  # ...the revocation, which leaves a tombstone
    keycache.remember(key.key_hash, stale)  # the slow reader tries to cache what it read
    assert keycache.fetch(key.key_hash, timezone.now()).record is None


@pytest.mark.parametrize("change", ["update", "rotate", "delete"])
def test_every_write_to_a_key_drops_its_record(client, key, record_cache, change):
    assert get_key(client, key).status_code == 200
    if change == "update":
        ApiKey.objects.filter(pk=key.pk).update(rate_limit_per_minute=1)
    elif change == "rotate":
        api_key_rotate(key=key, actor=Actor.cli())
    else:
        ApiKey.objects.filter(pk=key.pk).delete()
    assert keycache.fetch(key.key_hash, timezone.now()).record is None


def test_last_use_updates_leave_the_record_alone(client, key, record_cache):
    assert get_key(client, key).status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    assert keycache.fetch(key.key_hash, timezone.now()).record is not None


def test_without_the_setting_records_are_not_cached(client, key, settings):
    settings.API_KEY_RECORD_CACHE_SECONDS = 0
    assert get_key(client, key).status_code == 200
    assert keycache.fetch(key.key_hash, timezone.now()).record is None


# --- one declared schema of the record (issue 13) ----------------------------------------------


def test_the_record_schema_accounts_for_every_field_of_apikey():
    """Adding a field to ApiKey fails here until api/keycache.py says whether the API needs it
    (RECORD_FIELDS) or not (NOT_CACHED, with the reason)."""
    fields = {f.attname for f in ApiKey._meta.concrete_fields}
    assert not set(keyrecord.RECORD_FIELDS) & set(keyrecord.NOT_CACHED)
    assert fields == set(keyrecord.RECORD_FIELDS) | set(keyrecord.NOT_CACHED), (
        "ApiKey's fields and api/keycache.py's record schema disagree: "
        f"undeclared {sorted(fields - set(keyrecord.RECORD_FIELDS) - set(keyrecord.NOT_CACHED))}, "
        f"gone {sorted(set(keyrecord.RECORD_FIELDS) | set(keyrecord.NOT_CACHED) - fields)}"
    )


def test_a_record_round_trips_and_never_serves_a_default(key, django_assert_num_queries):
    key = ApiKey.objects.select_related("project").get(pk=key.pk)
    key.stops_at = timezone.now()  # a value of every kind: datetimes, JSON list, FK id, str, None
    record = keyrecord.record_of(key)
    record = json.loads(json.dumps(record))  # what the cache hands back
    with django_assert_num_queries(0):
        cached = keyrecord.key_from_record(record, key.key_hash)
        for name in keyrecord.RECORD_FIELDS:
            assert getattr(cached, name) == getattr(key, name), name
        assert (cached.project.pk, cached.project.slug, cached.project.name) == (
            key.project.pk,
            key.project.slug,
            key.project.name,
        )
        assert cached.status_at(timezone.now()) == key.status_at(timezone.now())
        assert cached.key_hash == key.key_hash
    # A field the record does not carry is loaded from the database, never a made-up default.
    with django_assert_num_queries(1):
        assert cached.last4 == key.last4
    assert cached.key_hash == key.key_hash  # the deferred load did not clobber the hash


def test_records_of_another_schema_are_never_read(key, record_cache, monkeypatch):
    from django.core.cache import cache

    keycache.remember(key.key_hash, keyrecord.record_of(ApiKey.objects.select_related("project").get(pk=key.pk)))
    assert keycache.fetch(key.key_hash, timezone.now()).record is not None
    monkeypatch.setattr(keyrecord, "RECORD_FIELDS", (*keyrecord.RECORD_FIELDS[:-1],))
    assert keycache.fetch(key.key_hash, timezone.now()).record is None
    cache.clear()


# --- the hot path's one command (issue 14) -------------------------------------------------------


@pytest.fixture
def redis_commands(monkeypatch):
    """Every Redis command this process sends, by name (pipelines counted command by command)."""
    import redis.connection

    sent: list[str] = []
    send_command = redis.connection.Connection.send_command  # one command
    pack_commands = redis.connection.Connection.pack_commands  # a pipeline's

    def one(self, *args, **kwargs):
        sent.append(str(args[0]).upper())
        return send_command(self, *args, **kwargs)

    def many(self, commands):
        sent.extend(str(c[0]).upper() for c in commands)
        return pack_commands(self, commands)

    monkeypatch.setattr(redis.connection.Connection, "send_command", one)
    monkeypatch.setattr(redis.connection.Connection, "pack_commands", many)
    return sent


def test_a_request_with_a_cached_record_sends_redis_one_command(client, key, settings, redis_commands):
    """Record, rate count and first use of the minute in ONE command (a script), not a pipeline
    of six: what redis-py packs and parses is most of the hot path's cost (docs/performance.md)."""
    use_record_cache(settings, "redis")
    assert get_key(client, key).status_code == 200  # cold: looks the key up and caches its record
    redis_commands.clear()
    response = get_key(client, key)
    assert response.status_code == 200 and response["X-RateLimit-Remaining"] == str(key.rate_limit - 2)
    assert redis_commands in (["EVALSHA"], ["EVALSHA", "SCRIPT LOAD", "EVALSHA"], ["EVALSHA", "SCRIPT", "EVALSHA"])
    redis_commands.clear()
    assert get_key(client, key).status_code == 200
    assert redis_commands == ["EVALSHA"]


def test_the_script_is_loaded_again_when_redis_forgot_it(client, key, settings):
    use_record_cache(settings, "redis")
    assert get_key(client, key).status_code == 200
    keycache.stores.current().client().script_flush()  # e.g. Redis restarted
    response = get_key(client, key)
    assert response.status_code == 200 and response["X-RateLimit-Remaining"] == str(key.rate_limit - 2)


@pytest.mark.parametrize("mode", ["locmem", "redis"])
def test_first_use_of_the_minute_is_the_counter_starting(key, settings, mode):
    from datetime import timedelta

    from django.core.cache import cache

    use_record_cache(settings, mode)
    now = timezone.now()
    first, second = keycache.fetch(key.key_hash, now), keycache.fetch(key.key_hash, now)
    assert (first.count, first.first_use_this_minute) == (1, True)
    assert (second.count, second.first_use_this_minute) == (2, False)
    later = keycache.fetch(key.key_hash, now + timedelta(seconds=keycache.WINDOW_SECONDS))
    assert (later.count, later.first_use_this_minute) == (1, True)  # a new window
    if mode == "redis":  # the counter the script created expires with its window
        counter = cache.make_key(keystore.names(key.key_hash, keycache.window_of(now))[1])
        assert 0 < keycache.stores.current().client().ttl(counter) <= keycache.WINDOW_SECONDS + 5


@pytest.mark.parametrize("mode", ["locmem", "redis"])
def test_the_address_budget_is_read_only_without_a_record(key, settings, mode):
    """The failed-auth budget decides whether the database is asked; with a record it is not needed."""
    use_record_cache(settings, mode)
    now = timezone.now()
    for _ in range(3):
        keycache.count_failure("203.0.113.9", now, "f" * 64)  # guesses: another hash each time
    cold = keycache.fetch(key.key_hash, now, "203.0.113.9")
    assert (cold.record, cold.failures, cold.unknown) == (None, 3, False)
    assert keycache.fetch("f" * 64, now, "203.0.113.9").unknown  # a guessed hash is known unknown
    keycache.remember(key.key_hash, keyrecord.record_of(ApiKey.objects.select_related("project").get(pk=key.pk)))
    warm = keycache.fetch(key.key_hash, now, "203.0.113.9")
    assert warm.record is not None and warm.record["key"]["key_id"] == key.key_id
    api_key_revoke(key=key, actor=Actor.cli())  # a tombstone: back to the database, budget read again
    dead = keycache.fetch(key.key_hash, now, "203.0.113.9")
    assert (dead.record, dead.failures, dead.unknown) == (None, 3, False)
    assert dead.tombstone is not None and dead.tombstone[:1] in (b"-", "-")


def test_an_addressed_project_record_comes_in_the_same_command(key, settings, redis_commands):
    use_record_cache(settings, "redis")
    keycache.remember_project("bench-slug", {"id": 1, "slug": "bench-slug"})
    redis_commands.clear()
    snapshot = keycache.fetch(key.key_hash, timezone.now(), "203.0.113.9", "bench-slug")
    assert snapshot.project == {"id": 1, "slug": "bench-slug"} and redis_commands == ["EVALSHA"]


def test_a_record_is_built_into_a_key_once_per_process(client, key, settings, monkeypatch):
    use_record_cache(settings, "redis")
    keyrecord.key_of_record.cache_clear()
    built = []
    real = keyrecord.key_from_record
    monkeypatch.setattr(keyrecord, "key_from_record", lambda *args: built.append(1) or real(*args))
    for _ in range(4):
        assert get_key(client, key).status_code == 200
    assert len(built) == 1  # the cold request caches the record; the next three share one instance
    ApiKey.objects.filter(pk=key.pk).update(name="renamed")  # a tombstone: the database answers
    assert [get_key(client, key).json()["name"] for _ in range(2)] == ["renamed", "renamed"]
    assert len(built) == 1
    from django.core.cache import cache

    cache.delete(keystore.names(key.key_hash, 0)[0])  # the tombstone expires
    assert [get_key(client, key).json()["name"] for _ in range(3)] == ["renamed"] * 3
    assert len(built) == 2  # the new record, built once


def test_each_request_gets_its_own_copy_of_the_shared_key(key):
    """What a request changes on its key (an account key's project and permissions, last use)
    never reaches the instance kept for the next request, nor its project."""
    import copy

    record = json.dumps(keyrecord.record_of(key))
    keyrecord.key_of_record.cache_clear()
    shared = keyrecord.key_of_record(record, key.key_hash)
    mine = keyrecord.own_key_of_record(record, key.key_hash)
    assert mine is not shared and mine._state is not shared._state
    assert mine._state.fields_cache is not shared._state.fields_cache
    assert vars(mine).keys() == vars(copy.copy(shared)).keys()  # copy.copy itself (no hand-made copy)
    assert [getattr(mine, f.attname) for f in ApiKey._meta.concrete_fields] == [
        getattr(shared, f.attname) for f in ApiKey._meta.concrete_fields
    ]
    assert mine.project.slug == shared.project.slug and not mine._state.adding
    mine.permissions = ["read"]
    mine.project = None
    mine.last_used_ip = "192.0.2.1"
    again = keyrecord.own_key_of_record(record, key.key_hash)
    assert again.permissions == key.permissions and again.project.slug == key.project.slug
    assert again.last_used_ip == key.last_used_ip


def test_a_connection_closed_by_redis_is_replaced_without_losing_the_cache(client, key, settings):
    """The hot path keeps its own connection per thread; when Redis closes it (restart, idle
    timeout) the next request opens another at once, rather than pausing the cache."""
    use_record_cache(settings, "redis")
    keycache.reset_state()
    assert get_key(client, key).status_code == 200
    admin = keycache.stores.current().client()
    killed = admin.client_kill_filter(_type="normal", skipme=True)
    assert killed >= 1
    response = get_key(client, key)
    assert response.status_code == 200 and response["X-RateLimit-Remaining"] == str(key.rate_limit - 2)
    assert not keycache.breaker.open  # no cache pause: the limit kept counting


@pytest.mark.parametrize("garbage", [b"{not json", b'{"key": {"id": 1}}'])
def test_an_unreadable_record_sends_the_request_to_the_database(client, key, settings, garbage):
    """A record the process cannot read (corrupt, or written by something else) is a miss: the
    key is looked up in the database, never a 500."""
    use_record_cache(settings, "redis")
    keycache.stores.current().client().set(
        keycache.stores.current().make_key(keystore.names(key.key_hash, 0)[0]), garbage, ex=60
    )
    response = get_key(client, key)
    assert response.status_code == 200 and response.json()["id"] == key.key_id


def test_the_hot_path_uses_redis_py_public_client(client, key, settings, monkeypatch):
    """The one command goes through `redis.Redis.execute_command` of a single-connection client
    of the thread (redis-py's retries and reconnects), not a raw connection."""
    import redis

    use_record_cache(settings, "redis")
    sent = []
    real = redis.Redis.execute_command

    def spy(self, *args, **options):
        sent.append((args[0], self.connection is not None))
        return real(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", spy)
    assert get_key(client, key).status_code == 200
    sent.clear()
    assert get_key(client, key).status_code == 200
    assert sent == [("EVALSHA", True)]


def test_the_breaker_is_state_a_test_can_reset(key, settings):
    def down():
        raise ConnectionError("refused")

    keycache.breaker.run(down)
    assert keycache.breaker.open
    assert keycache.fetch(key.key_hash, timezone.now()) is None  # paused: the database decides
    keycache.reset_state()
    assert not keycache.breaker.open and keycache.fetch(key.key_hash, timezone.now()) is not None
