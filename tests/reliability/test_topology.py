"""Several hosts acting as one, on this machine, from Debian's packages (docs/deploy.md):

    client ──TLS──> HAProxy (deploy/haproxy.cfg, servers made static) ──> 3 gunicorn "hosts"
                                                                          │            │
                                     PgBouncer (pool_mode = transaction) ─┘            └─ one Redis
                                        └─> PostgreSQL (the test database)

Shown under load: every API route works through transaction pooling; a key revoked through one
host is refused by every host on the next request; a rolling restart (SIGTERM, drain, start) of
all three loses no request; a host killed with SIGKILL costs at most its in-flight requests, and
HAProxy stops sending to it within its check interval. Figures are printed and saved.
"""

import contextlib
import http.client
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

from keys.models import ApiKey
from tests.factories import PASSWORD, ApiKeyFactory
from tests.processes import stop_process
from tests.test_deploy import self_signed_pem

from . import live
from .test_workers import Browser

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HOSTS = 3
WORKERS_PER_HOST = 2
LOAD_THREADS = 4
DEPLOY_CFG = live.REPO / "deploy" / "haproxy.cfg"


def _found(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/sbin/{name}",) if os.path.exists(p)), None)


def _binary(name: str) -> str:
    found = _found(name)
    assert found is not None, name
    return found


@pytest.fixture(autouse=True)
def _binaries():
    missing = [name for name in ("haproxy", "pgbouncer") if _found(name) is None]
    if missing:
        message = f"needs {' and '.join(missing)} (Debian packages; .ci/run installs them)"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)


# --- PgBouncer ------------------------------------------------------------------------------------
class PgBouncer:
    """pgbouncer in transaction-pooling mode on a free port, in front of the test's PostgreSQL.
    PgBouncer refuses to run as root: started as root, it drops to `nobody` (-u)."""

    def __init__(self, db: dict):
        self.db = db
        self.port = live.free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="nbq-pgbouncer-"))
        self.process: subprocess.Popen | None = None

    @property
    def database_url(self) -> str:
        user = self.db.get("USER") or "postgres"
        password = self.db.get("PASSWORD") or ""
        auth = f"{user}:{password}" if password else user
        return f"postgres://{auth}@127.0.0.1:{self.port}/{self.db['NAME']}"

    def start(self) -> "PgBouncer":
        user = self.db.get("USER") or "postgres"
        password = (self.db.get("PASSWORD") or "").replace('"', '""')
        (self.dir / "userlist.txt").write_text(f'"{user}" "{password}"\n')
        server_password = f" password={self.db['PASSWORD']}" if self.db.get("PASSWORD") else ""
        (self.dir / "pgbouncer.ini").write_text(
            f"""[databases]
{self.db["NAME"]} = host={self.db.get("HOST") or "127.0.0.1"} port={self.db.get("PORT") or 5432} \
dbname={self.db["NAME"]} user={user}{server_password}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = {"plain" if password else "trust"}
auth_file = {self.dir / "userlist.txt"}
pool_mode = transaction
default_pool_size = 8
max_client_conn = 200
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = {self.dir / "pgbouncer.log"}
pidfile = {self.dir / "pgbouncer.pid"}
admin_users = {user}
"""
        )
        command = [_binary("pgbouncer"), str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chmod(self.dir, 0o755)
            for path in self.dir.iterdir():
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
            command += ["-u", "nobody"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"pgbouncer did not start: {self.log()[-2000:]}")

    def log(self) -> str:
        with contextlib.suppress(FileNotFoundError):
            return (self.dir / "pgbouncer.log").read_text(errors="replace")
        return ""

    def show(self, what: str) -> str:
        """SHOW <what> on PgBouncer's admin console."""
        import psycopg

        user = self.db.get("USER") or "postgres"
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            dbname="pgbouncer",
            user=user,
            password=self.db.get("PASSWORD") or None,
            autocommit=True,
        ) as conn:
            rows = conn.execute(f"SHOW {what}").fetchall()
        return "\n".join(" ".join(str(c) for c in row) for row in rows)

    def stop(self) -> None:
        stop_process(self.process, grace=10)
        shutil.rmtree(self.dir, ignore_errors=True)


