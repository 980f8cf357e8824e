"""Where key records and counters live: Redis (Django's RedisCache) through redis-py's public
client, or any other Django cache (local memory by default); and the breaker that leaves an
unreachable cache alone for a few seconds.

The hot path's one command is a Redis script (`FETCH_SCRIPT`, run by EVALSHA through a
`redis.commands.core.Script` from `register_script`) that answers, in one step: the key's record,
the next value of its rate-limit counter for this minute, and, only without a usable record, the
client address's failed authentications and whether the hash is known to match no key (plus the
addressed project's record when asked). Why a script rather than a pipeline of the same commands:
redis-py packs and parses one command instead of six, and Redis runs them in one step
(docs/performance.md). The script touches several keys, so it needs one Redis server (Django's
RedisCache is one; a Redis Cluster is not supported).

Each thread sends it over a client of its own (`redis.Redis(..., single_connection_client=True)`,
TLS and timeouts as Django's cache has them): no pool checkout per request. Its retry policy is
one immediate retry on a new connection (a connection that Redis closed: restart, idle timeout);
a second failure is an outage, and the breaker takes over.

Records are only ever *added* (set-if-absent): a request that read the row before a write to the
key cannot put a stale record over the tombstone that write left. A dead record (a revoked or
expired key) replaces only the very tombstone (or the nothing) its reader saw (`REPLACE_SCRIPT`).
"""

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
import redis.exceptions
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry

from keys_console import metrics

from . import keyrecord

logger = logging.getLogger("api")

TOMBSTONE_TTL = 120
WINDOW_SECONDS = 60
UNKNOWN_HASH_TTL = WINDOW_SECONDS + 5  # "this hash matched no key" (negative caching)


@dataclass(frozen=True)
class Snapshot:
    raw_record: bytes | str | None  # the key's record as cached; None: not cached (or a tombstone)
    count: int  # this request's number in the key's current rate-limit window
    # Read only when there is no record (they decide whether the database is asked at all):
    failures: int = 0  # failed authentications from this client address in the current window
    unknown: bool = False  # a lookup of this hash found no key moments ago (and none was created since)
    project: dict | None = None  # the addressed project's record (`api:proj:<slug>`), when asked for
    tombstone: bytes | str | None = None  # the tombstone found in the record's place, if any

    @property
    def first_use_this_minute(self) -> bool:
        """The key's first request in this window (its counter was just created)."""
        return self.count == 1

    @property
    def record(self) -> dict | None:
        """The key's record (None: ask the database)."""
        return keyrecord.decode(self.raw_record)

    def key(self, key_hash: str):
        """The ApiKey of the cached record (this request's own copy); None when there is no
        record or it cannot be read: ask the database."""
        if self.raw_record is None:
            return None
        return keyrecord.own_key_of_record(self.raw_record, key_hash)


# --- names ----------------------------------------------------------------------------------------
def project_name(slug: str) -> str:
    return f"api:proj:{slug[:120]}"


def names(key_hash: str, window: int) -> tuple[str, str]:
    """The key's record and its rate-limit counter in `window`."""
    h = key_hash[-40:]
    return f"api:key:{keyrecord.record_version()}:{h}", f"api:rl:{h}:{window}"


def failures_name(client: str, window: int) -> str:
    return f"api:af:{client}:{window}"


def unknown_name(key_hash: str) -> str:
    return f"api:nx:{key_hash[-40:]}"


# --- Redis ----------------------------------------------------------------------------------------
# KEYS: the record, the rate counter, the address's failures, the unknown-hash marker[, the
# project's record]. ARGV: the counter's lifetime, the tombstone mark. Answers {record, count,
# project} when the record is usable, else {record (or its tombstone), count, project, failures,
# unknown}. (A missing key reads as false.)
FETCH_SCRIPT = """
local record = redis.call('GET', KEYS[1])
local count = redis.call('INCR', KEYS[2])
if count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
local project = false
if KEYS[5] then project = redis.call('GET', KEYS[5]) end
if record and string.sub(record, 1, 1) ~= ARGV[2] then return {record, count, project} end
return {record, count, project, redis.call('GET', KEYS[3]), redis.call('EXISTS', KEYS[4])}
"""

