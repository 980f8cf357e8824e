"""Faults during traffic, against gunicorn (3 workers, DEBUG=0, the production defaults: persistent connections):

- PostgreSQL stopped and started again, with a forgotten client hammering a revoked key from the same
  address: while it is down the API answers 503 with a JSON error and `Retry-After` at once (no
  hang, no HTML 500, never a 429); when it is back the same workers serve 200 again within 2 s,
  without a restart; usage counts gathered during the outage are not lost.
- One address, many clients (a NAT): a forgotten client hammering a revoked key never gets a
  valid key of its neighbours refused (cached, created meanwhile, never used, after Redis
  restarted, after 101 made-up keys), and its key costs one SQL query (counted in the server's
  statement log).
- Redis killed and started again: the rate limiter fails open (200s go on, no 5xx), and counts
  again once Redis is back.
- A worker killed (SIGKILL, a crash): the arbiter replaces it; no 5xx; the usage counts lost
  stay within the documented bound (what that worker served in its last flush interval).
- `/healthz` says which part is down: 503 naming `database` while PostgreSQL is stopped, 200
  `degraded` naming `cache` while Redis is (the host still serves), and `ok` again once each is back.

The database of these tests is a private PostgreSQL cluster on a free port (initdb'd, migrated and
seeded here), so stopping it disturbs neither pytest's own test database nor anything else on
the machine. Redis, too, is a private redis-server. Needs the PostgreSQL server binaries
(/usr/lib/postgresql/*/bin) and redis-server.
"""

import os
import shutil
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.conftest import REQUIRE_POSTGRES

from . import live

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WORKERS = 3
FLUSH_SECONDS = 3  # API_USAGE_FLUSH_SECONDS of the servers here: the crash-loss bound


def _missing_tools() -> str | None:
    if live._pg_bin() is None:
        return "PostgreSQL server binaries (/usr/lib/postgresql/*/bin)"
    if shutil.which("redis-server") is None:
        return "redis-server"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "runuser (to run initdb as postgres)"
    return None


@pytest.fixture(scope="module")
def cluster():
    """A private PostgreSQL, migrated, with the demo project (12 active questions)."""
    missing = _missing_tools()
    if missing:
        if REQUIRE_POSTGRES:
            pytest.fail(f"fault tests need {missing} (REQUIRE_POSTGRES=1)")
        pytest.skip(f"fault tests need {missing}")
    pg = live.PrivatePostgres()
    try:
        pg.start()
        live.manage(pg.url, "migrate", "--noinput")
        live.manage(pg.url, "seed_demo", env={"DEBUG": "1"})
        yield pg
    finally:
        pg.destroy()


@pytest.fixture
def private_redis():
    redis = live.PrivateRedis()
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture
def server_on(request):
    """server_on(cluster, redis_url) -> a running gunicorn; stopped by the finalizer."""
    servers = []

    def start(pg, redis_url, **env):
        server = live.Gunicorn(
            database_url=pg.url,
            redis_url=redis_url,
            workers=WORKERS,
            env={"API_USAGE_FLUSH_SECONDS": FLUSH_SECONDS, "API_KEY_RATE_LIMIT_PER_MINUTE": 100_000_000, **env},
            log_dir=request.getfixturevalue("tmp_path"),
        )
        servers.append(server)
        return server.start(timeout=120)  # a loaded machine: the first answer can take a while

    yield start
    for server in servers:
        server.stop()


def new_key(pg, name: str, rate_limit: int | None = None) -> str:
    args = ["create_api_key", "demo", "--name", name, "--permissions", "read"]
    if rate_limit:
        args += ["--rate-limit", str(rate_limit)]
    return live.manage(pg.url, *args).stdout.strip()


def stored_usage(pg, name: str) -> int:
    with psycopg.connect(pg.url.replace("postgres://", "postgresql://"), connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT COALESCE(SUM(u.success + u.client_error + u.server_error), 0) FROM keys_keyusageday u "
            "JOIN keys_apikey k ON k.id = u.api_key_id WHERE k.name = %s",
            [name],
        ).fetchone()
    assert row is not None
    return int(row[0])


