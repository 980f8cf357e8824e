"""Harness of the reliability tests: the app under gunicorn as in production, a plain HTTP
client, private PostgreSQL / Redis servers that a test may stop and start, and the secret scan.

Every process started here is started in its own session and stopped by its own id
(`Gunicorn.stop`, `PrivatePostgres.stop`, `PrivateRedis.stop`); fixtures call those in their
finalizers, so no server outlives its test.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

from keys import keygen

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
GUNICORN = VENV_BIN / "gunicorn"
KEY_CANDIDATE = re.compile(r"nbq_live_[A-Za-z0-9]{32}")
# Access log: worker pid, status, method, path, the client's probe id, request start (epoch ms).
ACCESS_LOG_FORMAT = "ACCESS pid=%(p)s status=%(s)s method=%(m)s path=%(U)s probe=%({x-probe}i)s"
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}  # a TLS proxy in front, as in production


# What the test process may carry that a production server must not inherit (the browser tests
# set DJANGO_ALLOW_ASYNC_UNSAFE, which `check --deploy` rightly flags).
NOT_INHERITED = {
    "REDIS_URL",
    "DATABASE_URL",
    "DEBUG",
    "SECRET_KEY",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "PYTEST_CURRENT_TEST",
    "API_KEY_RATE_LIMIT_PER_MINUTE",
    "API_USAGE_FLUSH_SECONDS",
    "CONN_MAX_AGE",
    "ALLOWED_HOSTS",
}


def clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    # No mail server on this machine: the servers under test drop their mails (invitations sent
    # through the API would otherwise try SMTP on localhost and log the refusal).
    env.setdefault("EMAIL_BACKEND", "django.core.mail.backends.dummy.EmailBackend")
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(db_settings: dict | None = None) -> str:
    """A DATABASE_URL for the database the tests use right now (pytest-django's test database)."""
    db = db_settings or settings.DATABASES["default"]
    assert db["ENGINE"].endswith(".postgresql"), "the reliability tests run on PostgreSQL"
    user = quote(db.get("USER") or "postgres", safe="")
    password = db.get("PASSWORD") or ""
    auth = f"{user}:{quote(password, safe='')}" if password else user
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{quote(db['NAME'], safe='')}"


# --- HTTP ---------------------------------------------------------------------------------------
@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    started: float  # time.time() just before the request was sent
    finished: float
    probe: str
    set_cookies: list[str] = field(default_factory=list)

    def json(self):
        import json

        return json.loads(self.body)

    @property
    def error_code(self) -> str | None:
        try:
            return self.json()["error"]["code"]
        except Exception:
            return None


def call(
    port: int,
    method: str,
    path: str,
    *,
    headers: dict | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
    host: str = "127.0.0.1",
    tls: ssl.SSLContext | None = None,
) -> Reply:
    """One request on a fresh connection (`Connection: close`), as a separate client would send it.
    Plain HTTP carries the TLS proxy's header, as gunicorn behind the proxy sees it; with `tls`, the
    request goes over TLS to the proxy itself, which sets that header. An answer that breaks off
    (a worker killed mid-body: http.client's IncompleteRead) raises ConnectionError, an OSError as
    every other transport failure, so the load loops that count those count it too."""
    probe = uuid.uuid4().hex
    proxy = {} if tls is not None else PROXY_HEADERS
    all_headers = {**proxy, "Connection": "close", "X-Probe": probe, **(headers or {})}
    if body is not None:
        all_headers.setdefault("Content-Type", "application/json")
    conn = (
        http.client.HTTPSConnection(host, port, timeout=timeout, context=tls)
        if tls is not None
        else http.client.HTTPConnection(host, port, timeout=timeout)
    )
    started = time.time()
    try:
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        raw = response.getheaders()
        return Reply(
            response.status,
            {k.lower(): v for k, v in raw},
            data,
            started,
            time.time(),
            probe,
            [v for k, v in raw if k.lower() == "set-cookie"],
        )
    except http.client.HTTPException as exc:
        raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()


def bearer(plaintext: str) -> dict:
    return {"Authorization": f"Bearer {plaintext}"}


# --- gunicorn -----------------------------------------------------------------------------------
def _gunicorn_extra_args() -> list[str]:
    """gunicorn >= 27 opens a control socket at ~/.gunicorn/gunicorn.ctl, one path for every
    server of the user: the test servers must not take it from another gunicorn on the machine."""
    help_text = subprocess.run([str(GUNICORN), "--help"], capture_output=True, text=True, check=False).stdout
    return ["--no-control-socket"] if "--no-control-socket" in help_text else []


@dataclass
class Gunicorn:
    """`gunicorn keys_console.wsgi -w N` on a free loopback port, DEBUG=0, logs to a file."""

    database_url: str
    redis_url: str | None
    workers: int = 3
    env: dict = field(default_factory=dict)
    log_dir: Path | None = None
    wrapper: tuple[str, ...] = ()  # e.g. ("faketime", "-f", "-5s"): a host whose clock runs behind
    # The shipped gunicorn configuration (keys_console/gunicorn_conf.py: drain on SIGTERM, JSON
    # lines, metrics) instead of the plain options below (then without the access log).
    config: Path | None = None
    port: int = 0
    process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> Gunicorn:
        """Start on a free port, or again on the same one (a host restarted behind a balancer)."""
        self.port = self.port or free_port()
        self.log_dir = Path(self.log_dir or tempfile.mkdtemp(prefix="nbq-gunicorn-"))
        self.log_path = self.log_dir / f"gunicorn-{self.port}.log"
        env = clean_env()
        env.update(
            {
                "DEBUG": "0",
                "SECRET_KEY": secrets.token_urlsafe(50),
                "DATABASE_URL": self.database_url,
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update({k: str(v) for k, v in self.env.items()})
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (open for the server's whole life; closed in stop())
        self.process = subprocess.Popen(
            [
                *self.wrapper,
                str(GUNICORN),
                "keys_console.wsgi",
                "-w",
                str(self.workers),
                "-b",
                f"127.0.0.1:{self.port}",
                *(
                    ["-c", str(self.config)]
                    if self.config
                    else ["--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT]
                ),
                "--error-logfile",
                "-",
                "--graceful-timeout",
                "20",
                "--timeout",
                "60",
                "--backlog",
                "2048",
                *_gunicorn_extra_args(),
            ],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
            try:
                if call(self.port, "GET", "/api/v1/openapi.json", timeout=2).status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{self.log_text()[-3000:]}")
        # Wait until every worker has booted, so that "every worker" below means all N.
        while time.monotonic() < deadline and len(self.booted_pids()) < self.workers:
            time.sleep(0.1)
        return self

    def booted_pids(self) -> set[int]:
        return {int(p) for p in re.findall(r"Booting worker with pid: (\d+)", self.log_text())}

    def worker_pids(self) -> set[int]:
        """The live workers (children of the arbiter; under a wrapper, the arbiter is its child)."""
        assert self.process is not None, "start() first"
        parents = {self.process.pid}
        if self.wrapper:
            parents = _children(self.process.pid)
        return set().union(*(_children(pid) for pid in parents)) if parents else set()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except (AttributeError, FileNotFoundError):
            return ""

    def access_lines(self) -> dict[str, dict]:
        """probe id -> {"pid", "status", "method", "path"} from the access log."""
        lines = {}
        for m in re.finditer(r"ACCESS pid=<(\d+)> status=(\d+) method=(\S+) path=(\S+) probe=(\S+)", self.log_text()):
            lines[m.group(5)] = {
                "pid": int(m.group(1)),
                "status": int(m.group(2)),
                "method": m.group(3),
                "path": m.group(4),
            }
        return lines

    def pids_for(self, replies: list[Reply], wait: float = 5.0) -> dict[str, int]:
        """probe -> worker pid for these replies (waits for the access log to catch up)."""
        wanted = {r.probe for r in replies}
        deadline = time.monotonic() + wait
        while True:
            lines = self.access_lines()
            if wanted <= lines.keys() or time.monotonic() > deadline:
                return {p: lines[p]["pid"] for p in wanted if p in lines}
            time.sleep(0.05)

    def get(self, path: str, **kwargs) -> Reply:
        return call(self.port, "GET", path, **kwargs)

    def request(self, method: str, path: str, **kwargs) -> Reply:
        return call(self.port, method, path, **kwargs)

    def stop(self, timeout: float = 30.0) -> int | None:
        """Graceful stop (SIGTERM: workers finish their requests and flush usage counts), then SIGKILL."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the session this harness created
                self.process.wait(5)
        # Workers are reaped by the arbiter; make sure none of its session is left behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()
        return self.process.returncode


def _children(pid: int) -> set[int]:
    try:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return set()
    return {int(p) for p in out.split()}


# --- private servers for fault tests --------------------------------------------------------------
def _pg_bin() -> Path | None:
    root = Path("/usr/lib/postgresql")
    if not root.is_dir():
        return None
    versions = sorted((p for p in root.iterdir() if (p / "bin" / "pg_ctl").exists()), key=lambda p: p.name)
    return versions[-1] / "bin" if versions else None


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free port, owned by this test: stopping it disturbs
    neither the test database nor anybody else's server. Runs as the `postgres` system user
    when the tests run as root (initdb refuses root)."""

    def __init__(self):
        self.bin = _pg_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries not found under /usr/lib/postgresql")
        self.dir = Path(tempfile.mkdtemp(prefix="nbq-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")

    def _run(self, tool, *args, check=True, timeout=60):
        return subprocess.run(
            [*self.as_user, str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
            cwd=self.dir,
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def start(self):
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.dir / "server.log"), "-w", "start")

    def stop(self, mode: str = "fast") -> subprocess.CompletedProcess:
        return self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def is_running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def destroy(self):
        if self.data.exists() and self.is_running():
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """A redis-server of this test on a free port (so it can be killed without touching the shared one)."""

    def __init__(self):
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0):
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None


def redis_available(url: str) -> str | None:
    """None if Redis answers at `url`, else why not."""
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2).flushdb()


def manage(database_url: str, *args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python manage.py ...` against another database (e.g. a private cluster)."""
    full_env = clean_env()
    full_env.update(
        {"DATABASE_URL": database_url, "DEBUG": "0", "SECRET_KEY": secrets.token_urlsafe(50), **(env or {})}
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


# --- secrets ------------------------------------------------------------------------------------
def dump_database(db_settings: dict | None = None) -> str:
    """pg_dump of the database (data and schema) as text."""
    db = db_settings or settings.DATABASES["default"]
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    result = subprocess.run(
        [
            "pg_dump",
            "--no-owner",
            "-h",
            db.get("HOST") or "127.0.0.1",
            "-p",
            str(db.get("PORT") or 5432),
            "-U",
            db.get("USER") or "postgres",
            db["NAME"],
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return result.stdout


def find_keys(text: str) -> set[str]:
    """Every well-formed key (pattern and checksum) in `text`."""
    return {c for c in KEY_CANDIDATE.findall(text) if keygen.is_well_formed(c)}


def assert_no_secrets(generated: set[str], **sources: str) -> dict[str, int]:
    """No generated key appears in any of `sources` (name -> text). Returns the bytes scanned per source."""
    assert generated, "nothing to look for: no key was generated"
    leaks = {name: sorted(find_keys(text) & generated) for name, text in sources.items()}
    leaks = {name: found for name, found in leaks.items() if found}
    assert not leaks, f"full API keys found in: { {n: len(f) for n, f in leaks.items()} }"
    return {name: len(text) for name, text in sources.items()}
