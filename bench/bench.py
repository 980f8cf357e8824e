"""The benchmark driver behind `make bench` (bench/run.sh installs what it needs, then runs this).

What runs, side by side, each in its own gunicorn, with as many sync workers as the shipped image
starts (its WEB_CONCURRENCY, deploy/Dockerfile; BENCH_WORKERS overrides it for all servers alike):

- **ours**: the console exactly as shipped, `gunicorn keys_console.wsgi -c keys_console/gunicorn_conf.py`
  (the image's entry point: its JSON gunicorn logger, drain hooks and timeouts) with `keys_console.settings`
  and only the production profile's environment (DATABASE_URL, REDIS_URL, SECRET_KEY, DEBUG=0):
  its middleware, checks and JSON request log as they are. The log goes to a file, as a process
  manager's would (bench/results/<time>/ours.log), and its lines per request are counted.
- **ours, request log off** (rows marked "q"): the same, with LOG_LEVEL=WARNING, the product's own
  switch. Printed beside the shipped rows, never instead of them.
- **the peer**: a separate Django project (bench/peer/: startproject's settings and middleware, DRF +
  djangorestframework-api-key as their docs say), in its own database with the same data shape.
  It also serves the bare Django views (no authentication at all).

1. Re-creates both databases (PostgreSQL), migrates them, seeds the same project and questions in
   each (bench/setup_data.py, bench/peer/setup_data.py), makes the console's keys with
   `manage.py create_api_key` and the peer's with djangorestframework-api-key.
2. Starts the gunicorns on loopback and waits until they answer.
3. Checks every row once (status and body), warms each row up, then runs wrk for each row, BENCH_REPEAT
   times, interleaved (row 1..n, then again), so a slow moment of the machine hits all rows alike.
   During each run it reads PostgreSQL's transaction counter, the CPU time of the row's server and
   of its database's backends, and the lines its log grew by.
4. Counts PostgreSQL transactions per request (a pass of its own), stops the servers, counts
   queries and Redis round-trips per request in-process (bench/queries.py).
5. Prints one table (medians over the repetitions) and the headline ratios; saves raw outputs under
   bench/results/<timestamp>/ and the table as bench/results/latest.txt.

Knobs (environment): BENCH_DURATION (s, 5), BENCH_REPEAT (3), BENCH_CONNECTIONS (16), BENCH_THREADS (1),
BENCH_WORKERS (the image's WEB_CONCURRENCY: 4), BENCH_WARMUP (s, 2), BENCH_PORT (8765; the peer takes
+1, the quiet variant +2), BENCH_DATABASE_URL, BENCH_PEER_DATABASE_URL, BENCH_REDIS_URL, BENCH_ROWS
(comma-separated row ids, e.g. "1,2,4", default all), BENCH_CONN_MAX_AGE.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (bench/bench.py): the `bench` package is the repo's
    sys.path.insert(0, str(ROOT))

from bench.data_shape import LIST_LIMIT  # noqa: E402

BENCH = ROOT / "bench"
PY = sys.executable
BIN = Path(PY).parent

DURATION = int(os.environ.get("BENCH_DURATION", "5"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
THREADS = int(os.environ.get("BENCH_THREADS", "1"))


def shipped_workers() -> int:
    """The web process's sync workers as the image ships it (`WEB_CONCURRENCY` in deploy/Dockerfile):
    more than the CPUs, so that a worker waiting on Redis or PostgreSQL leaves its CPU to another."""
    found = re.search(r"^\s*WEB_CONCURRENCY=(\d+)\b", (ROOT / "deploy" / "Dockerfile").read_text(), re.M)
    if found is None:
        sys.exit("bench: deploy/Dockerfile sets no WEB_CONCURRENCY; set BENCH_WORKERS")
    return int(found.group(1))


WORKERS = int(os.environ.get("BENCH_WORKERS") or shipped_workers())
WARMUP = int(os.environ.get("BENCH_WARMUP", "2"))
PORT = int(os.environ.get("BENCH_PORT", "8765"))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/nbq_bench"
_db = urlsplit(DATABASE_URL)
PEER_DATABASE_URL = os.environ.get("BENCH_PEER_DATABASE_URL") or _db._replace(path=_db.path + "_peer").geturl()
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/9"
# Behind the production proxy every request carries this; the console then treats it as HTTPS
# (no redirect), exactly as in production. Every row sends it (the peer ignores it).
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}
STATS_SETTLE = 1.2  # s: a PostgreSQL backend publishes its counters at most once a second, when idle
# The transaction count per request comes from a pass of its own: requests one at a time (so every
# request counted was answered), then the app's PostgreSQL backends are terminated, which makes
# them publish their counters at once (a backend that published less than a second ago otherwise
# holds the rest back until it has been idle for 10 s: PostgreSQL 15's PGSTAT_IDLE_INTERVAL, so a
# load run's delta leaks into the next row's). The workers reconnect on their next request (the
# health check sees the closed connection; no request fails); each new session's start-up
# transaction is subtracted (pg_stat_database.sessions). The data rows get more requests, 1,000 per
# worker: what a key costs per minute (last use, refreshing its cached record) and what each worker
# costs per 10 s whatever its traffic (its usage flush) then weigh in the third decimal, as they
# do under real traffic, not in the second.
TX_REQUESTS = int(os.environ.get("BENCH_TX_REQUESTS", "200"))
TX_REQUESTS_DATA = int(os.environ.get("BENCH_TX_REQUESTS_DATA") or 1000 * WORKERS)
SECRET_KEY = "bench-only-secret-key-3f9c1a7e5d2b8f4a6c0e9d7b5a3f1c8e"


def base_env() -> dict[str, str]:
    """What any process needs to run (PATH, locale, home), and nothing of the caller's settings:
    a LOG_LEVEL, CONN_MAX_AGE or DJANGO_SETTINGS_MODULE in the caller's shell never reaches a server."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER", "TZ")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    return env