class Traffic:
    """N threads sending GETs with one key until stopped; every reply (or transport error) is kept."""

    def __init__(self, server, plaintext, threads=8, path="/api/v1/questions", timeout=20):
        self.server, self.plaintext, self.path, self.timeout = server, plaintext, path, timeout
        self.replies: list[live.Reply] = []
        self.errors: list[tuple[float, str]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self):
        while not self.stop.is_set():
            started = time.time()
            try:
                self.replies.append(
                    self.server.get(self.path, headers=live.bearer(self.plaintext), timeout=self.timeout)
                )
            except OSError as exc:
                self.errors.append((started, f"{type(exc).__name__}: {exc}"))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()

    def between(self, start: float, end: float) -> list[live.Reply]:
        return [r for r in self.replies if start <= r.started <= end]


def revoked_key(pg, name: str) -> str:
    plaintext = new_key(pg, name)
    live.manage(pg.url, "revoke_api_key", key_id_of(pg, name))
    return plaintext


def key_id_of(pg, name: str) -> str:
    with psycopg.connect(pg.url.replace("postgres://", "postgresql://"), connect_timeout=5) as conn:
        row = conn.execute("SELECT key_id FROM keys_apikey WHERE name = %s", [name]).fetchone()
    assert row is not None
    return row[0]


class Hammer:
    """A forgotten client: `threads` threads sending one (revoked) key as fast as they can."""

    def __init__(self, server, plaintext, threads=2):
        self.traffic = Traffic(server, plaintext, threads=threads, path="/api/v1/key", timeout=10)

    def __enter__(self):
        self.started = time.time()
        self.traffic.__enter__()
        return self

    def __exit__(self, *exc):
        self.traffic.__exit__(*exc)
        self.finished = time.time()

    @property
    def replies(self) -> list[live.Reply]:
        return self.traffic.replies

    def rate(self) -> float:
        return len(self.replies) / (max(r.finished for r in self.replies) - self.started)

    def wait_for(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.replies) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.replies) >= count, f"the hammer sent {len(self.replies)} requests, not {count}"


def test_postgres_restart_during_traffic(cluster, server_on, private_redis, figures):
    """Also with a forgotten client hammering a revoked key from the same address (one NAT): the
    new key of the traffic is never answered 429, and is served again within 2 s of the restart."""
    plaintext = new_key(cluster, "pg-restart")
    dead = revoked_key(cluster, "pg-restart-revoked")
    server = server_on(cluster, private_redis.url)
    with Hammer(server, dead) as hammer:
        hammer.wait_for(150)  # past the address's budget of 100 failures, had they counted
        with Traffic(server, plaintext) as traffic:  # the key's first use comes after them
            time.sleep(3)
            down_at = time.time()
            stopped = cluster.stop("fast")  # terminates the workers' persistent connections too
            stopped_at = time.time()
            time.sleep(4)
            up_at = time.time()
            cluster.start()
            started_at = time.time()
            time.sleep(4)
        end = time.time()

    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    statuses = Counter(r.status for r in traffic.replies)
    assert set(statuses) <= {200, 503}, statuses
    assert not traffic.errors, traffic.errors[:5]
    # Served during the outage: sent after the stop and answered before the start. (A request
    # sent during the outage may wait in the listen backlog until PostgreSQL is back: a 200.)
    outage = [r for r in traffic.between(stopped_at + 0.2, up_at) if r.finished <= up_at]
    assert outage and {r.status for r in outage} == {503}, (
        Counter(r.status for r in outage),
        [
            (round(r.started - stopped_at, 3), round(r.finished - stopped_at, 3), r.status)
            for r in outage
            if r.status != 503
        ],
    )
    for r in (r for r in traffic.replies if r.status == 503):
        assert r.headers["content-type"].startswith("application/json"), r.body[:200]
        assert r.error_code == "service_unavailable"
        assert r.headers["retry-after"] == "5"
    slowest_503 = max(r.finished - r.started for r in traffic.replies if r.status == 503)
    assert slowest_503 < 5, "an outage answer must come at once (connect timeout 3 s), not hang"
    before = [r for r in traffic.replies if r.finished < down_at]  # (those in flight at the stop may 503)
    assert before and {r.status for r in before} == {200}
    recovered = [r for r in traffic.replies if r.started >= started_at and r.status == 200]
    assert recovered, "no 200 after PostgreSQL came back"
    first_ok = min(r.finished for r in recovered) - started_at
    assert first_ok < 2, f"first 200 {first_ok:.2f} s after PostgreSQL was back"
    hammered = Counter(r.status for r in hammer.replies)
    assert set(hammered) <= {401, 503}, hammered
    assert {r.error_code for r in hammer.replies if r.status == 401} == {"revoked_api_key"}
    tail = traffic.between(started_at + 1.0, end)
    assert tail and {r.status for r in tail} == {200}, Counter(r.status for r in tail)
    # Same workers throughout: nothing crashed or was restarted to recover.
    log = server.log_text()
    assert server.booted_pids() == server.worker_pids(), "a worker was replaced"
    assert "Traceback" not in log and "WORKER TIMEOUT" not in log

    server.stop()
    ok = statuses[200]
    stored = stored_usage(cluster, "pg-restart")
    # Counted: every 200, plus any 503 raised after authentication (a server_error). None lost:
    # a flush that fails during the outage keeps its counts for the next try.
    assert ok <= stored <= ok + statuses[503], (ok, statuses[503], stored)
    figures.update(
        requests=len(traffic.replies),
        statuses=dict(statuses),
        outage_seconds=round(up_at - down_at, 1),
        answers_during_outage=len(outage),
        slowest_503_ms=round(slowest_503 * 1000),
        first_200_after_restart_ms=round(first_ok * 1000),
        usage_stored=stored,
        usage_ok_responses=ok,
        usage_lost=max(0, ok - stored),
        transport_errors=len(traffic.errors),
        revoked_key_requests=len(hammer.replies),
        revoked_key_statuses=dict(hammered),
    )


