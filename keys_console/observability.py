"""What an operator sees: a request id on every log line, JSON logs, and scrubbed error reports.

- `RequestIdMiddleware` (first in MIDDLEWARE) gives every request an id — the incoming
  `X-Request-ID` when it is sane (a proxy's or load balancer's id, so lines can be joined across
  hops), else a fresh one — returns it as `X-Request-ID`, and logs one `request` line per response;
  repeated failures (same key or address, same status and error code) are folded into one line
  a minute with a count (`log_folding.py`), so a flood of bad requests cannot inflate the log.
- `RequestContextFilter` (on the log handler) stamps every record with that id, and with the
  Key ID of the API key the request authenticated with. It reads `request.api_key` generically:
  the API sets it once a key is accepted. Only the public Key ID is logged, never the key.
- `JsonFormatter`: one JSON object per line (production, DEBUG=0); `PlainFormatter` for a terminal.
- `sentry_before_send`: drops credentials and anything shaped like a key from error reports.

The request line names the matched URL route (`projects/invitations/<str:token>/`), not the path,
so an invitation token in a URL never reaches the logs.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

from .client_ip import client_ip, throttle_address
from .log_folding import FailureFolds, Fold, Kind

logger = logging.getLogger("keys_console.request")

REQUEST_ID_HEADER = "X-Request-ID"
# Read from META: `request.headers` would build a dict of every header on each request, which
# nothing else on the API's path needs.
REQUEST_ID_META = "HTTP_X_REQUEST_ID"
# A proxy's id (uuid, hex, base64url, `Root=1-…` style) — printable, short, no spaces or quotes.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:=+/-]{7,127}")
KEY_SHAPED = re.compile(r"(nbq_(?:live|test)_)[A-Za-z0-9]{32}")

_current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar("request", default=None)


def request_id_from(header: str | None) -> str:
    """The incoming id when it is sane, else a new one (32 hex characters, 128 random bits)."""
    if header and SANE_REQUEST_ID.fullmatch(header):
        return header
    return secrets.token_hex(16)


def key_id_of(request: HttpRequest | None) -> str | None:
    key = getattr(request, "api_key", None)
    key_id = getattr(key, "key_id", None)
    return key_id if isinstance(key_id, str) else None


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = request_id_from(request.META.get(REQUEST_ID_META))  # type: ignore[attr-defined]
        token = _current_request.set(request)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request.request_id  # type: ignore[attr-defined]
            if logger.isEnabledFor(logging.INFO):
                log_request(request, response, started)
            return response
        finally:
            _current_request.reset(token)


# Repeated failures are folded into one line a minute (keys_console/log_folding.py): per worker.
_folds = FailureFolds()
clock = time.time  # what the folds' minutes are counted in (tests move it)


def _failure_kind(request: HttpRequest, response: HttpResponse) -> Kind:
    """Who failed how: the Key ID (or the client address, an IPv6 client's /64), status, error code."""
    who = key_id_of(request) or throttle_address(client_ip(request))
    return (who, response.status_code, getattr(response, "error_code", None) or "")


def log_request(request: HttpRequest, response: HttpResponse, started: float) -> None:
    """The request line: every success; a failure only when it is the first of its kind this minute."""
    status = response.status_code
    log_it, ended = _folds.record(_failure_kind(request, response) if status >= 400 else None, clock())
    for fold in ended:
        _log_fold(fold)
    if not log_it:
        return
    match = getattr(request, "resolver_match", None)
    route = match.route if match else None
    fields = {
        "request_id": getattr(request, "request_id", None),
        "key_id": key_id_of(request),
        "method": request.method,
        "route": route,
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    error_code = getattr(response, "error_code", None)
    if error_code:
        fields["error"] = error_code
    if status >= 400:  # a failure line says where it came from (a success's line needs no address)
        fields["client"] = client_ip(request)
    # A record made cheaply (RequestLine, below): worth ~3 % of a served GET /key's CPU, so kept
    # under the rule for tricks on a library's internals (docs/performance.md, "Speed without
    # internals"); tests/api/test_request_log.py fails when it stops matching a LogRecord.
    # It goes to the logger's filters and handlers as Logger.info's would (the level is checked).
    logger.handle(RequestLine(logger.name, "%s %s %s", (request.method, route or "(unmatched)", status), fields))


# What LogRecord.__init__ finds out for every record and a request line never prints: the caller's
# file, line and function, the thread, the process and the asyncio task. A RequestLine holds them as
# LogRecord does when nothing is known (or `logging.logThreads` and the like are off).
_UNKNOWN_ORIGIN = {
    "levelname": "INFO",
    "levelno": logging.INFO,
    "pathname": "",
    "filename": "",
    "module": "",
    "exc_info": None,
    "exc_text": None,
    "stack_info": None,
    "lineno": 0,
    "funcName": None,
    "thread": None,
    "threadName": None,
    "processName": None,
    "process": None,
    "taskName": None,
}
_STARTED_NS = time.time_ns()  # for relativeCreated: about when logging started in this process


class RequestLine(logging.LogRecord):
    """The request line's log record (INFO), its fields as attributes like `extra=` sets them.

    Made for every request, so made cheaply: LogRecord.__init__ spends most of its time on what
    `_UNKNOWN_ORIGIN` leaves out (bench/log_line_cost.py)."""

    def __init__(self, name: str, msg: str, args: tuple, fields: dict[str, Any]):
        now = time.time_ns()
        attributes = self.__dict__
        attributes.update(_UNKNOWN_ORIGIN)
        attributes.update(fields)
        self.name = name
        self.msg = msg
        self.args = args
        self.created = now / 1e9
        self.msecs = (now % 1_000_000_000) // 1_000_000 + 0.0
        self.relativeCreated = (now - _STARTED_NS) / 1e6


def _log_fold(fold: Fold) -> None:
    who, status, error_code = fold.kind
    is_key = who.startswith("key_")
    logger.info(
        "%s more %s%s from %s in the minute from %s (folded)",
        fold.count,
        status,
        f" {error_code}" if error_code else "",
        who,
        datetime.fromtimestamp(fold.window_start, UTC).strftime("%H:%M"),
        extra={
            "status": status,
            "error": error_code or None,
            "folded": fold.count,
            "window_start": datetime.fromtimestamp(fold.window_start, UTC).isoformat(),
            # not the request that happens to write it
            "request_id": None,
            "key_id": who if is_key else None,
            "client": None if is_key else who,
        },
    )


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `key_id` to every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _current_request.get()
        if not hasattr(record, "request_id"):
            record.request_id = getattr(request, "request_id", None)
        if not hasattr(record, "key_id"):
            record.key_id = key_id_of(request)
        return True


# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged too.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
# Never serialised: Django passes the request object (its repr holds the full path) and a socket.
_NEVER = {"request", "server_time"}


_NOT_EXTRA = _STANDARD | _NEVER | {"request_id", "key_id"}
# One encoder for every line: json.dumps(…, default=str, ensure_ascii=False) builds a new one per call.
_encode = json.JSONEncoder(default=str, ensure_ascii=False).encode
_second: tuple[int, str] = (-1, "")


def _utc_millis(created: float) -> str:
    """ "2026-12-04T17:45:51.575+00:00" (as datetime.isoformat), its date and time made once a second."""
    global _second
    whole = int(created)
    second, prefix = _second
    if whole != second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _second = (whole, prefix)
    return f"{prefix}.{int((created - whole) * 1000):03d}+00:00"


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Built cheaply: it runs for every request (bench/log_line_cost.py)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc_millis(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        key_id = getattr(record, "key_id", None)
        if key_id:
            entry["key_id"] = key_id
        for name, value in record.__dict__.items():
            if name not in _NOT_EXTRA and name not in entry:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return _encode(entry)


class PlainFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s%(key_suffix)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id = getattr(record, "request_id", None) or "-"
        key_id = getattr(record, "key_id", None)
        record.key_suffix = f" {key_id}" if key_id else ""
        return super().format(record)


# --- Sentry ---------------------------------------------------------------------------------------
_SECRET_HEADERS = {"authorization", "x-api-key", "cookie", "x-csrftoken"}


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return KEY_SHAPED.sub(r"\1[Filtered]", value)
    if isinstance(value, dict):
        return {k: ("[Filtered]" if str(k).lower() in _SECRET_HEADERS else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def sentry_before_send(event: dict, hint: dict | None = None) -> dict:
    """Credentials out of the request, and no key-shaped string anywhere in the event."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        request.pop("data", None)
        if isinstance(request.get("headers"), dict):
            request["headers"] = {k: v for k, v in request["headers"].items() if k.lower() not in _SECRET_HEADERS}
    return _scrub(event)


def init_sentry(dsn: str, *, environment: str, traces_sample_rate: float) -> None:
    from django.core.exceptions import ImproperlyConfigured

    try:
        import sentry_sdk
    except ImportError:
        raise ImproperlyConfigured(
            "SENTRY_DSN is set but sentry-sdk is not installed: `uv sync --extra sentry` (or unset SENTRY_DSN)."
        ) from None
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
        before_send=sentry_before_send,
        max_request_body_size="never",
    )