# KEYS: a record's name. ARGV: the tombstone the reader saw ("" for none), the record, its
# lifetime. Writes the record only if the name still holds what the reader saw (nothing, or that
# same tombstone): a write to the key since (a new tombstone) wins.
REPLACE_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""

# KEYS: a rate-limit counter. Takes one back from a counter that exists and is above zero (a
# request that was counted, then refused before the limit judged it): never creates a counter
# (which would have no expiry) nor makes one negative.
GIVE_BACK_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]))
if count and count > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


# A connection that fails is tried once more on a new one, at once (Redis closed it: a restart, an
# idle timeout); a timeout is not retried (a hanging Redis costs one timeout, then the breaker).
_ONCE_MORE = Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,))


@dataclass
class _Server:
    """One Redis server as Django's cache reaches it: a pooled client for the occasional writes,
    and per thread a single-connection client with its scripts for the hot path."""

    location: str
    options: dict
    shared: redis.Redis
    local: threading.local

    def hot(self) -> tuple[redis.Redis, Script]:
        local = self.local
        if getattr(local, "pid", None) != os.getpid():  # first use in this thread, or a forked child
            client = redis.Redis.from_url(
                self.location, single_connection_client=True, retry=_ONCE_MORE, **self.options
            )
            local.client, local.fetch, local.pid = client, client.register_script(FETCH_SCRIPT), os.getpid()
        return local.client, local.fetch


class RedisStore:
    """The Redis server of Django's RedisCache. Key names go through the cache's own `make_key`,
    so they share its prefix and version."""

    def __init__(self):
        self._servers: dict[tuple, _Server] = {}
        self._current: _Server | None = None
        self._replace: Script | None = None
        self._give_back: Script | None = None
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
        server = self._servers.get(ident)
        if server is None:
            shared = redis.Redis.from_url(location, **timeouts)
            server = self._servers[ident] = _Server(location, timeouts, shared, threading.local())
        self._current = server
        self._replace = server.shared.register_script(REPLACE_SCRIPT)
        self._give_back = server.shared.register_script(GIVE_BACK_SCRIPT)

    def client(self) -> redis.Redis:
        assert self._current is not None, "bind() comes first"
        return self._current.shared

    def make_key(self, name: str) -> str:
        return self._make_key(name)

    def run_fetch_script(self, keys: list[str], args: list) -> list:
        assert self._current is not None, "bind() comes first"
        client, script = self._current.hot()
        return script(keys=keys, args=args, client=client)

    def fetch(self, key_hash: str, window: int, client: str, slug: str | None = None) -> Snapshot:
        keys = [*names(key_hash, window), failures_name(client, window), unknown_name(key_hash)]
        if slug is not None:  # same command: the addressed project's record
            keys.append(project_name(slug))
        raw, count, project, *rest = self.run_fetch_script(
            [self._make_key(n) for n in keys], [WINDOW_SECONDS + 5, keyrecord.TOMBSTONE_MARK]
        )
        failures, unknown = rest or (0, 0)
        return Snapshot(
            raw_record=keyrecord.usable(raw),
            count=int(count),
            failures=int(failures or 0),
            unknown=bool(unknown),
            project=keyrecord.decode(project),
            tombstone=raw if keyrecord.is_tombstone(raw) else None,
        )

    def give_back(self, key_hash: str, window: int) -> None:
        assert self._give_back is not None, "bind() comes first"
        self._give_back(keys=[self._make_key(names(key_hash, window)[1])])

    def count_failure(self, client: str, window: int, key_hash: str) -> int:
        name = self._make_key(failures_name(client, window))
        pipe = self.client().pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, WINDOW_SECONDS + 5, nx=True)
        pipe.set(self._make_key(unknown_name(key_hash)), 1, ex=UNKNOWN_HASH_TTL)
        count, *_ = pipe.execute()
        return int(count)

    def forget_unknown(self, key_hash: str) -> None:
        self.client().delete(self._make_key(unknown_name(key_hash)))

    def replace(self, key_hash: str, record: str, seen: bytes | str | None, ttl: int) -> None:
        assert self._replace is not None, "bind() comes first"
        self._replace(keys=[self._make_key(names(key_hash, 0)[0])], args=[seen or "", record, ttl])

    def add(self, name: str, record: str, ttl: int) -> None:
        self.client().set(self._make_key(name), record, nx=True, ex=ttl)

    def tombstone(self, name: str) -> None:
        self.client().set(self._make_key(name), keyrecord.new_tombstone(), ex=TOMBSTONE_TTL)


