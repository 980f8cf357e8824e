"""What recording a request's usage costs on the hot path (issue #31), in this process.

    [BENCH_REDIS_URL=redis://127.0.0.1:PORT/0] .venv/bin/python bench/usage_cost.py [--calls N] [--requests N]

Times `api.usage.after_request` as `ApiResponseMiddleware` calls it for a `GET /api/v1/key` in
steady state (the key's first use this minute is past, so last use writes nothing; the flush is
not due): today's code, which counts per key, project, day, endpoint (the route's operation id)
and outcome and remembers the client address and User-Agent, against the code it replaced
(`api/usage.py` at cb12610^, which counted per key, day and status class only), both on the same
request (interleaved, best of 3 × 5 runs each). Also: the parts alone; whole requests through
Django's handler with either code (with BENCH_REDIS_URL, a Redis of your own); and, for
comparison, one Redis HINCRBY round trip (a private redis-server on a free port, when one can be
started): what counting in the shared cache on the request path would have cost instead. Prints
microseconds per call. Compare with a request's CPU time in docs/performance.md
(`GET /api/v1/key`: about 0.9 ms of worker CPU).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-3f9c1a7e5d2b8f4a6c0e9d7b5a3f1c8e")
# DEBUG=0 requires REDIS_URL. The parts never touch the cache; the whole requests use BENCH_REDIS_URL
# (a Redis of your own: the script's counters and records go there) and a throwaway SQLite file.
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:1/0"
os.environ["DATABASE_URL"] = "sqlite:///" + str(Path(tempfile.mkdtemp()) / "usage_cost.sqlite3")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")  # no request line: the denominator without the log
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keys_console.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.urls import resolve  # noqa: E402

from api import usage  # noqa: E402
from keys.models import ApiKey  # noqa: E402

OLD_COMMIT = "cb12610^"


def old_usage_module():
    """api/usage.py as it was before #31, loaded under another name from git."""
    source = subprocess.run(
        ["git", "show", f"{OLD_COMMIT}:api/usage.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_usage.py"
    path.write_text(source.replace("from . import clock", "from api import clock"))
    spec = importlib.util.spec_from_file_location("old_usage", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best_of(runs: int, calls: int, one) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(calls):
            one()
        best = min(best, time.perf_counter() - started)
    return best / calls * 1e6


def redis_round_trip(calls: int) -> float | None:
    try:
        import redis

        from tests.redis_for_tests import redis_for_tests, stop_private_redis
    except ImportError:
        return None
    os.environ.pop("TEST_REDIS_URL", None)
    try:
        url = redis_for_tests()
    except BaseException:  # no redis-server here: skip
        return None
    try:
        client = redis.Redis.from_url(url, single_connection_client=True)
        client.ping()
        return best_of(5, calls // 10, lambda: client.hincrby("bench:usage", "1:1:2026-12-07:getKey:200:", 1))
    finally:
        stop_private_redis()


def whole_requests(old, requests: int) -> tuple[float, float] | None:
    """Whole `GET /api/v1/key` requests through Django's handler in this process (no network),
    the key's record from Redis as in production (BENCH_REDIS_URL, e.g. a private redis-server),
    its row in a throwaway SQLite database: µs per request with today's bookkeeping and with the
    code it replaced (best of 5 runs each, interleaved). None without BENCH_REDIS_URL."""
    if not os.environ.get("BENCH_REDIS_URL"):
        return None
    from django.core.management import call_command
    from django.test import Client

    from api import response_hooks
    from tests.factories import ApiKeyFactory, ProjectFactory

    call_command("migrate", verbosity=0)
    key = ApiKeyFactory(project=ProjectFactory(active_questions=12), rate_limit_per_minute=1_000_000)
    client = Client(HTTP_HOST="127.0.0.1", HTTP_X_FORWARDED_PROTO="https")  # as behind the proxy
    plaintext = key.plaintext  # type: ignore[attr-defined]  # the factory keeps it for tests
    headers = {"Authorization": f"Bearer {plaintext}", "User-Agent": "python-httpx/0.28.1"}
    for _ in range(200):  # warm: record cached, last use written, operation table built
        response = client.get("/api/v1/key", headers=headers, REMOTE_ADDR="203.0.113.7")
        assert response.status_code == 200, (response.status_code, response.content[:200])
    today = response_hooks.usage.after_request

    def before(request, key, response):
        if getattr(request, "api_key", None) is not None:  # it counted authenticated requests only
            old.after_request(request, key, response.status_code)

    best = {"now": float("inf"), "before": float("inf")}
    for _ in range(5):
        for label, hook in (("now", today), ("before", before)):
            response_hooks.usage.after_request = hook
            started = time.perf_counter()
            for _ in range(requests):
                client.get("/api/v1/key", headers=headers, REMOTE_ADDR="203.0.113.7")
            best[label] = min(best[label], (time.perf_counter() - started) / requests * 1e6)
    response_hooks.usage.after_request = today
    return best["now"], best["before"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=3000, help="whole requests per run (BENCH_REDIS_URL)")
    arguments = parser.parse_args()
    calls = arguments.calls
    settings.API_USAGE_FLUSH_SECONDS = 10**9  # never due during the measurement
    request = RequestFactory().get("/api/v1/key", REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="python-httpx/0.28.1")
    request.resolver_match = resolve("/api/v1/key")
    key = ApiKey(pk=1, project_id=1, key_id="key_bench", name="bench")
    request.api_key = request.usage_key = key  # type: ignore[attr-defined]  # as api.auth sets them
    request.first_use_this_minute = False  # type: ignore[attr-defined]  # steady state: last use written
    response = HttpResponse(b"{}", content_type="application/json")
    old = old_usage_module()

    usage.after_request(request, key, response)  # warm: the operation table is built once
    new_cost = old_cost = float("inf")
    for _ in range(3):  # interleaved, so a slow moment of the machine hits both alike
        new_cost = min(new_cost, best_of(5, calls, lambda: usage.after_request(request, key, response)))
        usage.discard_pending()
        old_cost = min(old_cost, best_of(5, calls, lambda: old.after_request(request, key, 200)))
        old.discard_pending()
    parts = {
        "endpoint_of (route -> operation id)": lambda: usage.endpoint_of(request),
        "project_of": lambda: usage.project_of(request, key),
        "client_ip + user_agent": lambda: (usage.client_ip(request), usage.user_agent(request)),
        "count_request (the dict increments under the lock)": lambda: usage.count_request(
            key, 200, "getKey", "", project_id=1, address="203.0.113.7", agent="python-httpx/0.28.1"
        ),
    }
    print(f"after_request, before #31 (key, day, status class):         {old_cost:6.2f} us/request")
    print(f"after_request, #31 (+ project, endpoint, outcome, address):  {new_cost:6.2f} us/request")
    print(f"added by #31:                                                 {new_cost - old_cost:6.2f} us/request")
    for label, one in parts.items():
        print(f"  {label:<55} {best_of(5, calls, one):6.2f} us")
    usage.discard_pending()
    whole = whole_requests(old, arguments.requests)
    if whole is not None:
        now, before = whole
        print(f"whole GET /api/v1/key in process, before #31:                 {before:6.1f} us/request")
        print(f"whole GET /api/v1/key in process, #31:                        {now:6.1f} us/request")
        print(f"  difference: {now - before:+.1f} us ({(now - before) / before * 100:+.1f} %)")
    rtt = redis_round_trip(calls)
    if rtt is not None:
        print(f"for comparison, one Redis HINCRBY round trip (loopback):      {rtt:6.2f} us/request")


if __name__ == "__main__":
    main()
