"""GET /metrics adds up every gunicorn worker's counts (prometheus-client's multiprocess mode, set up
by keys_console/gunicorn_conf.py), whichever worker answers the scrape, also after a worker died."""

import os
import re
import signal
import time

import pytest

from keys import keygen
from tests.factories import ApiKeyFactory

from . import live

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 3
TOKEN = "metrics-token-" + "m" * 30
CONFIG = live.REPO / "keys_console" / "gunicorn_conf.py"


def scrape(server) -> str:
    reply = server.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status == 200, reply.body[:300]
    return reply.body.decode()


def sample(text: str, name: str, **labels) -> float:
    """The value of one sample (labels in any order), 0 when absent."""
    for line in text.splitlines():
        found = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line) or re.fullmatch(rf"{name} (\S+)", line)
        if not found:
            continue
        if found.lastindex == 1:
            return float(found.group(1)) if not labels else 0.0
        have = dict(re.findall(r'(\w+)="([^"]*)"', found.group(1)))
        if have == {k: str(v) for k, v in labels.items()}:
            return float(found.group(2))
    return 0.0


def test_counters_add_up_across_workers(redis_url, project, tmp_path, figures):
    metrics_dir = tmp_path / "metrics"
    server = live.Gunicorn(
        database_url=live.database_url(),
        redis_url=redis_url,
        workers=WORKERS,
        env={
            "METRICS_TOKEN": TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "DRAIN_SECONDS": "0",
            "API_KEY_RATE_LIMIT_PER_MINUTE": "100000",
        },
        log_dir=tmp_path,
        config=CONFIG,
    )
    server.start(timeout=120)
    try:
        key = ApiKeyFactory(project=project, permissions=["read"]).plaintext
        assert server.get("/metrics").status == 404  # no token: as if there were no such page
        assert server.get("/metrics", headers={"Authorization": "Bearer nope"}).status == 404
        ok, malformed, unknown = 60, 15, 5
        statuses = [server.get("/api/v1/key", headers=live.bearer(key)).status for _ in range(ok)]
        statuses += [
            server.get("/api/v1/key", headers=live.bearer("nbq_live_" + "x" * 32)).status for _ in range(malformed)
        ]
        statuses += [
            server.get("/api/v1/key", headers=live.bearer(keygen.generate_key())).status for _ in range(unknown)
        ]
        assert statuses == [200] * ok + [401] * (malformed + unknown)
        # Every worker wrote its own counts (one file per process).
        writers = {re.search(r"_(\d+)\.db$", p).group(1) for p in os.listdir(metrics_dir) if p.startswith("counter_")}
        assert len(writers) >= 2, writers

        scrapes = [scrape(server) for _ in range(2 * WORKERS)]  # answered by whichever worker is free
        for text in scrapes:
            assert sample(text, "nbq_http_requests_total", route="api/v1/key", method="GET", status="200") == ok
            assert sample(text, "nbq_api_authentications_total", outcome="ok") == ok
            assert sample(text, "nbq_api_authentications_total", outcome="invalid") == malformed
            assert sample(text, "nbq_api_authentications_total", outcome="unknown") == unknown
            assert sample(text, "nbq_http_request_duration_seconds_count", route="api/v1/key") == ok + unknown
            assert sample(text, "nbq_api_keys", status="active", kind="project") == 1

        # A worker dies (SIGKILL): the arbiter replaces it, and what it counted is still counted.
        victim = sorted(server.worker_pids())[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while (victim in server.worker_pids() or len(server.worker_pids()) < WORKERS) and time.monotonic() < deadline:
            time.sleep(0.2)
        more = [server.get("/api/v1/key", headers=live.bearer(key)).status for _ in range(10)]
        assert more == [200] * 10
        after = scrape(server)
        assert sample(after, "nbq_http_requests_total", route="api/v1/key", method="GET", status="200") == ok + 10
        figures.update(workers=WORKERS, writers=len(writers), scrapes=len(scrapes) + 1, counted_after_kill=ok + 10)
    finally:
        server.stop()