# The console as shipped: the production profile's environment and nothing else. keys_console.settings
# reads it exactly as in production (DEBUG=0: JSON logs at INFO, HSTS, SSL redirect, CSP, health checks).
OURS_ENV = {
    **base_env(),
    "DJANGO_SETTINGS_MODULE": "keys_console.settings",
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "SECRET_KEY": SECRET_KEY,
    "DEBUG": "0",
}
if os.environ.get("BENCH_CONN_MAX_AGE"):
    OURS_ENV["CONN_MAX_AGE"] = os.environ["BENCH_CONN_MAX_AGE"]
# The variant printed beside it: the request log switched off with the product's own setting.
OURS_QUIET_ENV = {**OURS_ENV, "LOG_LEVEL": "WARNING"}
# The peer: its own project and database (bench/peer/settings.py).
PEER_ENV = {
    **base_env(),
    "DJANGO_SETTINGS_MODULE": "bench.peer.settings",
    "PEER_DATABASE_URL": PEER_DATABASE_URL,
    "SECRET_KEY": SECRET_KEY,
}
# For code that imports this module to read the console's environment (tests, profile_api.py).
ENV = OURS_ENV


@dataclass
class Row:
    id: str
    label: str
    path: str
    headers: dict[str, str]
    expect: int  # the status every request of this row should get
    server: str = "ours"  # which server answers it: "ours", "quiet" (ours, request log off) or "peer"
    method: str = "GET"
    body: str | None = None  # JSON, sent with Content-Type: application/json
    runs: list[dict] = field(default_factory=list)
    skipped: str = ""  # why the row was not measured
    queries: dict | None = None
    xacts_per_request: float | None = None  # from count_transactions()

    def accepts(self, status: int) -> bool:
        """A refusal row (expect >= 400) takes the API's 401 and, past the client address's budget
        of failed authentications (API_AUTH_FAILURES_PER_MINUTE: the bench sends them all from one
        address), its 429: both are the refusal production gives."""
        return status == self.expect or (self.expect == 401 and status == 429)

    @property
    def all_headers(self) -> dict[str, str]:
        extra = {"Content-Type": "application/json"} if self.body is not None else {}
        return {**PROXY_HEADERS, **extra, **self.headers}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=ROOT, env=env, text=True, capture_output=True, **kwargs)
    if done.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd[:4])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


