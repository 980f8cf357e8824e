"""Last use and usage counts of API keys, without a database write on every request.

Last use. The key row read by authentication carries `last_used_at`; only when that value is
missing or older than `LAST_USED_RESOLUTION` does the request issue one conditional UPDATE
(`... WHERE id = %s AND (last_used_at IS NULL OR last_used_at < now - 60 s)`), so a busy key
costs at most one write per minute, even with many workers racing.

Usage counts. Each authenticated request adds 1 to an in-process counter keyed by
(key, UTC day) and status class: success (1xx-3xx), client_error (4xx), server_error (5xx).
The counters are written in one upsert statement
(`INSERT ... ON CONFLICT (api_key_id, day) DO UPDATE SET success = success + excluded.success, ...`,
the same SQL on PostgreSQL and SQLite) by the first request that finishes at least
`settings.API_USAGE_FLUSH_SECONDS` after the previous flush, and once more when the process
exits (`atexit`). `flush_usage()` writes them on demand.

What a crash can lose: the counts a process gathered since its last flush, i.e. at most
`API_USAGE_FLUSH_SECONDS` (10 s by default) of the requests that process served (a clean
shutdown flushes them). These are statistics for a chart, not billing: losing a few seconds of
counts on a rare crash is a fair price for keeping a write off every request.
A flush never breaks a request: on a database error the counts go back into the buffer for
the next try; counts of keys deleted meanwhile are skipped by the statement itself.
"""

import atexit
import logging
import threading
import time
from collections import defaultdict
from datetime import date, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.http import HttpRequest

from keys.models import ApiKey, KeyProjectUsageDay, KeyUsageDay
from keys_console.client_ip import client_ip
from projects.models import Project

from . import clock

logger = logging.getLogger("api")

LAST_USED_RESOLUTION = timedelta(seconds=60)
ROWS_PER_STATEMENT = 500

SUCCESS, CLIENT_ERROR, SERVER_ERROR = 0, 1, 2

_lock = threading.Lock()
_buffer: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0, 0])
# Account keys: requests per (key, project, day), written with the rest (KeyProjectUsageDay).
_project_buffer: dict[tuple[int, int, date], int] = defaultdict(int)
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


# --- last use ---------------------------------------------------------------------------------
def touch_last_used(key: ApiKey, request: HttpRequest) -> bool:
    """Record the key's last use if the stored value is over a minute old. True if it wrote.

    The cache says whether this is the key's first use this minute (`api.keycache`); without
    the cache, the row's own `last_used_at` decides. The UPDATE is conditional either way."""
    now = clock.now()
    threshold = now - LAST_USED_RESOLUTION
    first_use = getattr(request, "first_use_this_minute", None)
    if first_use is False:
        return False
    if first_use is None and key.last_used_at is not None and key.last_used_at >= threshold:
        return False
    ip = client_ip(request)
    try:
        updated = (
            ApiKey.objects.filter(pk=key.pk)
            .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=threshold))
            .update(last_used_at=now, last_used_ip=ip)
        )
    except DatabaseError as exc:
        logger.warning("API: could not record last use of %s (%s)", key.key_id, type(exc).__name__)
        return False
    key.last_used_at, key.last_used_ip = now, ip
    return bool(updated)


# --- usage counts -----------------------------------------------------------------------------
def count_request(key: ApiKey, status: int) -> None:
    global _buffer_database
    day = clock.now().date()
    with _lock:
        if not _buffer:
            _buffer_database = _database_name()
        _buffer[(key.pk, day)][status_class(status)] += 1
        if key.is_account_key and key.project is not None:
            _project_buffer[(key.pk, key.project.pk, day)] += 1


def flush_if_due() -> None:
    if time.monotonic() - _last_flush >= settings.API_USAGE_FLUSH_SECONDS:
        flush_usage()


def _take_buffered() -> tuple[dict, dict, str | None]:
    """Empty the buffers (the caller holds _lock); what they held and their database."""
    global _buffer, _buffer_database, _project_buffer
    taken = dict(_buffer), dict(_project_buffer), _buffer_database
    _buffer = defaultdict(lambda: [0, 0, 0])
    _project_buffer = defaultdict(int)
    _buffer_database = None
    return taken


def flush_usage() -> int:
    """Write the buffered counts now. Returns the number of (key, day) rows written."""
    global _last_flush
    with _lock:
        _last_flush = time.monotonic()
        if not _buffer:
            return 0
        pending, per_project, database = _take_buffered()
    if database != _database_name():
        logger.warning("API usage: dropping %d counts recorded against another database", len(pending))
        return 0
    try:
        with transaction.atomic():
            written = _upsert(pending)
            if per_project:
                _upsert_per_project(per_project)
        return written
    except DatabaseError as exc:
        logger.warning(
            "API usage: flush failed (%s); keeping %d counts for the next try", type(exc).__name__, len(pending)
        )
        _restore(pending, database, per_project)
        return 0


def _restore(pending: dict, database: str | None, per_project: dict | None = None) -> None:
    global _buffer_database
    with _lock:
        if not _buffer:
            _buffer_database = database
        for slot, count in (per_project or {}).items():
            _project_buffer[slot] += count
        for slot, counts in pending.items():
            current = _buffer[slot]
            for i in range(3):
                current[i] += counts[i]


def _upsert(pending: dict[tuple[int, date], list[int]]) -> int:
    """One INSERT ... ON CONFLICT DO UPDATE per 500 (key, day) rows, in one transaction.

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


def pending_counts() -> dict[tuple[int, date], tuple[int, int, int]]:
    """A copy of the unflushed counts (for tests and diagnostics)."""
    with _lock:
        return {slot: (counts[0], counts[1], counts[2]) for slot, counts in _buffer.items()}


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


def after_request(request: HttpRequest, key: ApiKey, status: int) -> None:
    """Everything recorded about an authenticated request once its response is known."""
    touch_last_used(key, request)
    count_request(key, status)
    flush_if_due()
