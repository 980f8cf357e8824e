"""The hot path's one round trip: key record and rate-limit counter together, in one command.

Looking a key up in PostgreSQL costs more than the rest of an API request (docs/performance.md),
so an authenticated request asks the shared cache, in ONE command (a Redis script run by EVALSHA,
`FETCH_SCRIPT`), for:

- the key's record (`api:key:<hash>`: what authentication needs, never the secret);
- the next value of its rate-limit counter for this minute (`api:rl:<hash>:<window>`, which the
  script gives its expiry when it creates it). A count of 1 is the key's first use in this minute:
  only then is last use written to the database (a conditional UPDATE: at most once a minute);
- only when there is no usable record (never cached, expired, or a tombstone): the client
  address's failed authentications this minute (`api:af:<address>:<window>`) and whether the hash
  ever authenticated (`api:ok:<hash>`): see `api.auth` (failed-auth throttle).

The record holds the key's STATE (active / revoked) and grace end, never a revocation time to
compare with a clock; it is built from one declared schema (RECORD_FIELDS below).

The record part is on only with a shared cache (Redis: settings.API_KEY_RECORD_CACHE_SECONDS,
10 s by default with REDIS_URL, off without). Revocation stays immediate in every worker.
Every write to a key row (save, delete, and
`ApiKeyQuerySet.update` of anything but last use) puts a *tombstone* in place of the record,
inside the transaction and again after commit (`invalidate`). Records are only ever *added*
(set-if-absent), so a request that read the row before a revocation cannot write a stale record
over the tombstone; a tombstone sends readers to the database for TOMBSTONE_TTL seconds, far
longer than any request lives. Records also expire after API_KEY_RECORD_CACHE_SECONDS, which
bounds the harm if a process that revokes keys was started without the API's REDIS_URL.

Why a script rather than a pipeline of the same commands: the answer is the same, but redis-py
packs and parses one command instead of six, and Redis runs them in one step (measured in
docs/performance.md). The script touches several keys, so it needs one Redis server (Django's
RedisCache is one; a Redis Cluster is not supported).

If the cache is unreachable the request falls back to the database (one indexed query), the rate
limit fails open (see `api.ratelimit`), and the cache is left alone for a few seconds.
Without REDIS_URL the same operations run on Django's local-memory cache (one process).
"""

import copy
import functools
import hashlib
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import redis
import redis.connection
import redis.exceptions
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ValidationError
from redis.exceptions import NoScriptError

logger = logging.getLogger("api")

TOMBSTONE_TTL = 120
WINDOW_SECONDS = 60
TOMBSTONE = b"-"
PAUSE_SECONDS = 5.0
_paused_until = 0.0


KNOWN_KEY_TTL = 24 * 3600


@dataclass(frozen=True)
class Snapshot:
    raw_record: bytes | str | None  # the key's record as cached; None: not cached (or a tombstone)
    count: int  # this request's number in the key's current rate-limit window
    # Read only when there is no record (they decide whether the database is asked at all):
    failures: int = 0  # failed authentications from this client address in the current window
    known_key: bool = False  # this hash authenticated before (it exists in the database)
    project: dict | None = None  # the addressed project's record (`api:proj:<slug>`), when asked for

    @property
    def first_use_this_minute(self) -> bool:
        """The key's first request in this window (its counter was just created)."""
        return self.count == 1

    @property
    def record(self) -> dict | None:
        """The key's record (None: ask the database)."""
        return _decode(self.raw_record)

    def key(self, key_hash: str):
        """The ApiKey of the cached record: this request's own copy (requests narrow it: see
        `api.acting.bind`) of an instance built once per distinct record (`_key_of_record`).
        None when there is no record or it cannot be read: ask the database."""
        if self.raw_record is None:
            return None
        built = _key_of_record(self.raw_record, key_hash)
        return None if built is None else copy.copy(built)