# --- database -----------------------------------------------------------------------------------
def admin_conninfo(url: str) -> tuple[str, str]:
    """(conninfo of the server's `postgres` database, name of the bench database of `url`)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"bench: refusing to drop {name!r}: a bench database's name must contain 'bench'")
    return parts._replace(path="/postgres").geturl(), name


def reset_database(url: str) -> None:
    conninfo, name = admin_conninfo(url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


class Probe:
    """What the server side spent during a run, read from PostgreSQL, /proc and the logs (never from the app).

    Per server (ours, the quiet variant, the peer):
    - PostgreSQL transactions (commit + rollback) in its database: with autocommit each statement
      outside an atomic block is one transaction, so the delta divided by the requests is the
      server's view of database statements per request (health checks included).
    - CPU time (user + system) of its gunicorn workers and of the PostgreSQL backends serving its
      database, from /proc/<pid>/stat. CPU per request is far steadier than requests/s when other
      processes share the machine, and it says where the work goes.
    - Lines written to its log (stdout + stderr of the gunicorn, where the production profile logs).
    - Redis CPU time (INFO cpu); the Redis server may be shared, so it is kept in the raw output only.
    """

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, servers: dict[str, Server]) -> None:
        import redis

        conninfo, _ = admin_conninfo(DATABASE_URL)
        self.conn = psycopg.connect(conninfo, autocommit=True)
        self.servers = servers
        self.redis = redis.Redis.from_url(REDIS_URL)

    def _cpu(self, pids) -> dict[int, float]:
        result = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            result[pid] = (int(fields[11]) + int(fields[12])) / self.TICK  # utime, stime
        return result

    def settled_counts(self, database: str) -> tuple[int, int]:
        """(transactions, sessions) of a bench database, after making every backend of it publish
        its counters: they are terminated (the app reconnects on its next request)."""
        self.conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [database])
        deadline = time.monotonic() + 10
        while (
            time.monotonic() < deadline
            and self.conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [database]).fetchone()[0]  # type: ignore[index]  # count(*) always returns a row
        ):
            time.sleep(0.05)
        row = self.conn.execute(
            "SELECT xact_commit + xact_rollback, sessions FROM pg_stat_database WHERE datname = %s", [database]
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def snapshot(self) -> dict:
        databases = sorted({s.database for s in self.servers.values()})
        xacts: dict[str, int] = {
            name: count
            for name, count in self.conn.execute(
                "SELECT datname, xact_commit + xact_rollback FROM pg_stat_database WHERE datname = ANY(%s)",
                [databases],
            ).fetchall()
        }
        backends: dict[str, list[int]] = {name: [] for name in databases}
        for name, pid in self.conn.execute(
            "SELECT datname, pid FROM pg_stat_activity WHERE datname = ANY(%s)", [databases]
        ).fetchall():
            backends[name].append(pid)
        cpu = self.redis.info("cpu")
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # finished wrk runs
        return {
            "servers": {
                name: {
                    "xacts": int(xacts.get(server.database, 0)),
                    "app": self._cpu(server.workers()),
                    "pg": self._cpu(backends[server.database]),
                    "log": server.log_lines(),
                }
                for name, server in self.servers.items()
            },
            "redis": float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
            "wrk": children.ru_utime + children.ru_stime,
            "machine": machine_busy_seconds(),
            "at": time.monotonic(),
        }

    @staticmethod
    def delta(before: dict, after: dict, server: str) -> dict:
        """What `server` spent between two snapshots (and what the machine did besides)."""
        b, a = before["servers"][server], after["servers"][server]

        def cpu(kind):  # processes that appeared during the run count from zero
            return sum(t - b[kind].get(pid, 0.0) for pid, t in a[kind].items())

        result = {
            "db_xacts": a["xacts"] - b["xacts"],
            "app_cpu_s": cpu("app"),
            "pg_cpu_s": cpu("pg"),
            "log_lines": a["log"] - b["log"],
            "redis_cpu_s": after["redis"] - before["redis"],
            "wrk_cpu_s": after["wrk"] - before["wrk"],
        }
        # Whatever the machine's CPUs did besides this benchmark (other people's jobs): noise.
        busy = after["machine"] - before["machine"]
        ours = result["app_cpu_s"] + result["pg_cpu_s"] + result["redis_cpu_s"] + result["wrk_cpu_s"]
        capacity = (after["at"] - before["at"]) * (os.cpu_count() or 1)
        result["foreign_cpu_share"] = max(0.0, busy - ours) / capacity
        return result

    def close(self) -> None:
        self.conn.close()
        self.redis.close()


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs spent not idle since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def foreign_load(seconds: float = 2.0) -> float:
    """Share of the machine's CPU busy right now (before the bench starts anything)."""
    start = machine_busy_seconds()
    time.sleep(seconds)
    return (machine_busy_seconds() - start) / (seconds * (os.cpu_count() or 1))


# --- setup --------------------------------------------------------------------------------------
def create_key(project: str, name: str) -> str:
    # A huge per-key limit: the limiter still runs on every request (that cost is measured), it
    # just never answers 429 during the bench.
    out = run(
        [
            PY,
            "manage.py",
            "create_api_key",
            project,
            "--name",
            name,
            "--permissions",
            "read",
            "--rate-limit",
            "1000000",  # the most a key may have (RATE_LIMIT_MAX): ~16,700 requests a second
            "--expires-days",
            "0",
        ],
        OURS_ENV,
    ).stdout.strip()
    assert out.startswith("nbq_live_"), out
    return out


