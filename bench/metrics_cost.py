"""What /metrics' counting costs a `GET /api/v1/key` (issue #28: no more than 3 %).

    .venv/bin/python bench/metrics_cost.py [--batches 40] [--per-batch 100]

In one process, as a gunicorn worker runs it: DEBUG=0, a private redis-server (the key's record
cached, as in production), a fresh SQLite database with one key, prometheus-client in multiprocess
mode (PROMETHEUS_MULTIPROC_DIR: every increment goes to a memory-mapped file, as under
keys_console/gunicorn_conf.py). Two WSGI handlers are built, the shipped MIDDLEWARE with and without
`MetricsMiddleware` (METRICS_TOKEN set and unset), and `GET /api/v1/key` is sent to each through the
WSGI interface in paired batches (which goes first alternates); CPU time per request
(process_time), medians of the batches and of the pairs' differences.
Then the counting alone (`observe_request` + `count_authentication`, CPU time), best of 5. On a
busy machine the A/B is noisy (the CPU time of a request moves by more than the counting costs);
the counting alone against the request's CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
WORK = Path(tempfile.mkdtemp(prefix="nbq-metrics-cost-"))
(WORK / "prom").mkdir()
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    REDIS_PORT = s.getsockname()[1]
os.environ.update(
    {
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-3f9c1a7e5d2b8f4a6c0e9d7b5a3f1c8e",
        "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        "DATABASE_URL": f"sqlite:///{WORK / 'db.sqlite3'}",
        "PROMETHEUS_MULTIPROC_DIR": str(WORK / "prom"),
        "METRICS_TOKEN": "bench-token",
        "LOG_LEVEL": "INFO",
        "API_KEY_RATE_LIMIT_PER_MINUTE": "100000000",
        "DJANGO_SETTINGS_MODULE": "keys_console.settings",
    }
)
for name in ("LOG_FORMAT", "API_KEY_RECORD_CACHE_SECONDS", "API_USAGE_FLUSH_SECONDS"):
    os.environ.pop(name, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--per-batch", type=int, default=100)
    parser.add_argument("--aa", action="store_true", help="both sides without metrics: the noise of the A/B")
    args = parser.parse_args()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        run(args)
    finally:
        redis.terminate()
        redis.wait(5)
        shutil.rmtree(WORK, ignore_errors=True)


def run(args) -> None:
    import logging

    import django

    django.setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.test.utils import override_settings

    from keys_console import metrics

    call_command("migrate", verbosity=0)
    with override_settings(DEBUG=True):  # the demo account is for this throwaway database only
        call_command("seed_demo", stdout=io.StringIO())
    out = io.StringIO()
    call_command("create_api_key", "demo", "--name", "bench", "--permissions", "read", stdout=out, stderr=io.StringIO())
    key = out.getvalue().strip()
    for log_handler in logging.getLogger().handlers:  # the request line is written, to nowhere
        if isinstance(log_handler, logging.StreamHandler):
            log_handler.setStream(open(os.devnull, "w"))  # noqa: SIM115

    assert settings.MIDDLEWARE[0] == "keys_console.metrics.MetricsMiddleware"
    with_metrics = WSGIHandler()
    plain = [m for m in settings.MIDDLEWARE if m != "keys_console.metrics.MetricsMiddleware"]
    with override_settings(MIDDLEWARE=plain, METRICS_TOKEN=""):
        without = WSGIHandler()
        if args.aa:
            with_metrics = WSGIHandler()

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/v1/key",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {key}",
        "HTTP_X_FORWARDED_PROTO": "https",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def batch(handler, token: str) -> float:
        with override_settings(METRICS_TOKEN=token):
            started = time.process_time()
            for _ in range(args.per_batch):
                response = handler(dict(environ), start_response)
                b"".join(response)
                response.close()
            return (time.process_time() - started) / args.per_batch * 1e6

    if os.environ.get("METRICS_COST_PROFILE"):
        import cProfile
        import pstats

        for handler, token in ((with_metrics, "bench-token"), (without, "")):
            batch(handler, token)
            profile = cProfile.Profile()
            profile.runcall(batch, handler, token)
            pstats.Stats(profile).sort_stats("tottime").print_stats(12)
        return
    on_token = "" if args.aa else "bench-token"
    for _ in range(3):  # warm up: the record cached, statements prepared, code paths hot
        batch(with_metrics, on_token), batch(without, "")
    on, off, differences = [], [], []
    for number in range(args.batches):  # paired batches, which goes first alternating
        if number % 2:
            a = batch(with_metrics, on_token)
            b = batch(without, "")
        else:
            b = batch(without, "")
            a = batch(with_metrics, on_token)
        on.append(a)
        off.append(b)
        differences.append(a - b)
    assert set(statuses) == {"200 OK"}, set(statuses)
    median_on, median_off, median_difference = (
        statistics.median(on),
        statistics.median(off),
        statistics.median(differences),
    )

    def best_of(calls: int, one) -> float:
        best = float("inf")
        for _ in range(5):
            started = time.process_time()
            for _ in range(calls):
                one()
            best = min(best, (time.process_time() - started) / calls)
        return best * 1e6

    def count_one_request() -> None:
        metrics.observe_request("api/v1/key", "GET", 200, 0.0004)
        metrics.count_authentication("ok")

    with override_settings(METRICS_TOKEN="bench-token"):
        counting = best_of(50_000, count_one_request)
    print(f"GET /api/v1/key in one process, {args.batches} x 2 batches of {args.per_batch} requests (CPU per request):")
    print(f"  metrics off: {median_off:.1f} µs   metrics on: {median_on:.1f} µs")
    print(f"  paired difference (median): {median_difference:+.1f} µs = {median_difference / median_off * 100:+.1f} %")
    print(
        f"the counting alone (observe_request + count_authentication, multiprocess files): {counting:.1f} µs"
        f" = {counting / median_off * 100:.1f} % of the request"
    )


if __name__ == "__main__":
    main()