@functools.lru_cache(maxsize=1024)
def _key_of_record(raw: bytes | str, key_hash: str):
    """An ApiKey built from a cached record, kept for the next request that reads the same record.
    Keyed by the record's exact bytes: a changed key is another record (and a revoked one a
    tombstone, never a record), so what is kept can only ever be what the cache holds now. Holds
    what the record holds (never the key itself). Callers get copies (`Snapshot.key`). None for a
    record this process cannot read (corrupt, or not one of ours)."""
    record = _decode(raw)
    if record is None:
        return None
    try:
        return key_from_record(record, key_hash)
    except (KeyError, TypeError, ValueError, ValidationError):
        return None


def _usable(raw) -> bytes | str | None:
    """The cached record, or None for a missing record or a tombstone."""
    return None if raw is None or raw == TOMBSTONE or raw == TOMBSTONE.decode() else raw


def _project_name(slug: str) -> str:
    return f"api:proj:{slug[:120]}"


def _names(key_hash: str, window: int) -> tuple[str, str]:
    h = key_hash[-40:]
    return f"api:key:{record_version()}:{h}", f"api:rl:{h}:{window}"


def _failures_name(client: str, window: int) -> str:
    return f"api:af:{client}:{window}"


def _known_name(key_hash: str) -> str:
    return f"api:ok:{key_hash[-40:]}"


def _decode(raw) -> dict | None:
    """A cached record as a dict; None for none, a tombstone, or what is not a JSON object."""
    raw = _usable(raw)
    if raw is None:
        return None
    try:
        record = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return record if isinstance(record, dict) else None


# KEYS: the record, the rate counter, the address's failures, the known-hash marker[, the project's
# record]. ARGV: the counter's lifetime, the tombstone. Answers {record, count, project} when the
# record is usable, else {record, count, project, failures, known}. (A missing key reads as false.)
FETCH_SCRIPT = """
local record = redis.call('GET', KEYS[1])
local count = redis.call('INCR', KEYS[2])
if count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
local project = false
if KEYS[5] then project = redis.call('GET', KEYS[5]) end
if record and record ~= ARGV[2] then return {record, count, project} end
return {record, count, project, redis.call('GET', KEYS[3]), redis.call('EXISTS', KEYS[4])}
"""


FETCH_SHA = hashlib.sha1(FETCH_SCRIPT.encode()).hexdigest()  # what EVALSHA names it by