def seed() -> dict:
    log("re-creating the bench databases (ours and the peer's), migrating, seeding")
    reset_database(DATABASE_URL)
    reset_database(PEER_DATABASE_URL)
    run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], OURS_ENV)
    run([PY, "-m", "django", "migrate", "--noinput", "-v", "0"], PEER_ENV)
    data = json.loads(run([PY, "-m", "bench.setup_data"], OURS_ENV).stdout)
    data["peer"] = json.loads(run([PY, "-m", "bench.peer.setup_data"], PEER_ENV).stdout)
    PEER_ENV["PEER_PROJECT_ID"] = str(data["peer"]["project_id"])  # the peer serves this project's questions
    data["key"] = create_key(data["project"], "bench: GET /key")
    data["questions_key"] = create_key(data["project"], "bench: GET /questions")
    data["next_key"] = create_key(data["project"], "bench: POST /next-question")
    return data


def make_rows(data: dict) -> list[Row]:
    """Each of our rows next to its peer (DRF + djangorestframework-api-key, the usual way) or the
    bare Django view it is held to; then the variant without the request log."""
    inv = data["invalid"]
    drf = {"Authorization": f"Api-Key {data['peer']['drf_key']}"}
    next_body = json.dumps({"answered": data["answered"]})
    peer_next_body = json.dumps({"answered": data["peer"]["answered"]})
    key = {"Authorization": f"Bearer {data['key']}"}
    bad_checksum = {"Authorization": f"Bearer {inv['bad_checksum']}"}
    return [
        Row("1", "bare: Django JSON view, no auth", "/bench/baseline", {}, 200, server="peer"),
        Row(
            "1L",
            f"bare: {LIST_LIMIT} questions, no auth",
            f"/bench/bare/questions?limit={LIST_LIMIT}",
            {},
            200,
            server="peer",
        ),
        Row("2", "ours: GET /api/v1/key", "/api/v1/key", key, 200),
        Row("2p", "peer: DRF APIView + HasAPIKey", "/bench/drf", drf, 200, server="peer"),
        Row(
            "3",
            f"ours: GET /api/v1/questions?limit={LIST_LIMIT}",
            f"/api/v1/questions?limit={LIST_LIMIT}",
            {"Authorization": f"Bearer {data['questions_key']}"},
            200,
        ),
        Row(
            "3p",
            f"peer: DRF ListAPIView, ?limit={LIST_LIMIT}",
            f"/bench/drf/questions?limit={LIST_LIMIT}",
            drf,
            200,
            server="peer",
        ),
        Row(
            "4",
            "ours: POST /api/v1/next-question",
            "/api/v1/next-question",
            {"Authorization": f"Bearer {data['next_key']}"},
            200,
            method="POST",
            body=next_body,
        ),
        Row(
            "4p",
            "peer: DRF APIView next-question",
            "/bench/drf/next-question",
            drf,
            200,
            server="peer",
            method="POST",
            body=peer_next_body,
        ),
        Row("5a", "invalid key: malformed", "/api/v1/key", {"Authorization": f"Bearer {inv['malformed']}"}, 401),
        Row("5b", "invalid key: bad checksum", "/api/v1/key", bad_checksum, 401),
        Row(
            "5c",
            "invalid key: unknown (well-formed)",
            "/api/v1/key",
            {"Authorization": f"Bearer {inv['unknown']}"},
            401,
        ),
        Row("2q", "ours, log off: GET /api/v1/key", "/api/v1/key", key, 200, server="quiet"),
        Row("5bq", "ours, log off: bad checksum", "/api/v1/key", bad_checksum, 401, server="quiet"),
    ]


# Rows measured against each other: (ours, reference, target ratio of req/s, what).
COMPARISONS = [
    ("2", "2p", 1.5, "GET /key vs DRF APIView + HasAPIKey"),
    ("3", "3p", 1.5, "list vs DRF ListAPIView + ModelSerializer + LimitOffsetPagination + HasAPIKey"),
    ("4", "4p", 1.5, "next-question vs DRF APIView + HasAPIKey, same query"),
    ("5a", "1", 0.9, "malformed key vs bare Django JSON view"),
    ("5b", "1", 0.9, "bad-checksum key vs bare Django JSON view"),
    ("3", "1L", 0.9, f"list vs bare Django view of the same {LIST_LIMIT} questions, no auth"),
    ("2", "1", None, "GET /key vs bare Django JSON view"),
    ("2q", "2p", None, "GET /key, request log off (LOG_LEVEL=WARNING), vs DRF APIView + HasAPIKey"),
    ("5bq", "1", None, "bad-checksum key, request log off, vs bare Django JSON view"),
]
DATA_ROWS = ("3", "4")  # at most 1 SQL query and 1 PostgreSQL transaction per request