# --- HAProxy --------------------------------------------------------------------------------------
def balancer_config(shipped: str, *, http_port: int, tls_port: int, cert: Path, servers: list[int], sock: Path) -> str:
    """deploy/haproxy.cfg with loopback addresses: the static servers replace Docker's DNS, and a
    stats socket lets the test read each server's state. Everything else is as shipped."""
    config = re.sub(r"\nresolvers docker\n(?:    .*\n)+", "\n", shipped)
    config = config.replace("    log stdout format raw local0\n", f"    stats socket {sock} mode 600 level admin\n")
    config = config.replace("    bind :8080\n", f"    bind 127.0.0.1:{http_port}\n")
    config = config.replace('bind :8443 ssl crt "${TLS_CERT}"', f'bind 127.0.0.1:{tls_port} ssl crt "{cert}"')
    template = "    server-template app 8 app:8000 check resolvers docker init-addr none\n"
    assert template in config, "deploy/haproxy.cfg changed: update the test's rewrite"
    static = "".join(f"    server host{i + 1} 127.0.0.1:{port} check\n" for i, port in enumerate(servers))
    return config.replace(template, static)


def check_interval(shipped: str) -> tuple[float, int, int]:
    """(inter seconds, fall, rise) of the shipped backend."""
    found = re.search(r"default-server inter (\d+)s fall (\d+) rise (\d+)", shipped)
    assert found
    return float(found.group(1)), int(found.group(2)), int(found.group(3))


class HAProxy:
    def __init__(self, servers: list[int], workdir: Path):
        self.workdir = workdir
        self.http_port, self.tls_port = live.free_port(), live.free_port()
        self.sock = workdir / "haproxy.sock"
        cert = self_signed_pem(workdir / "site.pem")
        self.config = workdir / "haproxy.cfg"
        self.config.write_text(
            balancer_config(
                DEPLOY_CFG.read_text(),
                http_port=self.http_port,
                tls_port=self.tls_port,
                cert=cert,
                servers=servers,
                sock=self.sock,
            )
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> "HAProxy":
        self.log_file = open(self.workdir / "haproxy.log", "ab")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(
            [_binary("haproxy"), "-db", "-f", str(self.config)],
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.workdir / "haproxy.log").read_text())
            if self.states() and all(s == "UP" for s in self.states().values()):
                return self
            time.sleep(0.2)
        raise RuntimeError(f"HAProxy does not see every host up: {self.states()}")

    def admin(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(2)
            s.connect(str(self.sock))
            s.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def states(self) -> dict[str, str]:
        """server name -> UP / DOWN / ... (HAProxy's view)."""
        try:
            lines = self.admin("show stat").splitlines()
        except OSError:
            return {}
        header = lines[0].lstrip("# ").split(",")
        states = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == "app" and row.get("svname", "").startswith("host"):
                states[row["svname"]] = row["status"].split(" ")[0]
        return states

    def wait_for(self, server: str, state: str, timeout: float = 30) -> float:
        """Seconds until HAProxy reports `server` in `state`."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.states().get(server) == state:
                return time.monotonic() - started
            time.sleep(0.05)
        raise AssertionError(f"{server} not {state} after {timeout} s: {self.states()}")

    def stop(self) -> None:
        stop_process(self.process, grace=10)
        if self.process is not None:
            self.log_file.close()


_UNVERIFIED = ssl.create_default_context()
_UNVERIFIED.check_hostname = False
_UNVERIFIED.verify_mode = ssl.CERT_NONE


def tls_call(port: int, method: str, path: str, **kwargs) -> live.Reply:
    """One request over TLS to HAProxy (its certificate is the test's own, not verified)."""
    return live.call(port, method, path, tls=_UNVERIFIED, **kwargs)


@dataclass
class Load:
    """Threads sending GET /api/v1/questions through the balancer until stopped; every outcome kept."""

    port: int
    key: str
    threads: int = LOAD_THREADS
    outcomes: list[tuple[float, float, int | str]] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)]

    def _run(self):
        while not self._stop.is_set():
            started = time.time()
            try:
                outcome: int | str = tls_call(
                    self.port, "GET", "/api/v1/questions?limit=5", headers=live.bearer(self.key)
                ).status
            except (OSError, http.client.HTTPException) as exc:
                outcome = type(exc).__name__
            with self._lock:
                self.outcomes.append((started, time.time(), outcome))

    def __enter__(self) -> "Load":
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for worker in self._workers:
            worker.join(30)

    def between(self, start: float, end: float) -> list[tuple[float, float, int | str]]:
        with self._lock:
            return [o for o in self.outcomes if start <= o[0] < end]