# --- any other Django cache -----------------------------------------------------------------------
class DjangoStore:
    """Any other Django cache (local memory by default): the same operations, several calls."""

    def make_key(self, name: str) -> str:
        return cache.make_key(name)

    def fetch(self, key_hash: str, window: int, client: str, slug: str | None = None) -> Snapshot:
        record_name, counter = names(key_hash, window)
        raw = cache.get(record_name)
        record = keyrecord.usable(raw)
        count = self._incr(counter)
        project = keyrecord.decode(cache.get(project_name(slug))) if slug is not None else None
        if record is not None:
            return Snapshot(raw_record=record, count=count, project=project)
        return Snapshot(
            raw_record=None,
            count=count,
            failures=cache.get(failures_name(client, window), 0),
            unknown=cache.get(unknown_name(key_hash)) is not None,
            project=project,
            tombstone=raw,
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

    def give_back(self, key_hash: str, window: int) -> None:
        name = names(key_hash, window)[1]
        if (cache.get(name) or 0) > 0:
            with contextlib.suppress(ValueError):  # expired in between: nothing to give back
                cache.decr(name)

    def count_failure(self, client: str, window: int, key_hash: str) -> int:
        cache.set(unknown_name(key_hash), 1, timeout=UNKNOWN_HASH_TTL)
        return self._incr(failures_name(client, window))

    def forget_unknown(self, key_hash: str) -> None:
        cache.delete(unknown_name(key_hash))

    def replace(self, key_hash: str, record: str, seen: bytes | str | None, ttl: int) -> None:
        name = names(key_hash, 0)[0]
        if cache.get(name) == seen:  # one process's memory: no other writer in between
            cache.set(name, record, timeout=ttl)

    def add(self, name: str, record: str, ttl: int) -> None:
        cache.add(name, record, timeout=ttl)

    def tombstone(self, name: str) -> None:
        cache.set(name, keyrecord.new_tombstone(), timeout=TOMBSTONE_TTL)


class Stores:
    """The store that serves Django's default cache now (bound again when the settings change)."""

    def __init__(self):
        self.redis = RedisStore()
        self.django = DjangoStore()
        self._bound: tuple[object, RedisStore | DjangoStore] | None = None

    def current(self) -> RedisStore | DjangoStore:
        django_cache = caches["default"]
        if self._bound is None or self._bound[0] is not django_cache:
            if isinstance(django_cache, RedisCache):
                self.redis.bind(settings.CACHES["default"], django_cache)
                self._bound = (django_cache, self.redis)
            else:
                self._bound = (django_cache, self.django)
        return self._bound[1]


class Breaker:
    """After a cache failure, leave the cache alone for `pause` seconds (per process): a hanging
    Redis costs one timeout per pause instead of one per request."""

    def __init__(self, pause: float = 5.0):
        self.pause = pause
        self.paused_until = 0.0

    @property
    def open(self) -> bool:
        return time.monotonic() < self.paused_until

    def run(self, operation, *args):
        """`operation(*args)`, or None while paused or when it fails (which starts a pause)."""
        if self.open:
            metrics.count_cache_fallback("paused")
            return None
        try:
            result = operation(*args)
        except Exception as exc:  # connection refused, timeout, ...
            self.paused_until = time.monotonic() + self.pause
            metrics.count_cache_fallback("error")
            metrics.breaker_state(True)
            logger.warning(
                "API: cache unavailable (%s: %s); using the database, rate limits off for %.0f s",
                type(exc).__name__,
                exc,
                self.pause,
            )
            return None
        if self.paused_until:  # the first success after a pause: closed again (GET /metrics)
            self.paused_until = 0.0
            metrics.breaker_state(False)
        return result

    def reset(self) -> None:
        self.paused_until = 0.0
