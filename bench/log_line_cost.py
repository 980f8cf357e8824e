"""What one request-log line costs, with the shipped logging (DEBUG=0: the JSON formatter).

    .venv/bin/python bench/log_line_cost.py [--lines 50000]

Times, in this process, the request line exactly as `RequestIdMiddleware` writes it
(`observability.log_request`: the fold bookkeeping, a record from `Logger.info`, the request-context
filter, `JsonFormatter`, the write to a file: /dev/null), the same line through `Logger.info` with
`extra=` (what a LogRecord made the usual way costs), then the parts alone: the formatter's
`format`, `json.dumps` of the same fields, and the fold bookkeeping of a successful request.
Prints microseconds per line (best of 5 runs). Compare with a request's CPU time in
docs/performance.md (`GET /api/v1/key`: about 0.7 ms of worker CPU).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DEBUG"] = "0"
os.environ.pop("LOG_FORMAT", None)
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-3f9c1a7e5d2b8f4a6c0e9d7b5a3f1c8e")
# DEBUG=0 requires REDIS_URL; this measurement never touches the cache (nothing listens on port 1).
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keys_console.settings")

import django  # noqa: E402

django.setup()

from keys_console import observability  # noqa: E402


def best_of(runs: int, lines: int, one) -> float:
    """Microseconds per call, the best of `runs` runs of `lines` calls."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(lines):
            one()
        best = min(best, (time.perf_counter() - started) / lines)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    args = parser.parse_args()

    (handler,) = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    assert isinstance(handler, logging.StreamHandler), "not the shipped console handler"
    assert isinstance(handler.formatter, observability.JsonFormatter), "not the shipped production formatter"
    with open(os.devnull, "w") as sink:
        handler.setStream(sink)
        logger = observability.logger
        request = SimpleNamespace(
            request_id="0123456789abcdef0123456789abcdef",
            api_key=SimpleNamespace(key_id="key_abcdefgh12345678"),
            method="GET",
            resolver_match=SimpleNamespace(route="api/v1/key"),
        )
        response = SimpleNamespace(status_code=200, error_code=None)
        observability._current_request.set(request)  # type: ignore[arg-type]
        started = time.perf_counter()

        def full_line():
            observability.log_request(request, response, started)

        extra = {"method": "GET", "route": "api/v1/key", "status": 200, "duration_ms": 0.8}

        def through_logger_info():
            logger.info("%s %s %s", "GET", "api/v1/key", 200, extra=extra)

        record = logger.makeRecord(
            logger.name,
            logging.INFO,
            __file__,
            0,
            "%s %s %s",
            ("GET", "api/v1/key", 200),
            None,
            extra={"request_id": request.request_id, "key_id": "key_abcdefgh12345678", **extra},
        )
        observability.RequestContextFilter().filter(record)
        formatter = handler.formatter

        def format_only():
            formatter.format(record)

        fields = json.loads(formatter.format(record))

        def dumps_only():
            json.dumps(fields, default=str, ensure_ascii=False)

        folds = observability.FailureFolds()
        now = time.time()

        def fold_success():
            folds.record(None, now)

        results = {
            "request line as RequestIdMiddleware writes it (folds, record, filter, format, write)": best_of(
                5, args.lines, full_line
            ),
            "  the same line through Logger.info(..., extra=...)": best_of(5, args.lines, through_logger_info),
            "  JsonFormatter.format alone": best_of(5, args.lines, format_only),
            "  json.dumps of the same fields alone": best_of(5, args.lines, dumps_only),
            "fold bookkeeping of a success (FailureFolds.record)": best_of(5, args.lines, fold_success),
        }
    for name, micros in results.items():
        print(f"{name:<100} {micros:7.2f} µs")
    print(f"one line: {formatter.format(record)}")


if __name__ == "__main__":
    main()
