"""The benchmark driver behind `make bench` (bench/run.sh installs what it needs, then runs this).

1. Re-creates the bench database (PostgreSQL), migrates it, seeds a project with questions and a
   DRF key (bench/setup_data.py), and makes the console's keys with `manage.py create_api_key`.
2. Starts gunicorn (sync workers) on loopback with bench.settings and waits until it answers.
3. Checks every row once (status and body), warms each row up, then runs wrk for each row, BENCH_REPEAT
   times, interleaved (row 1..n, then again), so a slow moment of the machine hits all rows alike.
   During each run it reads PostgreSQL's transaction counter for the bench database (server side).
4. Stops gunicorn, counts queries and Redis round-trips per request in-process (bench/queries.py).
5. Prints one table (medians over the repetitions) and the headline ratios; saves raw outputs under
   bench/results/<timestamp>/ and the table as bench/results/latest.txt.

Knobs (environment): BENCH_DURATION (s, 5), BENCH_REPEAT (3), BENCH_CONNECTIONS (16), BENCH_THREADS (1),
BENCH_WORKERS (2), BENCH_WARMUP (s, 2), BENCH_PORT (8765), BENCH_DATABASE_URL, BENCH_REDIS_URL,
BENCH_ROWS (comma-separated row ids, e.g. "1,2,4", default all), BENCH_WHATIF (see bench/whatif.py).
"""

from __future__ import annotations

import json
import os
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
BENCH = ROOT / "bench"
PY = sys.executable
BIN = Path(PY).parent

DURATION = int(os.environ.get("BENCH_DURATION", "5"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
THREADS = int(os.environ.get("BENCH_THREADS", "1"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "2"))
PORT = int(os.environ.get("BENCH_PORT", "8765"))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/nbq_bench"
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/9"
BASE = f"http://127.0.0.1:{PORT}"
# Behind the production proxy every request carries this; the console then treats it as HTTPS
# (no redirect), exactly as in production. Every row sends it.
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}
STATS_SETTLE = 1.2  # s: a PostgreSQL backend publishes its counters at most once a second, when idle
# The transaction count per request comes from a pass of its own: requests one at a time (so every
# request counted was answered), then the app's PostgreSQL backends are terminated, which makes
# them publish their counters at once (a backend that published less than a second ago otherwise
# holds the rest back until it has been idle for 10 s: PostgreSQL 15's PGSTAT_IDLE_INTERVAL, so a
# load run's delta leaks into the next row's). The workers reconnect on their next request (the
# health check sees the closed connection; no request fails); each new session's start-up
# transaction is subtracted (pg_stat_database.sessions). The data rows get more requests: what a
# key costs per minute or per 10 s whatever its traffic (last use, the usage flush, refreshing
# the cached key record: a few transactions per pass) then weighs in the third decimal, as it does
# under real traffic, not in the second.
TX_REQUESTS = int(os.environ.get("BENCH_TX_REQUESTS", "200"))
TX_REQUESTS_DATA = int(os.environ.get("BENCH_TX_REQUESTS_DATA", "2000"))

# The production profile's defaults: nothing but the bench's DATABASE_URL / REDIS_URL (set by
# bench/settings.py), DEBUG=0, SECRET_KEY and ALLOWED_HOSTS. A CONN_MAX_AGE in the caller's
# environment is dropped; BENCH_CONN_MAX_AGE sets one on purpose (what-if runs).
ENV = {
    **{k: v for k, v in os.environ.items() if k not in {"CONN_MAX_AGE", "DATABASE_URL", "REDIS_URL"}},
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "PYTHONPATH": str(ROOT),
    "BENCH_DATABASE_URL": DATABASE_URL,
    "BENCH_REDIS_URL": REDIS_URL,
    "PYTHONDONTWRITEBYTECODE": "1",
}
if os.environ.get("BENCH_CONN_MAX_AGE"):
    ENV["CONN_MAX_AGE"] = os.environ["BENCH_CONN_MAX_AGE"]


@dataclass
class Row:
    id: str
    label: str
    path: str
    headers: dict[str, str]
    expect: int  # the status every request of this row should get
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


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, cwd=ROOT, env=ENV, text=True, capture_output=True, **kwargs)
    if done.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd[:4])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


