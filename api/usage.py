"""Last use, where from, and usage counts of API keys, without a database write on every request.

Last use. The key row read by authentication carries `last_used_at`; only when that value is
missing or older than `LAST_USED_RESOLUTION` does the request issue one conditional UPDATE
(`... WHERE id = %s AND (last_used_at IS NULL OR last_used_at < now - 60 s)`), so a busy key
costs at most one write per minute, even with many workers racing. The same UPDATE keeps the
client address (as `keys_console.client_ip` sees it; IPv6 as given) and the User-Agent
(truncated to `USER_AGENT_LENGTH`).

Usage counts. Each request of a KNOWN key (authenticated, or refused once the key was found:
revoked, expired, disabled, `ip_not_allowed`, `rate_limited`, `insufficient_permission`,
`not_found`, ...; `api.auth` marks it as `request.usage_key`) adds 1 to an in-process counter
keyed by (key, project, UTC day, endpoint, status, error code): the endpoint is the route's
operation id (`listQuestions`, the same for both forms of a route: `operation_of`), the project
the one the request acted on (a project key's own; an account key's addressed project once its
reach there is known). The same step remembers the client address and User-Agent per key
(`ADDRESSES_PER_KEY` distinct addresses are kept, each with when it was last seen).
The hot path is a dict increment under a lock (docs/performance.md has its cost).

The counters are written by the first request that finishes at least
`settings.API_USAGE_FLUSH_SECONDS` after the previous flush, and once more when the process
exits (`atexit`), in one transaction of a few upserts
(`INSERT ... ON CONFLICT (...) DO UPDATE SET count = count + excluded.count`, the same SQL on
PostgreSQL and SQLite): the detailed rows (`KeyUsageCount`), the per-day totals by status class
(`KeyUsageDay`, derived from the same buffer), an account key's requests per project
(`KeyProjectUsageDay`), and the addresses (`KeyAddress`, then trimmed to the last few per key).
`flush_usage()` writes them on demand.

What a crash can lose: the counts (and addresses) a process gathered since its last flush, i.e.
at most `API_USAGE_FLUSH_SECONDS` (10 s by default) of the requests that process served (a clean
shutdown flushes them). These are statistics for charts and for spotting a misused key, not
billing: losing a few seconds of counts on a rare crash is a fair price for keeping a write (or
a cache round trip) off every request. A flush never breaks a request: on a database error the
counts go back into the buffer for the next try; counts of keys (or projects) deleted meanwhile
are skipped by the statements themselves.
"""

import atexit
import logging
import re
import threading
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from functools import cache, lru_cache

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponseBase

from keys.models import ApiKey, KeyAddress, KeyProjectUsageDay, KeyUsageCount, KeyUsageDay
from keys_console.client_ip import client_ip
from projects.models import Project

from . import clock

logger = logging.getLogger("api")

LAST_USED_RESOLUTION = timedelta(seconds=60)
ROWS_PER_STATEMENT = 500
ADDRESSES_PER_KEY = 5  # distinct client addresses kept per key (KeyAddress)
USER_AGENT_LENGTH = 200  # characters of a User-Agent kept (ApiKey.last_used_user_agent, KeyAddress)
NO_ENDPOINT = "-"  # a request no operation of the API answered (cannot happen with a known key today)

SUCCESS, CLIENT_ERROR, SERVER_ERROR = 0, 1, 2

# (key pk, project pk or None, UTC day, endpoint, status, error code) -> requests
Slot = tuple[int, int | None, date, str, int, str]

_lock = threading.Lock()
_counts: dict[Slot, int] = {}
_account_keys: set[int] = set()  # which counted keys are account keys (KeyProjectUsageDay)
_addresses: dict[tuple[int, str], tuple[datetime, str]] = {}  # (key pk, address) -> (last seen, User-Agent)
# The database the buffered counts belong to: counts are never written to another one
# (e.g. after a test run has swapped the test database back for the real one).
_buffer_database: str | None = None
_last_flush = time.monotonic()