class _RedisStore:
    """The Redis server of Django's RedisCache, reached through redis-py's public client (one
    connection pool per process and server, thread-safe). Key names go through the cache's own
    `make_key`, so they share its prefix and version.

    The hot path's one command goes over a connection of the calling thread's own (a
    `redis.Connection` made like the pool's, TLS and timeouts included), sent and read with the
    connection's `send_command` / `read_response`: no pool checkout, no retry wrapper, no
    per-call bookkeeping, which cost more than the command itself (docs/performance.md). A
    connection that fails is dropped; the next request makes a new one."""

    def __init__(self):
        self._clients: dict[tuple, tuple[redis.Redis, threading.local]] = {}
        self._current: tuple[redis.Redis, threading.local] | None = None
        self._make_key: Callable[[str], str] = cache.make_key

    def bind(self, config: dict, django_cache: RedisCache) -> None:
        self._make_key = django_cache.make_key
        location = config["LOCATION"]
        if not isinstance(location, str):
            location = location[0]
        location = location.split(",")[0].strip()  # the first server is the one Django writes to
        options = config.get("OPTIONS", {})
        timeouts = {name: options[name] for name in ("socket_connect_timeout", "socket_timeout") if name in options}
        ident = (location, tuple(sorted(timeouts.items())))
        current = self._clients.get(ident)
        if current is None:
            current = self._clients[ident] = (redis.Redis.from_url(location, **timeouts), threading.local())
        self._current = current

    def client(self) -> redis.Redis:
        assert self._current is not None, "bind() comes first"
        return self._current[0]

    def _own_connection(self) -> tuple[redis.connection.AbstractConnection, bool]:
        """This thread's connection, and whether it is new (never used yet)."""
        assert self._current is not None, "bind() comes first"
        client, local = self._current
        connection = getattr(local, "connection", None)
        if connection is not None and local.pid == os.getpid():
            return connection, False
        # First use in this thread, or a forked child: a connection made as the pool makes them.
        pool = client.connection_pool
        connection = local.connection = pool.connection_class(**pool.connection_kwargs)
        local.pid = os.getpid()
        return connection, True

    def _drop(self, connection) -> None:
        connection.disconnect()
        assert self._current is not None
        self._current[1].connection = None

    def run_fetch_script(self, keys: list[str], args: list) -> list:
        while True:
            connection, new = self._own_connection()
            try:
                try:
                    connection.send_command("EVALSHA", FETCH_SHA, len(keys), *keys, *args)
                    return connection.read_response()
                except NoScriptError:  # a restarted or flushed Redis: EVAL sends the script (and caches it)
                    connection.send_command("EVAL", FETCH_SCRIPT, len(keys), *keys, *args)
                    return connection.read_response()
            except redis.exceptions.ConnectionError:
                self._drop(connection)
                if new:
                    raise
                # A kept connection that Redis closed meanwhile (restart, idle timeout): once more
                # on a new one, as redis-py's pool does; a new one failing is an outage.
            except Exception:
                self._drop(connection)
                raise

    def fetch(self, key_hash: str, window: int, client: str, slug: str | None = None) -> Snapshot:
        names = [*_names(key_hash, window), _failures_name(client, window), _known_name(key_hash)]
        if slug is not None:  # same command: the addressed project's record
            names.append(_project_name(slug))
        raw, count, project, *rest = self.run_fetch_script(
            [self._make_key(n) for n in names], [WINDOW_SECONDS + 5, TOMBSTONE]
        )
        failures, known = rest or (0, 0)
        return Snapshot(
            raw_record=_usable(raw),
            count=int(count),
            failures=int(failures or 0),
            known_key=bool(known),
            project=_decode(project),
        )

    def count_failure(self, client: str, window: int) -> int:
        name = self._make_key(_failures_name(client, window))
        pipe = self.client().pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, WINDOW_SECONDS + 5, nx=True)
        count, _ = pipe.execute()
        return int(count)

    def mark_known(self, key_hash: str) -> None:
        self.client().set(self._make_key(_known_name(key_hash)), 1, ex=KNOWN_KEY_TTL)

    def remember(self, key_hash: str, record: dict, ttl: int) -> None:
        self.remember_name(_names(key_hash, 0)[0], record, ttl)

    def remember_name(self, name: str, record: dict, ttl: int) -> None:
        self.client().set(self._make_key(name), json.dumps(record), nx=True, ex=ttl)

    def tombstone(self, key_hash: str) -> None:
        self.tombstone_name(_names(key_hash, 0)[0])

    def tombstone_name(self, name: str) -> None:
        self.client().set(self._make_key(name), TOMBSTONE, ex=TOMBSTONE_TTL)


