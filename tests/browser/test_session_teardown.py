"""A run with browser tests ends by dropping its test database, whatever ran after the browser.

While Playwright's sync API is alive it marks this thread's event loop as running, and Django's
connections (asgiref's `Local`) then live in a second, per-context store. A connection a test left
open there was invisible to the test database's teardown once Playwright had stopped, and
PostgreSQL refused the DROP ("database ... is being accessed by other users"), leaving the
database behind. `tests/browser/conftest.py` closes that store's connections before Playwright stops.
"""

import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.conftest import uses_postgres

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("session_probe.py")

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


def _server(database_url: str, name: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path="/" + name))


def _exists(database_url: str, name: str) -> bool:
    with psycopg.connect(_server(database_url, "postgres"), autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def test_a_run_with_browser_tests_drops_its_test_database():
    if not uses_postgres():
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    database_url = os.environ["DATABASE_URL"]
    name = f"probe_{secrets.token_hex(4)}"  # pytest-django makes test_<name>: nobody else's
    test_database = f"test_{name}"
    env = {**os.environ, "DATABASE_URL": _server(database_url, name)}
    env.pop("PYTEST_XDIST_WORKER", None)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", str(PROBE), "-q", "-p", "no:cacheprovider"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-3000:]
        assert "3 passed" in output, output[-3000:]
        assert "being accessed by other users" not in output, output[-3000:]
        assert not _exists(database_url, test_database), f"{test_database} was left behind"
    finally:
        with psycopg.connect(_server(database_url, "postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{test_database}" WITH (FORCE)')
