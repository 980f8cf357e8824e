"""Authentication of runtime API requests by API key (project keys and account keys).

The key travels as `Authorization: Bearer <key>` or `X-API-Key: <key>`. Two django-ninja auth
classes read one header each (so the OpenAPI document shows both schemes); both hand the key to
`authenticate_key`, which:

1. rejects a malformed key or a bad checksum (`keygen.is_well_formed`) before any query;
2. asks the shared cache, in one command, for the key's record and its rate-limit count (whose
   first value in a minute marks the key's first use in it) and, when there is no usable record,
   the client address's failed authentications and whether the hash is known to match no key
   (`api.keycache`: records hold the key's state; revocation-safe tombstones);
3. with a cached record (live or dead): judges the key on it. Without one, unless the hash is
   known to match no key, the key is found by its hash in one indexed query (the project comes
   along via a join), checked once more in constant time, and its record cached (a dead key's
   too: see `api.keycache.remember_dead`);
4. judges the status at this instant (`ApiKey.status_at`: the revoked STATE, the end of a
   rotation grace period, expiry), then whether the key is disabled (paused: `disabled_at`)
   -> 401 and a security event (at most one per key and hour);
   then the key's allowed IP addresses (from the record, no query) against the client address
   as `keys_console.client_ip` sees it (TRUSTED_PROXIES) -> 403 `ip_not_allowed`, and the count
   step 2 made is given back (`keycache.give_back`): a request from outside the fence spends
   nothing of the key's rate-limit budget;
5. counts the request against the key's rate limit (see `api.ratelimit`);
6. decides the project the request acts on (`api.acting.bind`: scope, membership, role, gate).

A key's record is cached for a few seconds at most and replaced by a tombstone on every write
to its row, so a revocation takes effect on the very next request, in every worker.
The failed-authentication throttle counts guesses only: a well-formed key that matches no key
counts against the client address (`keys_console.client_ip`, honouring TRUSTED_PROXIES; an IPv6
client counts per /64: `throttle_address`), and
past settings.API_AUTH_FAILURES_PER_MINUTE a guess gets 429 `rate_limited` instead of 401. A
revoked or expired key is not a guess: it gets its own 401 and never spends the budget. A key
that exists is never refused by the throttle, as it never decides without a lookup (or a cached
record): only a hash already known to match no key skips the lookup (docs/security.md). A
malformed key (format or checksum) is not counted: it cannot match a key and costs no lookup.
Every failure is a 401 with its own code and `WWW-Authenticate: Bearer`. The key itself is never
logged nor stored; only its public Key ID appears in events and log lines.
"""

import logging
from datetime import timedelta
from typing import cast

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from ninja.security import APIKeyHeader, HttpBearer

from keys import keygen
from keys.models import ApiKey
from keys.models.api_key import AUTHENTICATING, Status
from keys.services import projects_in_scope, record_key_event
from keys_console.client_ip import client_ip, throttle_address
from projects.actors import Actor
from projects.models import KeyEvent
from projects.models.event import EventKind

from . import acting, clock, keycache, keyrecord, ratelimit
from .errors import IpNotAllowed, NotAuthenticated, RateLimited
from .metrics import counted
from .request import ApiRequest

logger = logging.getLogger("api")

SECURITY_EVENT_INTERVAL = 3600  # at most one "revoked/expired key presented" event per key per hour

_HOW_TO = "Send your API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`."


def _client(request: HttpRequest) -> str:
    """The unit the failed-authentication budget counts: the address, an IPv6 client's /64."""
    return throttle_address(client_ip(request))


def _throttled(now) -> RateLimited:
    _, retry_after = keycache.window_end(now)
    return RateLimited(
        f"Too many failed authentications from this address; retry in {retry_after} s.", retry_after=retry_after
    )


