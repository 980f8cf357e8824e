"""Several hosts acting as one, on this machine: the production topology from Debian's packages.

    clients ──► HAProxy (health-checks /healthz) ──► 3 gunicorn "hosts" (DEBUG=0, 2 workers each)
                                                          │                      │
                                        PgBouncer (transaction pooling)      one Redis
                                                          │
                                                PostgreSQL (a private cluster)

Under steady load through the balancer, this shows that:

- every API route works through PgBouncer's transaction pooling (`DATABASE_POOL_MODE=transaction`);
- a key revoked through one host's console is refused by every worker of every host on the next
  request;
- a rolling restart of all three hosts (take out of the balancer, SIGTERM and drain, start, put
  back) loses no request;
- a host killed with SIGKILL costs at most the requests it had in flight, and the balancer stops
  sending to it within its check interval.

Figures (requests and failures per phase) are printed and saved in
test-artifacts/reliability/topology.json. Needs haproxy, pgbouncer, redis-server and the
PostgreSQL server binaries (`.ci/run` installs them); missing ones skip, or fail with
REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_POSTGRES

from . import live
from .conftest import write_figures
from .test_workers import Browser

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

HOSTS = 3
WORKERS_PER_HOST = 2
CHECK_INTER_MS = 500  # HAProxy's health-check interval; `fall 2`: out after two failed checks
CLIENT_THREADS = 6
DEMO_EMAIL, DEMO_PASSWORD = "demo@nbq.example", "demo-password-123"  # seed_demo's published login


def _missing_tools() -> str | None:
    for tool in ("haproxy", "pgbouncer", "redis-server"):
        if shutil.which(tool) is None:
            return tool
    if live._pg_bin() is None:
        return "PostgreSQL server binaries (/usr/lib/postgresql/*/bin)"
    return None


class PgBouncer:
    """PgBouncer in transaction pooling in front of a PostgreSQL, on a free port (as `postgres`
    when the tests run as root: PgBouncer refuses to run as root)."""

    def __init__(self, pg: live.PrivatePostgres):
        self.dir = Path(tempfile.mkdtemp(prefix="nbq-pgbouncer-"))
        self.port = live.free_port()
        (self.dir / "userlist.txt").write_text('"postgres" ""\n')
        (self.dir / "pgbouncer.ini").write_text(
            f"""[databases]
postgres = host=127.0.0.1 port={pg.port} dbname=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.dir}/userlist.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 8
ignore_startup_parameters = extra_float_digits
logfile = {self.dir}/pgbouncer.log
pidfile = {self.dir}/pgbouncer.pid
"""
        )
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            for path in (self.dir, *self.dir.iterdir()):
                shutil.chown(path, "postgres", "postgres")
        self.process = subprocess.Popen(
            [*self.as_user, "pgbouncer", str(self.dir / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for_port(self.port, what="pgbouncer", process=self.process)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class HAProxy:
    """HAProxy balancing the hosts round robin, health-checking `/healthz`, with its admin socket."""

    def __init__(self, hosts: list[live.Gunicorn]):
        self.dir = Path(tempfile.mkdtemp(prefix="nbq-haproxy-"))
        self.port = live.free_port()
        self.socket_path = self.dir / "admin.sock"
        servers = "\n".join(f"    server host{i} 127.0.0.1:{host.port} check" for i, host in enumerate(hosts, start=1))
        config = self.dir / "haproxy.cfg"
        config.write_text(
            f"""global
    maxconn 2000
    stats socket {self.socket_path} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
    # A request sent to a host that died before answering (connection refused, or accepted by the
    # kernel and then dropped empty) is sent again to another host.
    retry-on conn-failure empty-response response-timeout

frontend console
    bind 127.0.0.1:{self.port}
    default_backend hosts

backend hosts
    balance roundrobin
    option httpchk
    http-check send meth GET uri /healthz hdr Host 127.0.0.1 hdr X-Forwarded-Proto https
    http-check expect status 200
    default-server inter {CHECK_INTER_MS}ms fall 2 rise 2
{servers}
"""
        )
        checked = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        self.process = subprocess.Popen(
            ["haproxy", "-f", str(config), "-db"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for_port(self.port, what="haproxy", process=self.process)

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(self.socket_path))
            s.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def status(self, server: str) -> str:
        """UP, DOWN, MAINT... of one server, from `show stat` (CSV)."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == "hosts" and row.get("svname") == server:
                return row["status"]
        raise AssertionError(f"no server {server} in {lines}")

    def wait_for(self, server: str, wanted: str, timeout: float = 15.0) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.status(server).startswith(wanted):
                return time.monotonic() - started
            time.sleep(0.05)
        raise AssertionError(f"{server} not {wanted} after {timeout} s: {self.status(server)}")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


