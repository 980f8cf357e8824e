"""The hot path's one round trip: key record and rate-limit counter together, in one command.

Looking a key up in PostgreSQL costs more than the rest of an API request (docs/performance.md),
so an authenticated request asks the shared cache, in ONE command (`api.keystore.FETCH_SCRIPT`):

- the key's record (`api:key:<hash>`: what authentication needs, never the secret;
  `api.keyrecord`);
- the next value of its rate-limit counter for this minute (`api:rl:<hash>:<window>`, which the
  script gives its expiry when it creates it). A count of 1 is the key's first use in this minute:
  only then is last use written to the database (a conditional UPDATE: at most once a minute);
- only when there is no usable record (never cached, expired, or a tombstone): the client
  address's failed authentications this minute (`api:af:<address>:<window>`) and whether the hash
  is known to match no key (`api:nx:<hash>`, set when a lookup found nothing): see `api.auth`
  (failed-auth throttle: guesses only).

The record part is on only with a shared cache (Redis: settings.API_KEY_RECORD_CACHE_SECONDS,
10 s by default with REDIS_URL, off without). Revocation stays immediate in every worker.
Every write to a key row (save, delete, and `ApiKeyQuerySet.update` of anything but last use)
puts a *tombstone* (`-` and a random tag, so each write's tombstone is told apart from an earlier
one) in place of the record, inside the transaction and again after commit (`invalidate`).
Records are only ever *added* (set-if-absent), so a request that read the row before a revocation
cannot write a stale record over the tombstone; a tombstone sends readers to the database for
TOMBSTONE_TTL seconds, far longer than any request lives. Records also expire after
API_KEY_RECORD_CACHE_SECONDS, which bounds the harm if a process that revokes keys was started
without the API's REDIS_URL.

A key that no longer authenticates (revoked, expired) gets a *dead record*: the same record,
whose state says why, kept for DEAD_RECORD_TTL and written over the tombstone its last write left
only if that very tombstone is still there (`remember_dead`): a client that keeps sending a
revoked key costs no query after the first, and a later write (a new tombstone) is never hidden.

If the cache is unreachable the request falls back to the database (one indexed query), the rate
limit fails open (see `api.ratelimit`), and the cache is left alone for a few seconds (`breaker`).
Without REDIS_URL the same operations run on Django's local-memory cache (one process).
"""

import json
import logging
import math
from datetime import datetime

from django.conf import settings

from .keystore import WINDOW_SECONDS, Breaker, Snapshot, Stores, names, project_name

logger = logging.getLogger("api")

DEAD_RECORD_TTL = 600  # a revoked or expired key's record (see the module docstring)

stores = Stores()  # the store serving Django's default cache now
breaker = Breaker(pause=5.0)  # tests: reset_state()


def window_of(now: datetime) -> int:
    return int(now.timestamp() // WINDOW_SECONDS)


def window_end(now: datetime) -> tuple[int, int]:
    """THE rate-window arithmetic (the per-key limit and the per-address throttle share it): when
    the window holding `now` ends (Unix seconds), and the whole seconds until then (at least 1)."""
    reset_at = (window_of(now) + 1) * WINDOW_SECONDS
    return reset_at, max(1, math.ceil(reset_at - now.timestamp()))


def fetch(key_hash: str, now: datetime, client: str = "-", slug: str | None = None) -> Snapshot | None:
    """The cached state of a key (and of the client address's failed authentications) for this
    request, or None if the cache is unavailable. With `slug` (a project-addressed route) the same
    round trip also reads that project's record (`api.acting`)."""
    return breaker.run(stores.current().fetch, key_hash, window_of(now), client, slug)


def give_back(key_hash: str, now: datetime) -> None:
    """Undo `fetch`'s count of this request in the key's window (a request refused before the
    rate limit judged it: the IP fence). Never below zero, never a counter without expiry."""
    breaker.run(stores.current().give_back, key_hash, window_of(now))


def count_failure(client: str, now: datetime, key_hash: str) -> int | None:
    """Count a failed authentication (a guess: `key_hash` matched no key) from `client`, and
    remember for a minute that this hash is unknown; its number in this window (None: cache down)."""
    return breaker.run(stores.current().count_failure, client, window_of(now), key_hash)


def forget_unknown(key_hash: str) -> None:
    """A key with this hash was just created: it is not unknown any more. Never skipped by the
    breaker (a real key must never be refused as a guess)."""
    try:
        stores.current().forget_unknown(key_hash)
    except Exception as exc:
        logger.error("API: could not clear an unknown-hash marker (%s: %s)", type(exc).__name__, exc)


def remember(key_hash: str, record: dict) -> None:
    ttl = settings.API_KEY_RECORD_CACHE_SECONDS
    if ttl > 0:
        breaker.run(stores.current().add, names(key_hash, 0)[0], json.dumps(record), ttl)


def remember_dead(key_hash: str, record: dict, seen_tombstone: bytes | str | None) -> None:
    """Cache the record of a key that no longer authenticates (its state says why), in place of
    `seen_tombstone` (what `fetch` found: a tombstone or nothing) and only if that is still there."""
    if settings.API_KEY_RECORD_CACHE_SECONDS > 0:
        breaker.run(stores.current().replace, key_hash, json.dumps(record), seen_tombstone, DEAD_RECORD_TTL)


def remember_project(slug: str, record: dict) -> None:
    ttl = settings.API_KEY_RECORD_CACHE_SECONDS
    if ttl > 0:
        breaker.run(stores.current().add, project_name(slug), json.dumps(record), ttl)


def invalidate_project(slug: str) -> None:
    """Put a tombstone over a project's record (its question gate changed, or it was deleted)."""
    try:
        stores.current().tombstone(project_name(slug))
    except Exception as exc:
        logger.error("API: could not invalidate a cached project record (%s: %s)", type(exc).__name__, exc)


def invalidate(key_hash: str) -> None:
    """Put a tombstone over the key's record. Never skipped by the breaker: revocation matters."""
    if not key_hash:
        return
    try:
        stores.current().tombstone(names(key_hash, 0)[0])
    except Exception as exc:
        logger.error("API: could not invalidate a cached key record (%s: %s)", type(exc).__name__, exc)


def reset_state() -> None:
    """Forget a cache failure (tests)."""
    breaker.reset()