def _guess(request: HttpRequest, now, key_hash: str) -> NotAuthenticated | RateLimited:
    """A well-formed key that matches no key: count it against the client address (and remember
    the hash as unknown for a minute); the error to raise, 429 past the address's budget."""
    count = keycache.count_failure(_client(request), now, key_hash)
    limit = settings.API_AUTH_FAILURES_PER_MINUTE
    if count is not None and count > limit:
        if count == limit + 1:
            logger.warning("API: failed-authentication throttle engaged for %s", _client(request))
        return _throttled(now)
    return NotAuthenticated("invalid_api_key", "Unknown API key.")


@counted  # GET /metrics: each decision by outcome (api/metrics.py)
def authenticate_key(request: HttpRequest, presented: str) -> ApiKey:
    presented = presented.strip()
    if not presented:
        raise NotAuthenticated("missing_api_key", "The API key is empty. " + _HOW_TO)
    now = clock.now()
    # (RejectMalformedKeysMiddleware has checked the key this request presents, when it ran.)
    if presented != getattr(request, "well_formed_key", None) and not keygen.is_well_formed(presented):
        # Not counted against the address: it cannot match any key, costs no lookup to refuse, and
        # counting it would cost every junk request a cache round trip (api/invalid_keys.py).
        raise NotAuthenticated("invalid_api_key", MALFORMED_KEY_MESSAGE)
    key_hash = keygen.hash_key(presented)
    # One Redis command: record and rate count (its first count is the minute's first use); without
    # a usable record, this address's failures and whether the hash is known to match no key (and
    # the addressed project's record).
    snapshot = keycache.fetch(key_hash, now, _client(request), acting.requested_slug(request))
    key = snapshot.key(key_hash) if snapshot is not None else None
    if key is None:  # not cached, a tombstone, or unreadable: the database decides
        if snapshot is not None and snapshot.unknown:
            raise _guess(request, now, key_hash)  # matched no key moments ago: no query
        try:
            key = ApiKey.objects.select_related("project", "project__key_policy").get(key_hash=key_hash)
        except ApiKey.DoesNotExist:
            raise _guess(request, now, key_hash) from None
        if not keygen.verify_key(presented, key.key_hash):
            raise _guess(request, now, key_hash)
        # A disabled key's record is a dead one too: Enable writes the row, which tombstones it.
        authenticates = key.status_at(now) in AUTHENTICATING and key.disabled_at is None
        if key.is_account_key and authenticates:
            key.access = acting.add_policy_facts(key, acting.load_access(key))
        elif authenticates:
            key.policy_cap = acting.project_cap(key.project)  # the project's key policy (keys/policy.py)
        if snapshot is not None:
            if authenticates:
                keycache.remember(key_hash, keyrecord.record_of(key))
            else:  # revoked or expired: its record says so, and the next request asks no query
                keycache.remember_dead(key_hash, keyrecord.record_of(key), snapshot.tombstone)

    request.usage_key = key  # type: ignore[attr-defined]  # a known key: its usage counts, refusals too (api.usage)
    status = key.status_at(now)
    # A dead key is not a guess: its own answer, and the address's budget is not touched.
    if status == Status.REVOKED:
        _security_event(request, key, EventKind.REVOKED_KEY_USED)
        raise NotAuthenticated("revoked_api_key", f"API key {key.key_id} has been revoked.")
    if status == Status.EXPIRED:
        _security_event(request, key, EventKind.EXPIRED_KEY_USED)
        raise NotAuthenticated("expired_api_key", f"API key {key.key_id} has expired.")
    if key.disabled_at is not None:  # paused in the console or the CLI; Enable brings it back
        _security_event(request, key, EventKind.DISABLED_KEY_USED)
        raise NotAuthenticated("disabled_api_key", f"API key {key.key_id} is disabled; it can be enabled again.")
    if key.allowed_ips and not key.allows_ip(client_ip(request)):  # from the record: no query
        # The fence comes before the rate limit: the round trip that fetched the record counted
        # this request, so the count is given back (a leaked key used from elsewhere must not spend
        # the real client's budget; issue #27, finding 4). The accepted path keeps its one round
        # trip; only a refusal pays a second one.
        if snapshot is not None:
            keycache.give_back(key_hash, now)
        _security_event(request, key, EventKind.IP_REFUSED)
        raise IpNotAllowed(
            f"API key {key.key_id} may not be used from this address ({client_ip(request)}); "
            "its allowed IP addresses are set in the console."
        )

    authenticated = cast(ApiRequest, request)
    authenticated.api_key = key  # from here on the request counts as authenticated (headers, usage)
    authenticated.first_use_this_minute = snapshot.first_use_this_minute if snapshot is not None else None
    ratelimit.check(authenticated, key, count=snapshot.count if snapshot is not None else None, now=now)
    acting.bind(request, key, snapshot)  # the project this request acts on, checked now
    return key


