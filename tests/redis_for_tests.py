"""The Redis the tests use, and only that one: never whatever merely answers on the machine's usual port.

- TEST_REDIS_URL when set (the tests flush that database: point it at one of your own); under
  pytest-xdist (`make test` runs two workers) worker N takes the database N above it (`/5`: gw0
  `/5`, gw1 `/6`), so two workers never flush each other's;
- otherwise a private `redis-server` on a free port, started on first use and stopped at the end
  of the session (tests/conftest.py), when the binary is installed;
- otherwise the test is skipped, saying why; with REQUIRE_REDIS=1 it fails instead.
"""

import os
import shutil
import socket
import subprocess
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.processes import stop_process

REQUIRE_REDIS = os.environ.get("REQUIRE_REDIS") == "1"
NO_REDIS = (
    "needs Redis: set TEST_REDIS_URL=redis://host:port/db (a database the tests may flush), "
    "or install redis-server (the tests then start a private one on a free port)"
)


class PrivateRedisServer:
    """redis-server on a free loopback port, without persistence."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "PrivateRedisServer":
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ping(self.url) is None:
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the private redis-server on port {self.port} did not start")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


def ping(url: str) -> str | None:
    """None if Redis answers at `url`, else why not."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


_state: dict = {"url": None, "problem": None, "server": None}


def where_from() -> str | None:
    """How the tests would get a Redis (for the REQUIRE_REDIS check at collection), or None."""
    if os.environ.get("TEST_REDIS_URL"):
        return "TEST_REDIS_URL"
    if shutil.which("redis-server"):
        return "redis-server"
    return None


def for_this_worker(url: str) -> str:
    """`url` with its database moved up by the pytest-xdist worker's number (gw0 keeps it)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    database = int(parts.path.lstrip("/") or 0) + int(worker[2:])
    return urlunsplit(parts._replace(path=f"/{database}"))


def redis_for_tests() -> str:
    """The URL of the tests' Redis; skips (or, with REQUIRE_REDIS=1, fails) the test without one."""
    if _state["url"] is None and _state["problem"] is None:
        configured = os.environ.get("TEST_REDIS_URL")
        if configured:
            configured = for_this_worker(configured)
            problem = ping(configured)
            if problem:
                _state["problem"] = f"TEST_REDIS_URL={configured} does not answer ({problem})"
            else:
                _state["url"] = configured
        elif shutil.which("redis-server"):
            try:
                _state["server"] = PrivateRedisServer().start()
                _state["url"] = _state["server"].url
            except (OSError, RuntimeError) as exc:
                _state["problem"] = f"could not start a private redis-server ({exc})"
        else:
            _state["problem"] = NO_REDIS
    if _state["url"] is None:
        if REQUIRE_REDIS:
            pytest.fail(f"{_state['problem']} and REQUIRE_REDIS=1")
        pytest.skip(_state["problem"])
    return _state["url"]


def stop_private_redis() -> None:
    server = _state["server"]
    if server is not None:
        server.stop()
    _state.update(url=None, problem=None, server=None)