def status_class(status: int) -> int:
    if status >= 500:
        return SERVER_ERROR
    if status >= 400:
        return CLIENT_ERROR
    return SUCCESS


def _database_name() -> str:
    return str(settings.DATABASES["default"].get("NAME"))


def user_agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_LENGTH]


# --- which endpoint -----------------------------------------------------------------------------
# A resolved route, without the API's prefix and the project-addressed form's:
# "api/v1/projects/<projectslug:slug>/questions/<int:question_id>" -> "questions/<int:question_id>".
_ROUTE_PREFIX = re.compile(r"^api/v1/(?:projects/<[^>]+>/)?")


@cache
def _operations() -> dict[tuple[str, str], str]:
    """{("/questions/{int:question_id}", "PATCH"): "updateQuestion", ...}: each keyed route's
    operation id, read from the routers themselves (django-ninja's public `path_operations`), so
    a worker's first request does not pay for building the OpenAPI document."""
    from .api import KEYED_ROUTERS  # the API's routes import this module (through the middleware)

    table = {}
    for router in KEYED_ROUTERS:
        for path, view in router.path_operations.items():
            for operation in view.operations:
                for method in operation.methods:
                    table[(path, method.upper())] = operation.operation_id or operation.view_func.__name__
    return table


@lru_cache(maxsize=256)  # one entry per route pattern and method: a handful
def operation_of(route: str, method: str | None) -> str:
    """The operation id of a resolved route (Django's `ResolverMatch.route`) and method, the same
    for both forms of a route (`listQuestions`)."""
    path = "/" + _ROUTE_PREFIX.sub("", route).replace("<", "{").replace(">", "}")
    return _operations().get((path, method or ""), NO_ENDPOINT)


def endpoint_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    return NO_ENDPOINT if match is None else operation_of(match.route, request.method)


def project_of(request: HttpRequest, key: ApiKey) -> int | None:
    """The project the request acted on: a project key's own; an account key's once `api.acting`
    bound it, or (refused before that, e.g. 429) the addressed project if the key reaches it."""
    if key.project_id is not None or not key.is_account_key:
        return key.project_id
    match = getattr(request, "resolver_match", None)
    slug = match.kwargs.get("slug") if match is not None else None
    access = getattr(key, "access", None)
    if not slug or not access:
        return None
    reach = access.get("projects", {}).get(slug)
    return reach["pk"] if reach else None


# --- last use ---------------------------------------------------------------------------------
def touch_last_used(key: ApiKey, request: HttpRequest, *, now: datetime | None = None, ip: str | None = None) -> bool:
    """Record the key's last use (when, from where, with which User-Agent) if the stored value is
    over a minute old. True if it wrote.

    The cache says whether this is the key's first use this minute (`api.keycache`); without
    the cache, the row's own `last_used_at` decides. The UPDATE is conditional either way."""
    first_use = getattr(request, "first_use_this_minute", None)
    if first_use is False:  # the steady state: nothing to compute
        return False
    now = now or clock.now()
    threshold = now - LAST_USED_RESOLUTION
    if first_use is None and key.last_used_at is not None and key.last_used_at >= threshold:
        return False
    ip = ip if ip is not None else client_ip(request)
    agent = user_agent(request)
    try:
        updated = (
            ApiKey.objects.filter(pk=key.pk)
            .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=threshold))
            .update(last_used_at=now, last_used_ip=ip, last_used_user_agent=agent)
        )
    except DatabaseError as exc:
        logger.warning("API: could not record last use of %s (%s)", key.key_id, type(exc).__name__)
        return False
    key.last_used_at, key.last_used_ip, key.last_used_user_agent = now, ip, agent
    return bool(updated)