# --- database -----------------------------------------------------------------------------------
def admin_conninfo() -> tuple[str, str]:
    """(conninfo of the server's `postgres` database, name of the bench database)."""
    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"bench: refusing to drop {name!r}: BENCH_DATABASE_URL must name a database containing 'bench'")
    return parts._replace(path="/postgres").geturl(), name


def reset_database() -> None:
    conninfo, name = admin_conninfo()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


class Probe:
    """What the server side spent during a run, read from PostgreSQL and /proc (never from the app).

    - PostgreSQL transactions (commit + rollback) in the bench database: with autocommit each
      statement outside an atomic block is one transaction, so the delta divided by the requests is
      the server's view of database statements per request. It includes the health-check
      `SELECT 1` that Django's query log never shows.
    - CPU time (user + system) of the gunicorn workers and of the PostgreSQL backends serving the
      bench database, from /proc/<pid>/stat. CPU per request is far steadier than requests/s when
      other processes share the machine, and it says where the work goes.
    - Redis CPU time (INFO cpu); the Redis server may be shared, so it is kept in the raw output only.
    """

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, master_pid: int) -> None:
        import redis

        conninfo, self.name = admin_conninfo()
        self.conn = psycopg.connect(conninfo, autocommit=True)
        self.master_pid = master_pid
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

    def _workers(self) -> list[int]:
        try:
            return [
                int(p) for p in Path(f"/proc/{self.master_pid}/task/{self.master_pid}/children").read_text().split()
            ]
        except OSError:
            return []

    def settled_counts(self) -> tuple[int, int]:
        """(transactions, sessions) of the bench database, after making every backend of it publish
        its counters: they are terminated (the app reconnects on its next request)."""
        self.conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [self.name])
        deadline = time.monotonic() + 10
        while (
            time.monotonic() < deadline
            and self.conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [self.name]).fetchone()[0]  # type: ignore[index]  # count(*) always returns a row
        ):
            time.sleep(0.05)
        row = self.conn.execute(
            "SELECT xact_commit + xact_rollback, sessions FROM pg_stat_database WHERE datname = %s", [self.name]
        ).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def snapshot(self) -> dict:
        xacts = self.conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", [self.name]
        ).fetchone()
        backends = [
            r[0]
            for r in self.conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.name]).fetchall()
        ]
        cpu = self.redis.info("cpu")
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # finished wrk runs
        return {
            "xacts": int(xacts[0]) if xacts else 0,
            "app": self._cpu(self._workers()),
            "pg": self._cpu(backends),
            "redis": float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
            "wrk": children.ru_utime + children.ru_stime,
            "machine": machine_busy_seconds(),
            "at": time.monotonic(),
        }

    @staticmethod
    def delta(before: dict, after: dict) -> dict:
        def cpu(kind):  # processes that appeared during the run count from zero
            return sum(t - before[kind].get(pid, 0.0) for pid, t in after[kind].items())

        result = {
            "db_xacts": after["xacts"] - before["xacts"],
            "app_cpu_s": cpu("app"),
            "pg_cpu_s": cpu("pg"),
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
            "1000000000",
            "--expires-days",
            "0",
        ]
    ).stdout.strip()
    assert out.startswith("nbq_live_"), out
    return out


def seed() -> dict:
    log("re-creating the bench database, migrating, seeding")
    reset_database()
    run([PY, "manage.py", "migrate", "--noinput", "-v", "0"])
    data = json.loads(run([PY, "-m", "bench.setup_data"]).stdout)
    data["key"] = create_key(data["project"], "bench: GET /key")
    data["questions_key"] = create_key(data["project"], "bench: GET /questions")
    data["next_key"] = create_key(data["project"], "bench: POST /next-question")
    ENV["BENCH_PROJECT_ID"] = str(data["project_id"])  # the peers serve this project's questions
    return data