def _wait_for_port(port: int, *, what: str, process: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout} s")


class Load:
    """Clients sending GET /api/v1/questions through the balancer until stopped; every answer
    (or transport error) is kept with its start time."""

    def __init__(self, port: int, plaintext: str):
        self.port, self.plaintext = port, plaintext
        self.results: list[tuple[float, float, int | str]] = []  # (started, finished, status or error)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENT_THREADS)]

    def _run(self):
        while not self._stop.is_set():
            started = time.time()
            try:
                outcome: int | str = live.call(
                    self.port, "GET", "/api/v1/questions?limit=5", headers=live.bearer(self.plaintext), timeout=20
                ).status
            except OSError as exc:
                outcome = type(exc).__name__
            with self._lock:
                self.results.append((started, time.time(), outcome))

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def between(self, start: float, end: float) -> list[tuple[float, float, int | str]]:
        with self._lock:
            return [r for r in self.results if start <= r[0] < end]


def _tally(results) -> dict:
    outcomes = Counter(str(outcome) for _, _, outcome in results)
    return {"requests": len(results), "failures": sum(n for k, n in outcomes.items() if k != "200"), **outcomes}


@pytest.fixture(scope="module")
def topology(tmp_path_factory):
    missing = _missing_tools()
    if missing:
        if REQUIRE_POSTGRES:
            pytest.fail(f"the topology test needs {missing} (REQUIRE_POSTGRES=1)")
        pytest.skip(f"the topology test needs {missing}")
    log_dir = tmp_path_factory.mktemp("topology")
    started: list = []
    pg = live.PrivatePostgres()
    started.append(pg.destroy)
    try:
        pg.start()
        live.manage(pg.url, "migrate", "--noinput")
        live.manage(pg.url, "seed_demo", env={"DEBUG": "1"})
        bouncer = PgBouncer(pg)
        started.append(bouncer.stop)
        redis = live.PrivateRedis()
        redis.start()
        started.append(redis.stop)
        hosts = [
            live.Gunicorn(
                database_url=bouncer.url,
                redis_url=redis.url,
                workers=WORKERS_PER_HOST,
                env={"DATABASE_POOL_MODE": "transaction", "API_KEY_RATE_LIMIT_PER_MINUTE": 100_000_000},
                log_dir=log_dir,
            )
            for _ in range(HOSTS)
        ]
        for host in hosts:
            started.append(host.stop)
            host.start(timeout=90)
        balancer = HAProxy(hosts)
        started.append(balancer.stop)
        for i in range(1, HOSTS + 1):
            balancer.wait_for(f"host{i}", "UP")
        yield {"pg": pg, "bouncer": bouncer, "redis": redis, "hosts": hosts, "balancer": balancer}
    finally:
        for stop in reversed(started):
            try:
                stop()
            except Exception as exc:  # keep stopping the others
                print(f"topology teardown: {type(exc).__name__}: {exc}")


def _new_key(pg, name: str, permissions: str = "read") -> str:
    try:
        made = live.manage(pg.url, "create_api_key", "demo", "--name", name, "--permissions", permissions)
    except subprocess.CalledProcessError as exc:
        raise AssertionError(f"create_api_key {name}: {exc.stderr}") from exc
    return made.stdout.strip()