# --- usage counts -----------------------------------------------------------------------------
def count_request(
    key: ApiKey,
    status: int,
    endpoint: str = NO_ENDPOINT,
    code: str = "",
    *,
    project_id: int | None = None,
    address: str | None = None,
    agent: str = "",
    now: datetime | None = None,
) -> None:
    """Count one request of `key` (in this process; written by the next flush)."""
    global _buffer_database
    now = now or clock.now()
    slot = (key.pk, project_id, now.date(), endpoint, status, code)
    with _lock:
        if not _counts:
            _buffer_database = _database_name()
        _counts[slot] = _counts.get(slot, 0) + 1
        if key.owner_id is not None:  # an account key (a project key has no owner)
            _account_keys.add(key.pk)
        if address:
            _addresses[(key.pk, address)] = (now, agent)


def flush_if_due() -> None:
    if time.monotonic() - _last_flush >= settings.API_USAGE_FLUSH_SECONDS:
        flush_usage()


def _take_buffered() -> tuple[dict, set, dict, str | None]:
    """Empty the buffers (the caller holds _lock); what they held and their database."""
    global _counts, _account_keys, _addresses, _buffer_database
    taken = _counts, _account_keys, _addresses, _buffer_database
    _counts, _account_keys, _addresses, _buffer_database = {}, set(), {}, None
    return taken


def per_day(counts: dict[Slot, int]) -> dict[tuple[int, date], list[int]]:
    """The buffered counts as KeyUsageDay's rows: per (key, day), by status class."""
    days: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0, 0])
    for (key_pk, _project, day, _endpoint, status, _code), count in counts.items():
        days[(key_pk, day)][status_class(status)] += count
    return dict(days)


def _per_project(counts: dict[Slot, int], account_keys: set[int]) -> dict[tuple[int, int, date], int]:
    """Account keys' requests per (key, project, day): KeyProjectUsageDay's rows."""
    rows: dict[tuple[int, int, date], int] = defaultdict(int)
    for (key_pk, project_pk, day, *_), count in counts.items():
        if project_pk is not None and key_pk in account_keys:
            rows[(key_pk, project_pk, day)] += count
    return dict(rows)


def flush_usage() -> int:
    """Write the buffered counts now. Returns the number of (key, day) rows written."""
    global _last_flush
    with _lock:
        _last_flush = time.monotonic()
        if not _counts and not _addresses:
            return 0
        counts, account_keys, addresses, database = _take_buffered()
    if database is not None and database != _database_name():
        logger.warning("API usage: dropping %d counts recorded against another database", len(counts))
        return 0
    try:
        with transaction.atomic():
            written = _upsert(per_day(counts)) if counts else 0
            per_project = _per_project(counts, account_keys)
            if per_project:
                _upsert_per_project(per_project)
            if counts:
                _upsert_counts(counts)
            if addresses:
                _upsert_addresses(addresses)
        return written
    except DatabaseError as exc:
        logger.warning(
            "API usage: flush failed (%s); keeping %d counts for the next try", type(exc).__name__, len(counts)
        )
        _restore(counts, account_keys, addresses, database)
        return 0


def _restore(counts: dict, account_keys: set, addresses: dict, database: str | None) -> None:
    global _buffer_database
    with _lock:
        if not _counts:
            _buffer_database = database
        for slot, count in counts.items():
            _counts[slot] = _counts.get(slot, 0) + count
        _account_keys.update(account_keys)
        for slot, seen in addresses.items():
            if slot not in _addresses or _addresses[slot][0] < seen[0]:
                _addresses[slot] = seen