class _DjangoStore:
    """Any other Django cache (local memory by default): the same operations, several calls."""

    def fetch(self, key_hash: str, window: int, client: str, slug: str | None = None) -> Snapshot:
        record_name, counter = _names(key_hash, window)
        record = _usable(cache.get(record_name))
        count = self._incr(counter)
        project = _decode(cache.get(_project_name(slug))) if slug is not None else None
        if record is not None:
            return Snapshot(raw_record=record, count=count, project=project)
        return Snapshot(
            raw_record=None,
            count=count,
            failures=cache.get(_failures_name(client, window), 0),
            known_key=cache.get(_known_name(key_hash)) is not None,
            project=project,
        )

    @staticmethod
    def _incr(name: str) -> int:
        if cache.add(name, 1, timeout=WINDOW_SECONDS + 5):
            return 1
        try:
            return cache.incr(name)
        except ValueError:  # expired in between
            cache.add(name, 1, timeout=WINDOW_SECONDS + 5)
            return 1

    def count_failure(self, client: str, window: int) -> int:
        return self._incr(_failures_name(client, window))

    def mark_known(self, key_hash: str) -> None:
        cache.set(_known_name(key_hash), 1, timeout=KNOWN_KEY_TTL)

    def remember(self, key_hash: str, record: dict, ttl: int) -> None:
        self.remember_name(_names(key_hash, 0)[0], record, ttl)

    def remember_name(self, name: str, record: dict, ttl: int) -> None:
        cache.add(name, json.dumps(record), timeout=ttl)

    def tombstone(self, key_hash: str) -> None:
        self.tombstone_name(_names(key_hash, 0)[0])

    def tombstone_name(self, name: str) -> None:
        cache.set(name, TOMBSTONE.decode(), timeout=TOMBSTONE_TTL)


_redis_store = _RedisStore()
_django_store = _DjangoStore()
_bound: tuple[object, object] = (None, None)  # (Django's default cache, the store that serves it)


def _backend():
    global _bound
    current = caches["default"]
    if current is not _bound[0]:  # first use, or new cache settings (tests): bind again
        if isinstance(current, RedisCache):
            _redis_store.bind(settings.CACHES["default"], current)
            _bound = (current, _redis_store)
        else:
            _bound = (current, _django_store)
    return _bound[1]


def _with_breaker(operation, *args):
    """Run a cache operation; on failure pause the cache for a few seconds and return None."""
    global _paused_until
    if time.monotonic() < _paused_until:
        return None
    try:
        return operation(*args)
    except Exception as exc:  # connection refused, timeout, ...
        _paused_until = time.monotonic() + PAUSE_SECONDS
        logger.warning(
            "API: cache unavailable (%s: %s); using the database, rate limits off for %.0f s",
            type(exc).__name__,
            exc,
            PAUSE_SECONDS,
        )
        return None


