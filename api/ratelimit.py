"""Per-key rate limit: a fixed one-minute window counted in Django's cache.

The counter for a key and a minute lives under `api:rl:<key pk>:<minute number>`; each request
increments it (`incr`, or `add` when it is the first of the window). With `REDIS_URL` the cache
is Redis, so all processes share one budget; the default local-memory cache gives each process
its own budget (fine for a single `runserver`). The limit is `ApiKey.rate_limit`: the key's
override, else `settings.API_KEY_RATE_LIMIT_PER_MINUTE`.

Every authenticated response carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
`X-RateLimit-Reset` (Unix time, in seconds, at which the window ends). Over the limit: 429
`rate_limited` with `Retry-After` (seconds until the window ends); the first 429 of a window
writes one RATE_LIMITED event.

Fail open. If the cache cannot be reached, requests are served without counting, a warning is
logged (at most every few seconds per process) and the headers still report the full limit.
Why: the rate limit protects capacity, it is not an access control — authentication, status and
permissions come from the database on every request and stay enforced. Failing closed would turn
a cache outage into a total API outage for every customer; failing open only removes the
throttle while the cache is down. After a failure the cache is left alone for a few seconds, so
a hanging Redis costs one timeout per process per pause instead of one per request.
"""

import logging
import math
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest, HttpResponseBase

from projects.actors import Actor
from projects.models import ApiKey
from projects.models.event import EventKind
from projects.services import record_event

from . import clock
from .errors import RateLimited

logger = logging.getLogger("api")

WINDOW_SECONDS = 60
CACHE_PAUSE_SECONDS = 5.0  # after a cache failure, serve without counting for this long
_cache_paused_until = 0.0  # time.monotonic() value; process-local


@dataclass(frozen=True)
class Budget:
    limit: int
    remaining: int
    reset_at: int  # Unix time (s) at which the window ends
    retry_after: int  # seconds until then (at least 1)

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


def check(request: HttpRequest, key: ApiKey) -> Budget:
    """Count this request; remember the budget on the request; raise RateLimited over the limit."""
    now = clock.now().timestamp()
    window = int(now // WINDOW_SECONDS)
    reset_at = (window + 1) * WINDOW_SECONDS
    retry_after = max(1, math.ceil(reset_at - now))
    limit = key.rate_limit
    count = _count(key.pk, window)
    if count is None:  # cache down: fail open
        budget = Budget(limit=limit, remaining=limit, reset_at=reset_at, retry_after=retry_after)
        request.rate_budget = budget
        return budget
    budget = Budget(limit=limit, remaining=max(limit - count, 0), reset_at=reset_at, retry_after=retry_after)
    request.rate_budget = budget
    if count > limit:
        if count == limit + 1:  # exactly one request per window sees this count
            record_event(project=key.project, key=key, kind=EventKind.RATE_LIMITED, actor=Actor.api(request),
                         details={"limit_per_minute": limit, "window_ends_at": reset_at})
        raise RateLimited(
            f"Rate limit of {limit} requests per minute reached for key {key.key_id}; "
            f"retry in {retry_after} s.",
            retry_after=retry_after,
        )
    return budget


def add_headers(response: HttpResponseBase, request: HttpRequest) -> None:
    budget = getattr(request, "rate_budget", None)
    if budget is not None:
        for name, value in budget.headers().items():
            response[name] = value


def _count(key_pk: int, window: int) -> int | None:
    """Increment and return this window's counter, or None if the cache is unavailable."""
    global _cache_paused_until
    if time.monotonic() < _cache_paused_until:
        return None
    cache_key = f"api:rl:{key_pk}:{window}"
    try:
        try:
            return cache.incr(cache_key)
        except ValueError:  # first request of the window (or the counter just expired)
            if cache.add(cache_key, 1, timeout=WINDOW_SECONDS + 5):
                return 1
            return cache.incr(cache_key)
    except ValueError:
        return 1
    except Exception as exc:  # connection refused, timeout, ...: fail open (see module docstring)
        _cache_paused_until = time.monotonic() + CACHE_PAUSE_SECONDS
        logger.warning(
            "API rate limit: cache unavailable (%s: %s); serving without rate limiting for %.0f s",
            type(exc).__name__, exc, CACHE_PAUSE_SECONDS,
        )
        return None


def reset_state() -> None:
    """Forget a cache failure (tests)."""
    global _cache_paused_until
    _cache_paused_until = 0.0