# --- servers ------------------------------------------------------------------------------------
@dataclass
class Server:
    """One gunicorn (sync workers) on loopback, its stdout and stderr to a log file."""

    name: str
    wsgi: str
    env: dict[str, str]
    database_url: str
    port: int
    ready_path: str
    # The shipped gunicorn configuration (ours: keys_console/gunicorn_conf.py, as deploy/Dockerfile
    # runs it); the peer runs gunicorn's defaults, as its docs would. Worker count and class are
    # given on the command line, which overrides the file, so every server gets the same.
    config: str | None = None
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    _log_offset: int = 0
    _log_lines: int = 0

    @property
    def database(self) -> str:
        return urlsplit(self.database_url).path.lstrip("/")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, results: Path) -> list[str]:
        cmd = [
            str(BIN / "gunicorn"),
            self.wsgi,
            *(["--config", self.config] if self.config else []),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(WORKERS),
            "--worker-class",
            "sync",
            "--pid",
            str(results / f"{self.name}.pid"),
        ]
        # gunicorn >= 27 opens a control socket at ~/.gunicorn/gunicorn.ctl, one path for every server
        # of the user: a bench server must not take it from another gunicorn on the machine.
        if (
            "--no-control-socket"
            in subprocess.run([str(BIN / "gunicorn"), "--help"], capture_output=True, text=True, check=False).stdout
        ):
            cmd.append("--no-control-socket")
        return cmd

    def start(self, results: Path) -> None:
        self.log_path = results / f"{self.name}.log"
        log(f"starting gunicorn for {self.name}: {self.wsgi}, {WORKERS} sync workers on 127.0.0.1:{self.port}")
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                self.command(results),
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"bench: gunicorn ({self.name}) exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if fetch(self.base + self.ready_path, PROXY_HEADERS)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        sys.exit(f"bench: gunicorn ({self.name}) did not answer within 60 s; see {self.log_path}")

    def workers(self) -> list[int]:
        if self.proc is None:
            return []
        try:
            return [int(p) for p in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()]
        except OSError:
            return []

    def log_lines(self) -> int:
        """Lines written to the log so far (read incrementally)."""
        if self.log_path is None or not self.log_path.exists():
            return 0
        with open(self.log_path, "rb") as f:
            f.seek(self._log_offset)
            chunk = f.read()
        self._log_offset += len(chunk)
        self._log_lines += chunk.count(b"\n")
        return self._log_lines

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # SIGINT: stop now. SIGTERM would first drain for DRAIN_SECONDS (gunicorn_conf.py), which
        # only matters to a balancer; the measurements are over.
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


SHIPPED_CONFIG = "keys_console/gunicorn_conf.py"
PORTS = {"ours": PORT, "peer": PORT + 1, "quiet": PORT + 2}


def url(row: Row) -> str:
    return f"http://127.0.0.1:{PORTS[row.server]}{row.path}"


def make_servers(names: set[str]) -> dict[str, Server]:
    """The servers the chosen rows need: ours as shipped, ours with the log off, the peer project."""
    every = {
        "ours": Server(
            "ours", "keys_console.wsgi:application", OURS_ENV, DATABASE_URL, PORTS["ours"], "/healthz", SHIPPED_CONFIG
        ),
        "peer": Server(
            "peer", "bench.peer.wsgi:application", PEER_ENV, PEER_DATABASE_URL, PORTS["peer"], "/bench/baseline"
        ),
        "quiet": Server(
            "quiet",
            "keys_console.wsgi:application",
            OURS_QUIET_ENV,
            DATABASE_URL,
            PORTS["quiet"],
            "/healthz",
            SHIPPED_CONFIG,
        ),
    }
    return {name: server for name, server in every.items() if name in names}


def fetch(address: str, headers: dict[str, str], method: str = "GET", body: str | None = None) -> tuple[int, bytes]:
    data = body.encode() if body is not None else None
    request = urllib.request.Request(address, headers=headers, method=method, data=data)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# --- load ---------------------------------------------------------------------------------------
def lua_script(row: Row) -> Path:
    """report.lua, preceded for a POST row by its method and body (set once: the request stays in C)."""
    if row.method == "GET" and row.body is None:
        return BENCH / "report.lua"
    path = BENCH / "results" / f"wrk-row{row.id}.lua"
    path.write_text(
        f"wrk.method = {json.dumps(row.method)}\nwrk.body = {json.dumps(row.body or '')}\n"
        + (BENCH / "report.lua").read_text()
    )
    return path