def window_of(now: datetime) -> int:
    return int(now.timestamp() // WINDOW_SECONDS)


def fetch(key_hash: str, now: datetime, client: str = "-", slug: str | None = None) -> Snapshot | None:
    """The cached state of a key (and of the client address's failed authentications) for this
    request, or None if the cache is unavailable. With `slug` (a project-addressed route) the same
    round trip also reads that project's record (`api.acting`)."""
    store = _backend()
    return _with_breaker(store.fetch, key_hash, window_of(now), client, slug)


def count_failure(client: str, now: datetime) -> int | None:
    """Count a failed authentication from `client`; its number in this window (None: cache down)."""
    return _with_breaker(_backend().count_failure, client, window_of(now))


def mark_known(key_hash: str) -> None:
    """Remember that this hash authenticated: a throttled address may still be judged on it. Holds
    no state of the key (the database or the record decides), so it needs no invalidation."""
    _with_breaker(_backend().mark_known, key_hash)


def remember(key_hash: str, record: dict) -> None:
    ttl = settings.API_KEY_RECORD_CACHE_SECONDS
    if ttl > 0:
        _with_breaker(_backend().remember, key_hash, record, ttl)


def remember_project(slug: str, record: dict) -> None:
    ttl = settings.API_KEY_RECORD_CACHE_SECONDS
    if ttl > 0:
        _with_breaker(_backend().remember_name, _project_name(slug), record, ttl)


def invalidate_project(slug: str) -> None:
    """Put a tombstone over a project's record (its question gate changed, or it was deleted)."""
    try:
        _backend().tombstone_name(_project_name(slug))
    except Exception as exc:
        logger.error("API: could not invalidate a cached project record (%s: %s)", type(exc).__name__, exc)


def invalidate(key_hash: str) -> None:
    """Put a tombstone over the key's record. Never skipped by the breaker: revocation matters."""
    if not key_hash:
        return
    try:
        _backend().tombstone(key_hash)
    except Exception as exc:
        logger.error("API: could not invalidate a cached key record (%s: %s)", type(exc).__name__, exc)


def reset_state() -> None:
    """Forget a cache failure (tests)."""
    global _paused_until
    _paused_until = 0.0


# --- records: what authentication needs of a key, never its secret ----------------------------
# ONE declared schema. Every concrete field of ApiKey is either in RECORD_FIELDS (cached) or in
# NOT_CACHED (with the reason); tests/api/test_keycache.py fails when ApiKey gains a field that is
# in neither. A record becomes an ApiKey through `Model.from_db`: the fields not cached are
# deferred, so reading one loads it from the database (never a silent default).
RECORD_FIELDS = (
    "id",
    "project_id",
    "key_id",
    "name",
    "permissions",
    "expiry_rule",
    "created_at",
    "expires_at",
    "state",
    "stops_at",
    "rate_limit_per_minute",
    "owner_id",
    "all_projects",
)
NOT_CACHED = {
    "key_hash": "the lookup key of the record itself (not stored inside it)",
    "last4": "display only (console)",
    "is_test": "display only (the console's mask); the prefix is part of the hashed secret",
    "created_by_id": "console and admin only",
    "revoked_at": "informational; the state decides",
    "revoked_by_id": "console and admin only",
    "rotated_from_id": "console and admin only",
    "last_used_at": "written by the API, never read by it",
    "last_used_ip": "written by the API, never read by it",
}
PROJECT_FIELDS = ("id", "slug", "name")


def record_version() -> str:
    """Part of the record's cache key: a changed schema never reads records of the old one."""
    return _version_of(RECORD_FIELDS, PROJECT_FIELDS)


@functools.cache
def _version_of(key_fields: tuple[str, ...], project_fields: tuple[str, ...]) -> str:
    return format(zlib.crc32(",".join(key_fields + ("|",) + project_fields).encode()), "x")


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value


def record_of(key) -> dict:
    """The cached record of a key: RECORD_FIELDS of the key and PROJECT_FIELDS of its project;
    for an account key, instead of a project, its `access` (`api.acting.load_access`: its scope
    and its holder's memberships within it, tombstoned on every change of those memberships)."""
    record = {"key": {name: _jsonable(getattr(key, name)) for name in RECORD_FIELDS}}
    if key.is_account_key:
        record["access"] = key.access
    else:
        record["project"] = {name: _jsonable(getattr(key.project, name)) for name in PROJECT_FIELDS}
    return record


@functools.cache
def _reader(model, names: tuple[str, ...], extra: tuple[str, ...]):
    """How to load `names` (from a record) and `extra` (given as is) into `model`: the attnames in
    the model's column order, and per attname its field's `to_python` (None: taken as given).
    Worked out once per process: it is on every cached request's path."""
    wanted = set(names) | set(extra)
    fields = [f for f in model._meta.concrete_fields if f.attname in wanted]
    converters = tuple((f.attname, f.to_python if f.attname in names else None) for f in fields)
    return [f.attname for f in fields], converters


def _from_record(model, names, values: dict, **extra):
    attnames, converters = _reader(model, tuple(names), tuple(sorted(extra)))
    row = [extra[name] if convert is None else convert(values[name]) for name, convert in converters]
    return model.from_db("default", attnames, row)


def key_from_record(record: dict, key_hash: str):
    """An ApiKey instance, as if loaded from the database, built from a cached record."""
    from keys.models import ApiKey
    from projects.models import Project

    project = _from_record(Project, PROJECT_FIELDS, record["project"]) if record.get("project") else None
    key = _from_record(ApiKey, RECORD_FIELDS, record["key"], key_hash=key_hash)
    key.project = project
    if key.is_account_key:
        key.access = record["access"]
    return key