def _security_event(request: HttpRequest, key: ApiKey, kind: str) -> None:
    """Log that a dead key is still in use, at most once per key, kind and hour.

    The dedupe is a `cache.add` (atomic, shared by all workers through Redis). If the cache is
    down, a query for a recent event of the same kind takes its place, so a flood of requests
    with a revoked key never floods the event log. Its name holds the key and the kind only,
    never anything the client chose (an account key sent to 30 made-up slugs is one event:
    issue #27, finding 3).
    """
    try:
        first = cache.add(f"api:security:{kind}:{key.pk}", 1, timeout=SECURITY_EVENT_INTERVAL)
    except Exception as exc:  # cache unreachable: fall back to the database
        logger.warning("API: cache unavailable for security-event dedupe (%s)", type(exc).__name__)
        since = clock.now() - timedelta(seconds=SECURITY_EVENT_INTERVAL)
        first = not KeyEvent.objects.filter(key_id=key.key_id, kind=kind, created_at__gte=since).exists()
    if first:
        record_key_event(
            project=_dead_key_project(request, key),
            key=key,
            kind=kind,
            actor=Actor.api(request),
            details={"path": request.path[:200], "method": request.method},
        )
        logger.warning(
            "API: %s presented: %s (%s)",
            kind,
            key.key_id,
            f"account of user {key.owner_id}" if key.is_account_key else f"project {key.project.slug}",  # type: ignore[union-attr]  # a project key has its project
        )


def _dead_key_project(request: HttpRequest, key: ApiKey):
    """Where a dead key was presented: its project, or for an account key the addressed project
    if the key's scope reached it (so that project's log shows the attempt too)."""
    if not key.is_account_key:
        return key.project
    slug = acting.requested_slug(request)
    if slug is None:
        return None
    return projects_in_scope(key).filter(slug=slug).first()


class BearerKey(HttpBearer):
    """`Authorization: Bearer <key>`."""

    def __call__(self, request: HttpRequest):
        value = request.META.get("HTTP_AUTHORIZATION")
        if value is None or not value.strip():
            return None  # let X-API-Key have a go; none at all -> missing_api_key
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer":
            if request.META.get("HTTP_X_API_KEY"):
                return None  # e.g. a proxy's Basic auth: the X-API-Key header carries the key
            raise NotAuthenticated("invalid_api_key", "Unsupported Authorization scheme. " + _HOW_TO)
        return self.authenticate(request, token)

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey:
        return authenticate_key(request, token)


class HeaderKey(APIKeyHeader):
    """`X-API-Key: <key>`."""

    param_name = "X-API-Key"

    def __call__(self, request: HttpRequest):
        value = request.META.get("HTTP_X_API_KEY")
        if value is None:
            return None
        return self.authenticate(request, value)

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiKey:
        return authenticate_key(request, key or "")


API_KEY_AUTH = [BearerKey(), HeaderKey()]


# --- malformed keys -----------------------------------------------------------------------------
MALFORMED_KEY_MESSAGE = (
    "This is not a valid API key (expected `nbq_live_` or `nbq_test_` and 32 letters or digits, with a valid checksum)."
)