def summary(outcomes) -> dict:
    failures = [o for o in outcomes if o[2] != 200]
    return {"requests": len(outcomes), "failures": len(failures), "failed": sorted({str(o[2]) for o in failures})}


@pytest.fixture
def topology(transactional_db, redis_url, tmp_path, project):
    """PgBouncer, three gunicorn hosts sharing SECRET_KEY / DATABASE_URL / REDIS_URL, HAProxy."""
    db = settings.DATABASES["default"]
    bouncer = PgBouncer(db).start()
    shared = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_TRANSACTION_POOLING": "1",
        "TASKS_BACKEND": "database",
        "TRUSTED_PROXIES": "1",
        "API_KEY_RATE_LIMIT_PER_MINUTE": "100000000",
        "API_USAGE_FLUSH_SECONDS": "1",
    }
    hosts = [
        live.Gunicorn(
            database_url=bouncer.database_url,
            redis_url=redis_url,
            workers=WORKERS_PER_HOST,
            env=shared,
            log_dir=tmp_path,
        )
        for _ in range(HOSTS)
    ]
    balancer = None
    try:
        for host in hosts:
            host.start()
        balancer = HAProxy([h.port for h in hosts], tmp_path).start()
        yield {"bouncer": bouncer, "hosts": hosts, "balancer": balancer}
    finally:
        if balancer is not None:
            balancer.stop()
        for host in hosts:
            host.stop()
        bouncer.stop()