def test_redis_killed_during_traffic(cluster, server_on, private_redis, figures):
    busy = new_key(cluster, "redis-busy")
    limited = new_key(cluster, "redis-limited", rate_limit=5)
    server = server_on(cluster, private_redis.url)
    with Traffic(server, busy, threads=6, path="/api/v1/key") as traffic:
        time.sleep(2)
        killed_at = time.time()
        private_redis.stop()
        time.sleep(3)
        # Fail open: a key far over its limit is served while the counter is gone.
        with ThreadPoolExecutor(5) as pool:
            unthrottled = list(pool.map(lambda _: server.get("/api/v1/key", headers=live.bearer(limited)), range(15)))
        restarted_at = time.time()
        private_redis.start()
        time.sleep(live_pause := 6)  # > CACHE_PAUSE_SECONDS: each worker tries Redis again
    statuses = Counter(r.status for r in traffic.replies)
    assert set(statuses) == {200}, statuses
    assert not traffic.errors, traffic.errors[:5]
    during = traffic.between(killed_at + 0.2, restarted_at)
    waits = sorted(r.finished - r.started for r in during)
    assert during and waits[len(waits) // 2] < 1 and waits[-1] < 5, "a dead Redis must not stall requests"
    assert [r.status for r in unthrottled] == [200] * 15
    assert "cache unavailable" in server.log_text() and "rate limits off" in server.log_text()

    # Back on: the limit counts again (a fresh Redis, so a fresh window budget).
    left = 60 - time.time() % 60
    if left < 6:
        time.sleep(left + 0.2)
    with ThreadPoolExecutor(5) as pool:
        burst = list(pool.map(lambda _: server.get("/api/v1/key", headers=live.bearer(limited)), range(15)))
    assert Counter(r.status for r in burst) == {200: 5, 429: 10}, Counter(r.status for r in burst)
    assert "Traceback" not in server.log_text()
    figures.update(
        requests=len(traffic.replies) + 30,
        statuses=dict(statuses),
        redis_down_seconds=round(restarted_at - killed_at, 1),
        over_limit_served_while_down=15,
        limited_after_recovery=10,
        slowest_while_down_ms=round(max(r.finished - r.started for r in during) * 1000),
        pause_s=live_pause,
    )


def test_worker_crash_during_traffic(cluster, server_on, private_redis, figures):
    plaintext = new_key(cluster, "crash")
    server = server_on(cluster, private_redis.url)
    with Traffic(server, plaintext, threads=8) as traffic:
        time.sleep(FLUSH_SECONDS * 2 + 1)
        victim = sorted(server.worker_pids())[0]
        os.kill(victim, signal.SIGKILL)  # a worker of the gunicorn this test started
        killed_at = time.time()
        time.sleep(4)
    replacement = server.worker_pids()
    assert victim not in replacement and len(replacement) == WORKERS, "the arbiter did not replace the worker"
    statuses = Counter(r.status for r in traffic.replies)
    assert set(statuses) == {200}, statuses
    # The request the worker was serving when it died loses its connection; nothing else does.
    assert len(traffic.errors) <= 1, traffic.errors
    after = traffic.between(killed_at + 1, time.time())
    assert after and {r.status for r in after} == {200}

    server.stop()
    served = statuses[200]
    stored = stored_usage(cluster, "crash")
    lost = served - stored
    by_victim = [p for p, pid in server.pids_for(traffic.replies, wait=1).items() if pid == victim]
    victim_replies = [r for r in traffic.replies if r.probe in set(by_victim)]
    recent = [r for r in victim_replies if r.finished >= killed_at - FLUSH_SECONDS - 0.5]
    assert 0 <= lost <= len(recent), (served, stored, len(recent))
    figures.update(
        requests=len(traffic.replies),
        transport_errors=len(traffic.errors),
        usage_lost=lost,
        loss_bound=len(recent),
        served_by_crashed_worker=len(victim_replies),
        flush_seconds=FLUSH_SECONDS,
    )


def _healthz(server) -> live.Reply:
    return server.get("/healthz", timeout=10)


def test_healthz_names_the_database_while_postgres_is_stopped(cluster, server_on, private_redis):
    server = server_on(cluster, private_redis.url)
    up = _healthz(server)
    assert up.status == 200 and up.json()["checks"] == {"database": "ok", "cache": "ok"}
    stopped = cluster.stop("fast")
    try:
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        down = [_healthz(server) for _ in range(WORKERS * 2)]  # whichever worker answers
    finally:
        cluster.start()
    for reply in down:
        assert reply.status == 503, reply.body[:300]
        assert reply.json()["failing"] == ["database"] and reply.json()["checks"]["cache"] == "ok"
        assert reply.finished - reply.started < 5, "a stopped database must not hang the probe"
    deadline = time.monotonic() + 15
    while (back := _healthz(server)).status != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert back.status == 200, back.body[:300]


def test_healthz_says_degraded_while_redis_is_stopped(cluster, server_on, private_redis):
    """The host still serves without its cache (the API falls back to the database): 200, so a
    balancer keeps it, with the cache named as unavailable in the body."""
    server = server_on(cluster, private_redis.url)
    assert _healthz(server).status == 200
    private_redis.stop()
    down = [_healthz(server) for _ in range(WORKERS * 2)]
    for reply in down:
        assert reply.status == 200, reply.body[:300]
        assert reply.json()["status"] == "degraded" and reply.json()["degraded"] == ["cache"]
        assert reply.json()["checks"] == {"database": "ok", "cache": "unavailable"}
        assert reply.finished - reply.started < 5
    private_redis.start()
    deadline = time.monotonic() + 15
    while (back := _healthz(server)).json()["status"] != "ok" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert back.status == 200 and back.json()["status"] == "ok", back.body[:300]
    assert "Traceback" not in server.log_text()


# --- one address, many clients (a NAT, an egress proxy) ------------------------------------------
class StatementLog:
    """Every SQL statement the private cluster runs, in its server log, for as long as the block
    lasts (`log_statement = all`, set and reset with ALTER SYSTEM). A statement that looks a key up
    names its hash: inline on its `statement:` line when parameters are bound on the client
    (behind PgBouncer), or on the `parameters:` detail line of its `execute` when they are bound on
    the server (settings: straight to PostgreSQL), one such line per execution."""

    def __init__(self, pg):
        self.pg, self.path = pg, pg.dir / "server.log"

    def _set(self, value: str | None) -> None:
        with psycopg.connect(self.pg.url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET log_statement = '{value}'" if value else "ALTER SYSTEM RESET log_statement")
            conn.execute("SELECT pg_reload_conf()")

    def __enter__(self):
        self._set("all")
        return self

    def __exit__(self, *exc):
        self._set(None)

    def count(self, text: str) -> int:
        return sum(
            1
            for line in self.path.read_text(errors="replace").splitlines()
            if text in line and ("statement:" in line or "parameters:" in line.lower())
        )


def statuses_of(replies) -> Counter:
    return Counter(r.status for r in replies)


def test_one_address_many_clients(cluster, server_on, private_redis, figures):
    """A forgotten client hammers a revoked key (>= 50 req/s) from one address; the other clients
    behind that address are never answered 429: (a) a key whose record is cached, (b) a key created
    during the hammering, (d) a key never used before, right after 101 made-up keys from the
    address, (c) a key used right after Redis restarted. The revoked key costs one SQL query, the
    first: its dead record answers the rest."""
    from keys import keygen

    dead = revoked_key(cluster, "nat-revoked")
    cached, after_restart = new_key(cluster, "nat-cached"), new_key(cluster, "nat-after-restart")
    never_used = new_key(cluster, "nat-never-used")
    server = server_on(cluster, private_redis.url, API_AUTH_FAILURES_PER_MINUTE=100)

    def twenty(plaintext: str) -> Counter:
        return statuses_of(server.get("/api/v1/key", headers=live.bearer(plaintext)) for _ in range(20))

    with StatementLog(cluster) as statements:
        assert server.get("/api/v1/key", headers=live.bearer(dead)).error_code == "revoked_api_key"  # the first
        with Hammer(server, dead) as hammer:
            for plaintext in (cached, after_restart):
                assert server.get("/api/v1/key", headers=live.bearer(plaintext)).status == 200  # records cached
            hammer.wait_for(150)  # past the address's budget of 100 failures, had they counted
            a = twenty(cached)
            b = twenty(new_key(cluster, "nat-created-meanwhile"))
            # 101 made-up keys from the same address, all in one window: the last is refused 429.
            if 60 - time.time() % 60 < 25:
                time.sleep(60 - time.time() % 60 + 0.5)
            guesses = [server.get("/api/v1/key", headers=live.bearer(keygen.generate_key())) for _ in range(101)]
            d = twenty(never_used)
            guessed_after = server.get("/api/v1/key", headers=live.bearer(keygen.generate_key()))
            hammer_before_restart = list(hammer.replies)
            queries_before_restart = statements.count(keygen.hash_key(dead))
            private_redis.stop()
            time.sleep(0.5)
            private_redis.start()
            c = twenty(after_restart)
            time.sleep(1)
    rate = len(hammer_before_restart) / (max(r.finished for r in hammer_before_restart) - hammer.started)

    assert (a, b, c, d) == ({200: 20},) * 4, {"a": a, "b": b, "c": c, "d": d}
    assert rate >= 50, f"the forgotten client sent {rate:.0f} req/s"
    assert {r.error_code for r in hammer.replies} == {"revoked_api_key"}, statuses_of(hammer.replies)
    # The throttle was in force for guesses: the 101st made-up key, and the next, got 429.
    assert statuses_of(guesses) == {401: 100, 429: 1}, statuses_of(guesses)
    assert guessed_after.status == 429
    # One query for the revoked key (its first request), however often it came back.
    assert len(hammer_before_restart) > 150 and queries_before_restart == 1, queries_before_restart
    assert "Traceback" not in server.log_text()
    figures.update(
        revoked_key_requests=len(hammer.replies),
        revoked_key_rate_per_s=round(rate),
        revoked_key_queries_before_redis_restart=queries_before_restart,
        revoked_key_queries_in_all=statements.count(keygen.hash_key(dead)),
        cached=dict(a),
        created_meanwhile=dict(b),
        after_redis_restart=dict(c),
        never_used_after_101_guesses=dict(d),
    )