def make_rows(data: dict) -> list[Row]:
    """Each of our rows next to its peer (DRF + djangorestframework-api-key, the usual way)."""
    inv = data["invalid"]
    drf = {"Authorization": f"Api-Key {data['drf_key']}"}
    next_body = json.dumps({"answered": data["answered"]})
    return [
        Row("1", "baseline: Django JSON view, no auth", "/bench/baseline", {}, 200),
        Row("2", "ours: GET /api/v1/key", "/api/v1/key", {"Authorization": f"Bearer {data['key']}"}, 200),
        Row("2p", "peer: DRF APIView + HasAPIKey", "/bench/drf", drf, 200),
        Row(
            "3",
            "ours: GET /api/v1/questions?limit=10",
            "/api/v1/questions?limit=10",
            {"Authorization": f"Bearer {data['questions_key']}"},
            200,
        ),
        Row("3p", "peer: DRF ListAPIView, ?limit=10", "/bench/drf/questions?limit=10", drf, 200),
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
            "4p", "peer: DRF APIView next-question", "/bench/drf/next-question", drf, 200, method="POST", body=next_body
        ),
        Row("5a", "invalid key: malformed", "/api/v1/key", {"Authorization": f"Bearer {inv['malformed']}"}, 401),
        Row("5b", "invalid key: bad checksum", "/api/v1/key", {"Authorization": f"Bearer {inv['bad_checksum']}"}, 401),
        Row(
            "5c",
            "invalid key: unknown (well-formed)",
            "/api/v1/key",
            {"Authorization": f"Bearer {inv['unknown']}"},
            401,
        ),
    ]


# Rows measured against each other: (ours, reference, target ratio of req/s, what).
COMPARISONS = [
    ("3", "3p", 1.5, "list vs DRF ListAPIView + ModelSerializer + LimitOffsetPagination + HasAPIKey"),
    ("4", "4p", 1.5, "next-question vs DRF APIView + HasAPIKey, same query"),
    ("2", "2p", 1.5, "GET /key vs DRF APIView + HasAPIKey"),
    ("5a", "1", 0.9, "malformed key vs bare Django JSON view"),
    ("5b", "1", 0.9, "bad-checksum key vs bare Django JSON view"),
    ("2", "1", None, "GET /key vs bare Django JSON view"),
]
DATA_ROWS = ("3", "4")  # at most 1 SQL query and 1 PostgreSQL transaction per request