def _upsert(pending: dict[tuple[int, date], list[int]]) -> int:
    """KeyUsageDay: one INSERT ... ON CONFLICT DO UPDATE per 500 (key, day) rows.

    `WHERE EXISTS` skips the counts of keys deleted since their requests were counted, so such
    counts cannot make the whole batch fail. Returns the number of rows inserted or updated.
    """
    table = connection.ops.quote_name(KeyUsageDay._meta.db_table)
    keys_table = connection.ops.quote_name(ApiKey._meta.db_table)
    rows = sorted(pending.items())  # a stable order keeps concurrent flushes from deadlocking
    written = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            params = []
            for (key_pk, day), (success, client_error, server_error) in chunk:
                params += [key_pk, connection.ops.adapt_datefield_value(day), success, client_error, server_error]
            values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            # VALUES columns are named column1..column5 by both PostgreSQL and SQLite.
            cursor.execute(
                f"INSERT INTO {table} (api_key_id, day, success, client_error, server_error) "
                f"SELECT v.column1, v.column2, v.column3, v.column4, v.column5 FROM (VALUES {values}) AS v "
                f"WHERE EXISTS (SELECT 1 FROM {keys_table} AS k WHERE k.id = v.column1) "
                "ON CONFLICT (api_key_id, day) DO UPDATE SET "
                f"success = {table}.success + excluded.success, "
                f"client_error = {table}.client_error + excluded.client_error, "
                f"server_error = {table}.server_error + excluded.server_error",
                params,
            )
            written += max(cursor.rowcount, 0)
    return written


def _upsert_per_project(pending: dict[tuple[int, int, date], int]) -> None:
    """Account keys' requests per project and day: the same upsert as `_upsert`, one more column."""
    table = connection.ops.quote_name(KeyProjectUsageDay._meta.db_table)
    keys_table = connection.ops.quote_name(ApiKey._meta.db_table)
    projects_table = connection.ops.quote_name(Project._meta.db_table)
    rows = sorted(pending.items())
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            params = []
            for (key_pk, project_pk, day), requests in chunk:
                params += [key_pk, project_pk, connection.ops.adapt_datefield_value(day), requests]
            values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (api_key_id, project_id, day, requests) "
                f"SELECT v.column1, v.column2, v.column3, v.column4 FROM (VALUES {values}) AS v "
                f"WHERE EXISTS (SELECT 1 FROM {keys_table} AS k WHERE k.id = v.column1) "
                f"AND EXISTS (SELECT 1 FROM {projects_table} AS p WHERE p.id = v.column2) "
                "ON CONFLICT (api_key_id, project_id, day) DO UPDATE SET "
                f"requests = {table}.requests + excluded.requests",
                params,
            )


def _upsert_counts(pending: dict[Slot, int]) -> None:
    """KeyUsageCount: the detailed rows, with a project and without (each kind's conflict target
    is its own partial unique constraint), 500 rows a statement."""
    table = connection.ops.quote_name(KeyUsageCount._meta.db_table)
    keys_table = connection.ops.quote_name(ApiKey._meta.db_table)
    projects_table = connection.ops.quote_name(Project._meta.db_table)
    adapt = connection.ops.adapt_datefield_value
    rows = sorted(pending.items(), key=lambda item: (item[0][0], item[0][1] or 0, *item[0][2:]))
    with_project = [(slot, n) for slot, n in rows if slot[1] is not None]
    without = [(slot, n) for slot, n in rows if slot[1] is None]
    update = f"DO UPDATE SET count = {table}.count + excluded.count"
    with connection.cursor() as cursor:
        for start in range(0, len(with_project), ROWS_PER_STATEMENT):
            chunk = with_project[start : start + ROWS_PER_STATEMENT]
            params: list = []
            for (key_pk, project_pk, day, endpoint, status, code), count in chunk:
                params += [key_pk, project_pk, adapt(day), endpoint, status, code, count]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (api_key_id, project_id, day, endpoint, status, code, count) "
                "SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7 "
                f"FROM (VALUES {values}) AS v "
                f"WHERE EXISTS (SELECT 1 FROM {keys_table} AS k WHERE k.id = v.column1) "
                f"AND EXISTS (SELECT 1 FROM {projects_table} AS p WHERE p.id = v.column2) "
                "ON CONFLICT (api_key_id, project_id, day, endpoint, status, code) WHERE project_id IS NOT NULL "
                + update,
                params,
            )
        for start in range(0, len(without), ROWS_PER_STATEMENT):
            chunk = without[start : start + ROWS_PER_STATEMENT]
            params = []
            for (key_pk, _none, day, endpoint, status, code), count in chunk:
                params += [key_pk, adapt(day), endpoint, status, code, count]
            values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (api_key_id, project_id, day, endpoint, status, code, count) "
                "SELECT v.column1, NULL, v.column2, v.column3, v.column4, v.column5, v.column6 "
                f"FROM (VALUES {values}) AS v "
                f"WHERE EXISTS (SELECT 1 FROM {keys_table} AS k WHERE k.id = v.column1) "
                "ON CONFLICT (api_key_id, day, endpoint, status, code) WHERE project_id IS NULL " + update,
                params,
            )


