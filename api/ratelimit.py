"""Per-key rate limit: a fixed one-minute window counted in Django's cache.

The counter for a key and a minute lives under `api:rl:<key hash>:<minute number>`; each request
increments it, in the same cache round trip that fetches the key's record (`api.keycache`). With `REDIS_URL` the cache
is Redis, so all processes share one budget; the default local-memory cache gives each process
its own budget (fine for a single `runserver`). A request refused by the key's IP fence gets its
count back (`api.keycache.give_back`): the fence is judged before the limit, and a leaked key used
from elsewhere spends nothing of the real client's budget. The limit is `ApiKey.rate_limit`: the key's
override, else `settings.API_KEY_RATE_LIMIT_PER_MINUTE`.

Every authenticated response carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
`X-RateLimit-Reset` (Unix time, in seconds, at which the window ends). Over the limit: 429
`rate_limited` with `Retry-After` (seconds until the window ends); the first 429 of a window
writes one RATE_LIMITED event.

Fail open. If the cache cannot be reached, requests are served without counting, a warning is
logged (at most every few seconds per process) and the headers still report the full limit.
Why: the rate limit protects capacity, it is not an access control — authentication, status and
permissions are still judged on every request (from the key's cached record, which every write to
the key replaces with a tombstone, or from the database) and stay enforced. Failing closed would turn
a cache outage into a total API outage for every customer; failing open only removes the
throttle while the cache is down. After a failure the cache is left alone for a few seconds, so
a hanging Redis costs one timeout per process per pause instead of one per request.
"""

import logging

from django.http import HttpRequest, HttpResponseBase

from keys.models import ApiKey
from keys.services import record_key_event
from projects.actors import Actor
from projects.models.event import EventKind

from . import keycache
from .errors import RateLimited
from .request import ApiRequest, Budget

__all__ = ["Budget", "check"]  # Budget: defined with the request it is left on (api/request.py)

logger = logging.getLogger("api")

WINDOW_SECONDS = keycache.WINDOW_SECONDS


def check(request: ApiRequest, key: ApiKey, *, count: int | None, now) -> Budget:
    """Judge this request's number in the key's window (counted by `api.keycache.fetch`, None
    when the cache is down: fail open); remember the budget on the request; raise RateLimited
    over the limit."""
    reset_at, retry_after = keycache.window_end(now)
    limit = key.rate_limit
    if count is None:  # cache down: fail open
        budget = Budget(limit=limit, remaining=limit, reset_at=reset_at, retry_after=retry_after)
        request.rate_budget = budget
        return budget
    budget = Budget(limit=limit, remaining=max(limit - count, 0), reset_at=reset_at, retry_after=retry_after)
    request.rate_budget = budget
    if count > limit:
        if count == limit + 1:  # exactly one request per window sees this count
            record_key_event(
                project=key.project,
                key=key,
                kind=EventKind.RATE_LIMITED,
                actor=Actor.api(request),
                details={"limit_per_minute": limit, "window_ends_at": reset_at},
            )
        raise RateLimited(
            f"Rate limit of {limit} requests per minute reached for key {key.key_id}; retry in {retry_after} s.",
            retry_after=retry_after,
        )
    return budget


def add_headers(response: HttpResponseBase, request: HttpRequest) -> None:
    budget = getattr(request, "rate_budget", None)
    if budget is not None:
        for name, value in budget.headers().items():
            response[name] = value


def reset_state() -> None:
    """Forget a cache failure (tests)."""
    keycache.reset_state()