# --- server -------------------------------------------------------------------------------------
class Server:
    def __init__(self, results: Path) -> None:
        self.results = results
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [
            # bench.wsgi = keys_console.wsgi plus the BENCH_WHATIF variants (none by default).
            str(BIN / "gunicorn"),
            "bench.wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            str(WORKERS),
            "--worker-class",
            "sync",
            "--pid",
            str(BENCH / "results" / "gunicorn.pid"),
            "--error-logfile",
            str(self.results / "gunicorn.log"),
            "--log-level",
            "warning",
        ]
        log(f"starting gunicorn: {WORKERS} sync workers on 127.0.0.1:{PORT}")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"bench: gunicorn exited with {self.proc.returncode}; see {self.results / 'gunicorn.log'}")
            try:
                if fetch("/bench/baseline", PROXY_HEADERS)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        sys.exit("bench: gunicorn did not answer within 30 s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


def fetch(path: str, headers: dict[str, str], method: str = "GET", body: str | None = None) -> tuple[int, bytes]:
    data = body.encode() if body is not None else None
    request = urllib.request.Request(BASE + path, headers=headers, method=method, data=data)
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
    cmd.append(BASE + row.path)
    out = subprocess.run(cmd, check=True, text=True, capture_output=True).stdout
    if raw is not None:
        raw.write_text(out)
    line = next(line for line in out.splitlines() if line.startswith("BENCH_JSON "))
    result = json.loads(line.removeprefix("BENCH_JSON "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def measure(rows: list[Row], results: Path, server: Server) -> None:
    raw_dir = results / "wrk"
    raw_dir.mkdir()
    for row in rows:
        status, body = fetch(row.path, row.all_headers, row.method, row.body)
        (raw_dir / f"preflight-{row.id}.txt").write_bytes(f"{status}\n".encode() + body)
        if not row.accepts(status):
            row.skipped = f"got {status}, expected {row.expect}: {body[:120]!r}"
            log(f"row {row.id} not measured: {row.skipped}")
    live = [row for row in rows if not row.skipped]
    log(f"warm-up: {WARMUP} s per row")
    for row in live:
        wrk(row, WARMUP, None)
    assert server.proc is not None
    probe = Probe(server.proc.pid)
    try:
        time.sleep(STATS_SETTLE)
        before = probe.snapshot()
        for rep in range(1, REPEAT + 1):
            for row in live:
                result = wrk(row, DURATION, raw_dir / f"row{row.id}-rep{rep}.txt")
                time.sleep(STATS_SETTLE)  # also lets the machine settle before the next run
                after = probe.snapshot()
                result.update(probe.delta(before, after))
                before = after
                row.runs.append(result)
                log(
                    f"rep {rep}/{REPEAT} row {row.id:>2}: {result['rps']:8.0f} req/s  "
                    f"p50 {result['latency_us']['p50'] / 1000:.2f} ms  "
                    f"p99 {result['latency_us']['p99'] / 1000:.2f} ms  "
                    f"CPU/req app {result['app_cpu_s'] / result['requests'] * 1000:.3f} ms "
                    f"PG {result['pg_cpu_s'] / result['requests'] * 1000:.3f} ms"
                )
    finally:
        probe.close()


def count_transactions(rows: list[Row], server: Server) -> None:
    """PostgreSQL transactions per request, as the server counts them (health checks, BEGIN/COMMIT
    and statements Django's query log never sees included), row by row: TX_REQUESTS requests one
    at a time, then the counters published (Probe.settled_counts), new sessions' start-up
    transactions subtracted."""
    live = [row for row in rows if not row.skipped]
    log(f"counting PostgreSQL transactions: {TX_REQUESTS} requests per row, {TX_REQUESTS_DATA} for the data rows")
    assert server.proc is not None
    probe = Probe(server.proc.pid)
    try:
        xacts, sessions = probe.settled_counts()
        for row in live:
            n = TX_REQUESTS_DATA if row.id in DATA_ROWS else TX_REQUESTS
            for _ in range(n):
                status, body = fetch(row.path, row.all_headers, row.method, row.body)
                if not row.accepts(status):
                    sys.exit(f"bench: row {row.id} answered {status} during the transaction count: {body[:200]!r}")
            after_xacts, after_sessions = probe.settled_counts()
            row.xacts_per_request = ((after_xacts - xacts) - (after_sessions - sessions)) / n
            xacts, sessions = after_xacts, after_sessions
            log(f"row {row.id:>2}: {row.xacts_per_request:.4f} PostgreSQL transactions per request")
    finally:
        probe.close()


def count_queries(rows: list[Row], results: Path) -> None:
    spec = [
        {"name": r.id, "path": r.path, "headers": r.all_headers, "expect": r.expect, "method": r.method, "body": r.body}
        for r in rows
        if not r.skipped
    ]
    if not spec:
        return
    log("counting queries and Redis round-trips per request (in-process)")
    out = run([PY, "-m", "bench.queries"], input=json.dumps(spec)).stdout
    (results / "queries.json").write_text(out)
    counts = json.loads(out)
    for row in rows:
        row.queries = counts.get(row.id)


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
        f"{'errors':>6} {'SQL/req':>7} {'PG xact':>7} {'Redis':>5} {'CPU ms/req':>14}"
    )
    sub = (
        f"{'':<3} {'':<36} {'':>6} {'':>11} {'':>6} {'':>6} {'':>8} {'':>6} {'':>7} "
        f"{'/req':>7} {'RT/req':>5} {'app':>7}{'PG':>7}"
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
        "CPU ms/req: user+system time of the gunicorn workers (app)\nand of the PostgreSQL backends (PG), from /proc."
    )
    whatif = os.environ.get("BENCH_WHATIF")
    if whatif:
        lines.append(
            f"WHAT-IF RUN (BENCH_WHATIF={whatif}): the hot path was modified at run time; see bench/whatif.py."
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
        rows = [r for r in rows if r.id in wanted or r.id[0] in wanted]
    busy_before = foreign_load()
    server = Server(results)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        server.start()
        measure(rows, results, server)
        if not os.environ.get("BENCH_NO_TX"):
            count_transactions(rows, server)
    finally:
        server.stop()
    count_queries(rows, results)
    summaries = [summarise(r) for r in rows]
    for s in summaries:
        if s.get("inprocess_statuses_ok") is False:
            log(f"row {s['id']}: the in-process pass got other statuses than {s['expect']}: see queries.json")
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
        "whatif": os.environ.get("BENCH_WHATIF", ""),
    }
    (results / "summary.json").write_text(
        json.dumps({"meta": meta, "rows": summaries, "runs": {r.id: r.runs for r in rows}}, indent=2)
    )
    (results / "table.txt").write_text(table + "\n")
    if not os.environ.get("BENCH_WHATIF") and not only:  # latest.txt: the last full, unmodified run
        (BENCH / "results" / "latest.txt").write_text(f"run {stamp}\n{table}\n")
    print(table)
    log(f"done in {meta['seconds']} s; raw outputs in {results.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