def _upsert_addresses(pending: dict[tuple[int, str], tuple[datetime, str]]) -> None:
    """KeyAddress: each (key, address) seen, with its latest time and User-Agent (a concurrent
    flush's later sighting is kept); then each key's rows beyond the newest ADDRESSES_PER_KEY go."""
    table = connection.ops.quote_name(KeyAddress._meta.db_table)
    keys_table = connection.ops.quote_name(ApiKey._meta.db_table)
    address = "CAST(v.column2 AS inet)" if connection.vendor == "postgresql" else "v.column2"
    adapt = connection.ops.adapt_datetimefield_value
    rows = sorted(pending.items())
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            params: list = []
            for (key_pk, ip), (seen, agent) in chunk:
                params += [key_pk, ip, agent, adapt(seen)]
            values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} (api_key_id, address, user_agent, last_seen) "
                f"SELECT v.column1, {address}, v.column3, v.column4 FROM (VALUES {values}) AS v "
                f"WHERE EXISTS (SELECT 1 FROM {keys_table} AS k WHERE k.id = v.column1) "
                "ON CONFLICT (api_key_id, address) DO UPDATE SET "
                "last_seen = excluded.last_seen, user_agent = excluded.user_agent "
                f"WHERE excluded.last_seen >= {table}.last_seen",
                params,
            )
        key_pks = sorted({key_pk for key_pk, _ in pending})
        for start in range(0, len(key_pks), ROWS_PER_STATEMENT):
            chunk_pks = key_pks[start : start + ROWS_PER_STATEMENT]
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT ranked.id FROM ("
                "SELECT id, ROW_NUMBER() OVER (PARTITION BY api_key_id ORDER BY last_seen DESC, id DESC) AS n "
                f"FROM {table} WHERE api_key_id IN ({', '.join(['%s'] * len(chunk_pks))})"
                f") AS ranked WHERE ranked.n > %s)",
                [*chunk_pks, ADDRESSES_PER_KEY],
            )


def pending_counts() -> dict[tuple[int, date], tuple[int, int, int]]:
    """The unflushed counts per (key, day) by status class (for tests and diagnostics)."""
    with _lock:
        counts = dict(_counts)
    return {slot: (c[0], c[1], c[2]) for slot, c in per_day(counts).items()}


def pending_detail() -> dict[Slot, int]:
    """A copy of the unflushed counts as buffered (tests)."""
    with _lock:
        return dict(_counts)


def discard_pending() -> None:
    """Drop the unflushed counts and restart the flush interval (tests)."""
    global _last_flush
    with _lock:
        _take_buffered()
        _last_flush = time.monotonic()


@atexit.register
def _flush_at_exit() -> None:
    try:
        flush_usage()
    except Exception:  # never let a statistics flush turn an exit into a crash
        logger.exception("API usage: final flush failed")


def after_request(request: HttpRequest, key: ApiKey, response: HttpResponseBase) -> None:
    """Everything recorded about a request of a known key once its response is known: last use
    (authenticated requests only: `request.api_key`), and the count and address (any request of
    the key, refused ones included)."""
    now = clock.now()
    ip = client_ip(request)
    if getattr(request, "api_key", None) is key:
        touch_last_used(key, request, now=now, ip=ip)
    status = response.status_code
    count_request(
        key,
        status,
        endpoint_of(request),
        getattr(response, "error_code", "") if status >= 400 else "",
        project_id=project_of(request, key),
        address=ip,
        agent=user_agent(request),
        now=now,
    )
    flush_if_due()