def wrk(row: Row, seconds: int, raw: Path | None) -> dict:
    cmd = [
        "wrk",
        "-t",
        str(THREADS),
        "-c",
        str(CONNECTIONS),
        "-d",
        f"{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(lua_script(row)),
    ]
    for name, value in row.all_headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url(row))
    out = subprocess.run(cmd, check=True, text=True, capture_output=True).stdout
    if raw is not None:
        raw.write_text(out)
    line = next(line for line in out.splitlines() if line.startswith("BENCH_JSON "))
    result = json.loads(line.removeprefix("BENCH_JSON "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def fetch_row(row: Row) -> tuple[int, bytes]:
    return fetch(url(row), row.all_headers, row.method, row.body)


def measure(rows: list[Row], results: Path, servers: dict[str, Server]) -> None:
    raw_dir = results / "wrk"
    raw_dir.mkdir()
    for row in rows:
        status, body = fetch_row(row)
        (raw_dir / f"preflight-{row.id}.txt").write_bytes(f"{status}\n".encode() + body)
        if not row.accepts(status):
            row.skipped = f"got {status}, expected {row.expect}: {body[:120]!r}"
            log(f"row {row.id} not measured: {row.skipped}")
    live = [row for row in rows if not row.skipped]
    log(f"warm-up: {WARMUP} s per row")
    for row in live:
        wrk(row, WARMUP, None)
    probe = Probe(servers)
    try:
        time.sleep(STATS_SETTLE)
        before = probe.snapshot()
        for rep in range(1, REPEAT + 1):
            for row in live:
                result = wrk(row, DURATION, raw_dir / f"row{row.id}-rep{rep}.txt")
                time.sleep(STATS_SETTLE)  # also lets the machine settle before the next run
                after = probe.snapshot()
                result.update(probe.delta(before, after, row.server))
                before = after
                row.runs.append(result)
                log(
                    f"rep {rep}/{REPEAT} row {row.id:>3}: {result['rps']:8.0f} req/s  "
                    f"p50 {result['latency_us']['p50'] / 1000:.2f} ms  "
                    f"p99 {result['latency_us']['p99'] / 1000:.2f} ms  "
                    f"CPU/req app {result['app_cpu_s'] / result['requests'] * 1000:.3f} ms "
                    f"PG {result['pg_cpu_s'] / result['requests'] * 1000:.3f} ms  "
                    f"log lines/req {result['log_lines'] / result['requests']:.2f}  "
                    f"others {100 * result['foreign_cpu_share']:.0f}%"
                )
    finally:
        probe.close()


def count_transactions(rows: list[Row], servers: dict[str, Server]) -> None:
    """PostgreSQL transactions per request, as the server counts them (health checks, BEGIN/COMMIT
    and statements Django's query log never sees included), row by row: TX_REQUESTS requests one
    at a time, then the counters published (Probe.settled_counts), new sessions' start-up
    transactions subtracted."""
    live = [row for row in rows if not row.skipped]
    log(f"counting PostgreSQL transactions: {TX_REQUESTS} requests per row, {TX_REQUESTS_DATA} for the data rows")
    probe = Probe(servers)
    try:
        for row in live:
            database = servers[row.server].database
            xacts, sessions = probe.settled_counts(database)
            n = TX_REQUESTS_DATA if row.id in DATA_ROWS else TX_REQUESTS
            answered = dropped = 0
            while answered < n:
                status, body = fetch_row(row)
                if row.accepts(status):
                    answered += 1
                elif row.server == "peer" and status >= 500 and dropped < WORKERS:
                    # The peer runs without CONN_HEALTH_CHECKS (its cheaper choice): a worker whose
                    # connection settled_counts() just closed answers one 500 (no transaction: the
                    # statement never reaches PostgreSQL), then reconnects. Not counted as answered.
                    dropped += 1
                else:
                    sys.exit(f"bench: row {row.id} answered {status} during the transaction count: {body[:200]!r}")
            after_xacts, after_sessions = probe.settled_counts(database)
            row.xacts_per_request = ((after_xacts - xacts) - (after_sessions - sessions)) / n
            log(f"row {row.id:>3}: {row.xacts_per_request:.4f} PostgreSQL transactions per request")
    finally:
        probe.close()


def count_queries(rows: list[Row], results: Path, servers: dict[str, Server]) -> None:
    """Queries and Redis round-trips per request, in-process, with each row's server's own settings."""
    log("counting queries and Redis round-trips per request (in-process)")
    for name, server in servers.items():
        spec = [
            {
                "name": r.id,
                "path": r.path,
                "headers": r.all_headers,
                "expect": r.expect,
                "method": r.method,
                "body": r.body,
            }
            for r in rows
            if not r.skipped and r.server == name
        ]
        if not spec:
            continue
        out = run([PY, "-m", "bench.queries"], server.env, input=json.dumps(spec)).stdout
        (results / f"queries-{name}.json").write_text(out)
        counts = json.loads(out)
        for row in rows:
            if row.server == name and row.id in counts:
                row.queries = counts[row.id]


# --- report -------------------------------------------------------------------------------------
def median(values) -> float:
    return statistics.median(values)


def summarise(row: Row) -> dict:
    if row.skipped:
        return {"id": row.id, "label": row.label, "skipped": row.skipped}
    runs = row.runs
    requests = sum(r["requests"] for r in runs)
    non_2xx = sum(r["errors"]["status"] for r in runs)
    socket = sum(r["errors"][k] for r in runs for k in ("connect", "read", "write", "timeout"))
    q = row.queries or {}
    statuses = q.get("statuses", {})
    return {
        "id": row.id,
        "label": row.label,
        "expect": row.expect,
        "rps": median(r["rps"] for r in runs),
        "rps_min": min(r["rps"] for r in runs),
        "rps_max": max(r["rps"] for r in runs),
        "p50_ms": median(r["latency_us"]["p50"] for r in runs) / 1000,
        "p99_ms": median(r["latency_us"]["p99"] for r in runs) / 1000,
        "requests": requests,
        "non_2xx": non_2xx,
        "socket_errors": socket,
        # Every request of an invalid-key row must be refused: its non-2xx are the expected 401s.
        "unexpected": (requests - non_2xx) if row.expect >= 400 else non_2xx,
        "db_xacts_per_request": row.xacts_per_request,
        "db_xacts_per_request_under_load": median(r["db_xacts"] / r["requests"] for r in runs),
        "app_cpu_ms": median(r["app_cpu_s"] / r["requests"] * 1000 for r in runs),
        "log_lines_per_request": sum(r["log_lines"] for r in runs) / requests,
        "server": row.server,
        "pg_cpu_ms": median(r["pg_cpu_s"] / r["requests"] * 1000 for r in runs),
        "redis_cpu_ms": median(r["redis_cpu_s"] / r["requests"] * 1000 for r in runs),
        "queries_per_request": q.get("queries_per_request"),
        "redis_per_request": q.get("redis_roundtrips_per_request"),
        "foreign_cpu_shares": [round(r["foreign_cpu_share"], 3) for r in runs],
        "inprocess_statuses_ok": all(row.accepts(int(k)) for k in statuses) if q else None,
    }


def fmt(value, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def render(summaries: list[dict], busy_before: float) -> str:
    head = (
        f"{'#':<3} {'row':<36} {'req/s':>6} {'(min-max)':>11} {'p50 ms':>6} {'p99 ms':>6} {'non-2xx':>8} "
        f"{'errors':>6} {'SQL/req':>7} {'PG xact':>7} {'Redis':>5} {'CPU ms/req':>14} {'log':>5}"
    )
    sub = (
        f"{'':<3} {'':<36} {'':>6} {'':>11} {'':>6} {'':>6} {'':>8} {'':>6} {'':>7} "
        f"{'/req':>7} {'RT/req':>5} {'app':>7}{'PG':>7} {'l/req':>5}"
    )
    lines = [head, sub, "-" * len(head)]
    for s in summaries:
        if "skipped" in s:
            lines.append(f"{s['id']:<3} {s['label']:<36} not measured: {s['skipped']}")
            continue
        non_2xx = str(s["non_2xx"])
        if s["expect"] >= 400:  # the refusals are the point of the row; any 2xx would be a failure
            non_2xx = "all 4xx" if s["unexpected"] == 0 else f"{s['unexpected']} 2xx!"
        errors = s["socket_errors"] + (s["unexpected"] if s["expect"] < 400 else 0)
        spread = f"{s['rps_min']:.0f}-{s['rps_max']:.0f}"
        lines.append(
            f"{s['id']:<3} {s['label']:<36} {s['rps']:>6.0f} {spread:>11} {s['p50_ms']:>6.2f} {s['p99_ms']:>6.2f} "
            f"{non_2xx:>8} {errors:>6} {fmt(s['queries_per_request'], '.2f'):>7} "
            f"{fmt(s['db_xacts_per_request'], '.2f'):>7} "
            f"{fmt(s['redis_per_request'], '.2f'):>5} {s['app_cpu_ms']:>7.3f}{s['pg_cpu_ms']:>7.3f}"
            f" {s['log_lines_per_request']:>5.2f}"
        )
    by_id = {s["id"]: s for s in summaries if "skipped" not in s}
    lines.append("")
    for num, den, target, text in COMPARISONS:
        if num not in by_id or den not in by_id:
            lines.append(f"({num})/({den}) {text}: n/a (a row was not measured)")
            continue
        n, d = by_id[num], by_id[den]
        ratio = n["rps"] / d["rps"]
        cost = (d["app_cpu_ms"] + d["pg_cpu_ms"]) / (n["app_cpu_ms"] + n["pg_cpu_ms"])
        verdict = "" if target is None else f" (target >= {target:.2f}: {'met' if ratio >= target else 'NOT met'})"
        lines.append(f"({num})/({den}) {text}: {ratio:.2f}x req/s{verdict}; by server CPU per request: {cost:.2f}x")
    for row_id in DATA_ROWS:
        if row_id in by_id:
            s = by_id[row_id]
            ok = (
                s["unexpected"] == 0
                and s["socket_errors"] == 0
                and (s["queries_per_request"] or 0) <= 1
                and s["db_xacts_per_request"] is not None
                and round(s["db_xacts_per_request"], 2) <= 1.0
            )
            lines.append(
                f"({row_id}) data request: {fmt(s['queries_per_request'], '.2f')} SQL queries, "
                f"{fmt(s['db_xacts_per_request'], '.2f')} PostgreSQL transactions per request, "
                f"{s['unexpected'] + s['socket_errors']} non-2xx/errors (target <= 1, <= 1, 0: "
                f"{'met' if ok else 'NOT met'})"
            )
    lines.append("")
    lines.append(
        f"wrk -t{THREADS} -c{CONNECTIONS}, {DURATION} s x {REPEAT} runs per row, interleaved; medians (req/s spread: "
        f"min-max). gunicorn {WORKERS} sync workers;\n"
        f"{os.cpu_count()} CPUs shared by wrk, gunicorn, PostgreSQL and Redis. non-2xx, errors: sums over all runs "
        "(errors = socket errors + unexpected statuses).\n"
        "SQL/req, Redis RT/req: counted in-process (Django query log; Redis round-trips). PG xact/req: PostgreSQL's "
        f"count in a pass of its own\n({TX_REQUESTS} requests one at a time per row, {TX_REQUESTS_DATA} for rows "
        f"{', '.join(DATA_ROWS)}; health checks and the keys' periodic bookkeeping included). "
        "CPU ms/req: user+system time of the gunicorn workers (app)\nand of the PostgreSQL backends (PG), from /proc. "
        "log l/req: lines the server wrote to its log (stdout+stderr) per request, under load.\n"
        "Servers: ours = gunicorn keys_console.wsgi -c keys_console/gunicorn_conf.py (as the image runs it),\n"
        "keys_console.settings, production environment only (DEBUG=0, "
        "JSON request log at INFO); rows *q = the same with LOG_LEVEL=WARNING (request log off); bare and peer rows =\n"
        "gunicorn bench.peer.wsgi, a startproject project with DRF + djangorestframework-api-key, its own database."
    )
    foreign = [x for s in summaries for x in s.get("foreign_cpu_shares", [])]
    if foreign:
        lines.append(
            f"Other processes on the machine: {100 * busy_before:.0f}% of its CPU before the run; during the "
            f"runs median {100 * statistics.median(foreign):.0f}%, max {100 * max(foreign):.0f}%."
        )
        if statistics.median(foreign) > 0.10 or busy_before > 0.10:
            lines.append(
                "WARNING: other processes were using the CPUs: req/s are noisy (see the spread); "
                "CPU ms/req much less so."
            )
    return "\n".join(lines)


def main() -> None:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    results = BENCH / "results" / stamp
    results.mkdir(parents=True)
    started = time.monotonic()
    data = seed()
    rows = make_rows(data)
    only = os.environ.get("BENCH_ROWS")
    if only:
        wanted = {x.strip() for x in only.split(",")}
        rows = [r for r in rows if r.id in wanted or r.id.rstrip("pLq") in wanted or r.id[0] in wanted]
    busy_before = foreign_load()
    servers = make_servers({r.server for r in rows})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        for server in servers.values():
            server.start(results)
        for server in servers.values():
            server.wait_ready()
        measure(rows, results, servers)
        if not os.environ.get("BENCH_NO_TX"):
            count_transactions(rows, servers)
    finally:
        for server in servers.values():
            server.stop()
    count_queries(rows, results, servers)
    summaries = [summarise(r) for r in rows]
    for s in summaries:
        if s.get("inprocess_statuses_ok") is False:
            log(f"row {s['id']}: the in-process pass got other statuses than {s['expect']}: see queries-*.json")
    table = render(summaries, busy_before)
    meta = {
        "started": stamp,
        "seconds": round(time.monotonic() - started, 1),
        "duration": DURATION,
        "repeat": REPEAT,
        "connections": CONNECTIONS,
        "threads": THREADS,
        "workers": WORKERS,
        "cpus": os.cpu_count(),
        "other_cpu_share_before": round(busy_before, 3),
        "servers": {name: server.command(results) for name, server in servers.items()},
    }
    (results / "summary.json").write_text(
        json.dumps({"meta": meta, "rows": summaries, "runs": {r.id: r.runs for r in rows}}, indent=2)
    )
    (results / "table.txt").write_text(table + "\n")
    if not only:  # latest.txt: the last full run
        (BENCH / "results" / "latest.txt").write_text(f"run {stamp}\n{table}\n")
    print(table)
    log(f"done in {meta['seconds']} s; raw outputs in {results.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