def test_three_hosts_behind_haproxy_and_pgbouncer_act_as_one(topology, project, owner, figures):
    bouncer, hosts, balancer = topology["bouncer"], topology["hosts"], topology["balancer"]
    shipped = DEPLOY_CFG.read_text()
    inter, fall, rise = check_interval(shipped)
    figures.update(hosts=HOSTS, workers_per_host=WORKERS_PER_HOST, load_threads=LOAD_THREADS)
    load_key = ApiKeyFactory(project=project, permissions=["read"], name="load")
    every = ApiKeyFactory(project=project, permissions=["create", "read", "write", "delete", "invite"], name="all")

    # 1. Every API route through HAProxy and PgBouncer's transaction pooling, both forms.
    def api(method, path, body=None, key=every.plaintext):
        data = None if body is None else json.dumps(body).encode()
        return tls_call(balancer.tls_port, method, path, headers=live.bearer(key), body=data)

    routes = {}
    for prefix in ("/api/v1", f"/api/v1/projects/{project.slug}"):
        routes[f"GET {prefix}/key"] = api("GET", f"{prefix}/key").status
        routes[f"GET {prefix}/questions"] = api("GET", f"{prefix}/questions?limit=3").status
        created = api("POST", f"{prefix}/questions", {"text": f"Through PgBouncer {prefix}?"})
        routes[f"POST {prefix}/questions"] = created.status
        question = created.json()["id"]
        routes[f"GET {prefix}/questions/{{id}}"] = api("GET", f"{prefix}/questions/{question}").status
        routes[f"PATCH {prefix}/questions/{{id}}"] = api(
            "PATCH", f"{prefix}/questions/{question}", {"priority": 3}
        ).status
        routes[f"POST {prefix}/next-question"] = api("POST", f"{prefix}/next-question", {"answered": []}).status
        routes[f"DELETE {prefix}/questions/{{id}}"] = api("DELETE", f"{prefix}/questions/{question}").status
        invited = api("POST", f"{prefix}/invitations", {"email": f"pooled-{len(routes)}@example.com"})
        routes[f"POST {prefix}/invitations"] = invited.status

    def expected(route: str) -> int:
        if route.startswith("POST") and not route.endswith("next-question"):
            return 201
        return 204 if route.startswith("DELETE") else 200

    wrong = {route: status for route, status in routes.items() if status != expected(route)}
    assert not wrong, wrong
    # The console's CSV export (QuerySet.iterator) through transaction pooling, via the balancer.
    browser = Browser(BalancerAsServer(balancer))
    assert browser.login(owner.email, PASSWORD).status == 302
    export = browser.get(f"/projects/{project.slug}/events/export.csv")
    assert export.status == 200 and b"pooled-" in export.body, export.body[:300]
    figures["routes_through_pgbouncer"] = len(routes) + 1
    assert f"{bouncer.port}" and "transaction" in (bouncer.dir / "pgbouncer.ini").read_text()

    with Load(balancer.tls_port, load_key.plaintext) as load:
        time.sleep(3)
        warmup_end = time.time()
        figures["steady"] = summary(load.between(0, warmup_end))

        # 2. Revoke through host 1 (its console); every host refuses the key on the next request.
        doomed_plain = ApiKeyFactory(project=project, permissions=["read"], name="doomed").plaintext
        doomed = ApiKey.objects.get(project=project, name="doomed")
        for host in hosts:
            assert host.get("/api/v1/key", headers=live.bearer(doomed_plain)).status == 200
        console = Browser(hosts[0])
        assert console.login(owner.email, PASSWORD).status == 302
        revoke = console.submit(f"/projects/{project.slug}/keys/{doomed.key_id}/revoke/", {})
        assert revoke.status == 302, (revoke.status, revoke.body[:300])
        revoked_at = time.time()
        refusals = [host.get("/api/v1/key", headers=live.bearer(doomed_plain)) for host in hosts for _ in range(4)]
        refusals += [api("GET", "/api/v1/key", key=doomed_plain) for _ in range(3)]
        wrong = [(r.status, r.error_code) for r in refusals if (r.status, r.error_code) != (401, "revoked_api_key")]
        assert not wrong, wrong
        figures["revocation"] = {
            "refused_by_every_host_on_the_next_request": True,
            "requests_after": len(refusals),
            "first_refusal_ms_after_revoke": round((refusals[0].finished - revoked_at) * 1000, 1),
        }

        # 3. Rolling restart: SIGTERM (drain), start again, wait until HAProxy has it back; then the next.
        rolling_start = time.time()
        downtimes = []
        for number, host in enumerate(hosts, 1):
            stopped = time.monotonic()
            host.stop()
            host.start()
            balancer.wait_for(f"host{number}", "UP")
            downtimes.append(round(time.monotonic() - stopped, 2))
        rolling_end = time.time()
        figures["rolling_restart"] = {**summary(load.between(rolling_start, rolling_end)), "host_away_s": downtimes}

        # 4. SIGKILL one host (arbiter and workers) under load.
        victim = hosts[1]
        time.sleep(1)
        killed_at = time.time()
        os.killpg(victim.process.pid, signal.SIGKILL)
        down_after = balancer.wait_for("host2", "DOWN", timeout=fall * inter + 2 * inter + 5)
        time.sleep(2)
        kill_end = time.time()
        figures["sigkill"] = {
            **summary(load.between(killed_at - 0.5, kill_end)),
            "in_flight_bound": WORKERS_PER_HOST,
            "marked_down_after_s": round(down_after, 2),
            "check": {"inter_s": inter, "fall": fall, "rise": rise},
        }
    figures["total"] = summary(load.outcomes)
    figures["pgbouncer_pools"] = bouncer.show("POOLS").splitlines()[:3]

    assert figures["steady"]["failures"] == 0, figures["steady"]
    assert figures["rolling_restart"]["requests"] > 50 and figures["rolling_restart"]["failures"] == 0, figures
    assert figures["sigkill"]["failures"] <= WORKERS_PER_HOST, figures["sigkill"]
    assert down_after <= fall * inter + inter + 1, down_after  # within its check interval (plus one)


class BalancerAsServer:
    """What tests.reliability.test_workers.Browser needs of a server, spoken over TLS to HAProxy."""

    def __init__(self, balancer: HAProxy):
        self.port = balancer.tls_port

    def get(self, path, **kwargs):
        return tls_call(self.port, "GET", path, **kwargs)

    def request(self, method, path, **kwargs):
        return tls_call(self.port, method, path, **kwargs)