def test_several_hosts_act_as_one(topology):
    pg, hosts, balancer = topology["pg"], topology["hosts"], topology["balancer"]
    figures: dict = {"hosts": HOSTS, "workers_per_host": WORKERS_PER_HOST, "client_threads": CLIENT_THREADS}

    # 1. Every API route through PgBouncer's transaction pooling, through the balancer.
    full = _new_key(pg, "every route", "create,read,write,delete,invite")
    auth = live.bearer(full)

    def api(method, path, body=None):
        payload = json.dumps(body).encode() if body is not None else None
        return live.call(balancer.port, method, path, headers=auth, body=payload)

    statuses = {}
    statuses["GET /key"] = api("GET", "/api/v1/key").status
    statuses["GET /questions"] = api("GET", "/api/v1/questions").status
    created = api("POST", "/api/v1/questions", {"text": "Through PgBouncer?", "priority": 3})
    statuses["POST /questions"] = created.status
    question = created.json()["id"]
    statuses["GET /questions/{id}"] = api("GET", f"/api/v1/questions/{question}").status
    statuses["PATCH /questions/{id}"] = api("PATCH", f"/api/v1/questions/{question}", {"priority": 4}).status
    statuses["POST /next-question"] = api("POST", "/api/v1/next-question", {"answered": []}).status
    statuses["DELETE /questions/{id}"] = api("DELETE", f"/api/v1/questions/{question}").status
    statuses["POST /invitations"] = api("POST", "/api/v1/invitations", {"email": "pool@example.com"}).status
    statuses["GET /projects/demo/questions"] = api("GET", "/api/v1/projects/demo/questions").status
    assert statuses == {
        "GET /key": 200,
        "GET /questions": 200,
        "POST /questions": 201,
        "GET /questions/{id}": 200,
        "PATCH /questions/{id}": 200,
        "POST /next-question": 200,
        "DELETE /questions/{id}": 204,
        "POST /invitations": 201,
        "GET /projects/demo/questions": 200,
    }
    figures["routes_through_pgbouncer"] = statuses

    steady = _new_key(pg, "steady load")
    doomed = _new_key(pg, "doomed")
    with Load(balancer.port, steady) as load:
        time.sleep(2)

        # 2. A key revoked through one host's console is refused by every host on the next request.
        key_id = live.call(hosts[0].port, "GET", "/api/v1/key", headers=live.bearer(doomed)).json()["id"]
        for host in hosts:  # every worker of every host has served it (its record is cached)
            for _ in range(WORKERS_PER_HOST * 4):
                assert host.get("/api/v1/key", headers=live.bearer(doomed)).status == 200
        browser = Browser(hosts[0])
        assert browser.login(DEMO_EMAIL, DEMO_PASSWORD).status == 302
        revoked = browser.submit(f"/projects/demo/keys/{key_id}/revoke/", {})
        assert revoked.status in (200, 302), revoked.body[:300]
        after = [host.get("/api/v1/key", headers=live.bearer(doomed)) for host in hosts for _ in range(8)]
        assert {(r.status, r.error_code) for r in after} == {(401, "revoked_api_key")}
        through_balancer = [
            live.call(balancer.port, "GET", "/api/v1/key", headers=live.bearer(doomed)) for _ in range(9)
        ]
        assert {r.status for r in through_balancer} == {401}
        figures["revocation"] = {"requests_after": len(after) + len(through_balancer), "accepted_after": 0}

        # 3. A rolling restart of every host loses no request.
        rolling_started = time.time()
        restart_seconds = []
        for i, host in enumerate(hosts, start=1):
            began = time.monotonic()
            balancer.command(f"disable server hosts/host{i}")  # no new requests; in-flight ones finish
            time.sleep(0.3)
            host.stop()  # SIGTERM: gunicorn drains its workers
            host.start(timeout=90)
            balancer.command(f"enable server hosts/host{i}")
            balancer.wait_for(f"host{i}", "UP")
            restart_seconds.append(round(time.monotonic() - began, 2))
        rolling = _tally(load.between(rolling_started, time.time()))
        figures["rolling_restart"] = {**rolling, "seconds_per_host": restart_seconds}
        assert rolling["failures"] == 0, rolling
        assert rolling["requests"] > 0

        # 4. A host killed with SIGKILL: at most its in-flight requests fail; the balancer takes it
        # out within its check interval (fall 2 × inter).
        victim = hosts[1]
        assert victim.process is not None
        time.sleep(1)
        killed_at = time.time()
        os.killpg(victim.process.pid, signal.SIGKILL)
        marked_down_after = balancer.wait_for("host2", "DOWN")
        time.sleep(2)
        ended = time.time()
    kill_phase = load.between(killed_at - 1, ended)
    failed = [r for r in kill_phase if r[2] != 200]
    figures["sigkill"] = {
        **_tally(kill_phase),
        "marked_down_after_s": round(marked_down_after, 2),
        "check_interval_ms": CHECK_INTER_MS,
    }
    # In flight at the kill: sent before it, answered (with an error) after it. At most one per
    # client thread can be in flight on the killed host at any instant.
    assert len(failed) <= CLIENT_THREADS, figures["sigkill"]
    assert all(started <= killed_at for started, _, _ in failed), figures["sigkill"]
    assert marked_down_after <= 2 * CHECK_INTER_MS / 1000 + 1.5, figures["sigkill"]
    figures["total"] = _tally(load.results)
    write_figures("topology", figures)
    print("\ntopology figures:", json.dumps(figures, indent=1))
