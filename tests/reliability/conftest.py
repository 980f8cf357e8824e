"""Fixtures of the reliability tests: gunicorn on the test database, Redis, and the figures.

Long runs (`slow`: load, faults, schemathesis; about two minutes) are skipped on a full run of
the suite (`make test` without arguments) unless RUN_SLOW=1; naming them runs them
(`pytest tests/reliability`). `.ci/run` runs them as a step of its own after `make test`.

The live tests run the app the way production does (gunicorn, several workers, DEBUG=0,
PostgreSQL, Redis) against pytest-django's test database; they use `transaction=True` so that
what a test writes is committed and visible to the workers. Redis is the tests' own
(TEST_REDIS_URL, or a private redis-server: tests/redis_for_tests.py); without one they are
skipped with a reason, unless REQUIRE_REDIS=1 (CI): then they fail.
"""

import json
import os
from pathlib import Path

import pytest

from tests.conftest import _full_run
from tests.factories import ProjectFactory, UserFactory

from . import live

RUN_SLOW = os.environ.get("RUN_SLOW") == "1"
FIGURES_DIR = Path(__file__).resolve().parents[2] / "test-artifacts" / "reliability"


def pytest_collection_modifyitems(config, items):
    if RUN_SLOW or not _full_run(config):
        return
    skip = pytest.mark.skip(
        reason="long reliability run: `.ci/run` runs it on its own (pytest tests/reliability, or RUN_SLOW=1 make test)"
    )
    for item in items:
        if item.nodeid.startswith("tests/reliability/") and item.get_closest_marker("slow"):
            item.add_marker(skip)


def write_figures(name: str, figures: dict) -> None:
    """Save a test module's figures as test-artifacts/reliability/<name>.json (docs/reliability.md)."""
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    (FIGURES_DIR / f"{name}.json").write_text(json.dumps(figures) + "\n")


@pytest.fixture
def fast_passwords(settings):
    """MD5 for in-process logins and sign-ups (PBKDF2: ~0.3 s each). Not for tests whose gunicorn
    workers check passwords: they run with the default hashers."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def owner(db):
    return UserFactory()


@pytest.fixture
def project(owner):
    return ProjectFactory(owner=owner, active_questions=10)


@pytest.fixture
def console(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture(autouse=True)
def _clean_api_state():
    """In-process API requests leave usage counts and a rate-limiter pause behind: drop them."""
    from api import ratelimit, usage

    usage.discard_pending()
    ratelimit.reset_state()
    yield
    usage.discard_pending()
    ratelimit.reset_state()


@pytest.fixture
def redis_url(redis_url_for_tests):
    """The tests' Redis, shared by the workers for rate limits (flushed before and after the test)."""
    live.flush_redis(redis_url_for_tests)
    yield redis_url_for_tests
    live.flush_redis(redis_url_for_tests)


@pytest.fixture
def start_gunicorn(transactional_db, tmp_path):
    """start_gunicorn(redis_url=..., workers=3, env={...}) -> a running live.Gunicorn on the test DB.

    Depends on `transactional_db`, so each server is stopped (finalizer) before the database is
    flushed at the end of the test."""
    servers: list[live.Gunicorn] = []

    def start(
        *,
        redis_url: str | None,
        workers: int = 3,
        env: dict | None = None,
        database_url: str | None = None,
        wrapper: tuple[str, ...] = (),
    ) -> live.Gunicorn:
        server = live.Gunicorn(
            database_url=database_url or live.database_url(),
            redis_url=redis_url,
            workers=workers,
            env=env or {},
            log_dir=tmp_path,
            wrapper=wrapper,
        )
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def figures(request):
    """A dict a test fills with its figures; printed and saved to test-artifacts/reliability/."""
    data: dict = {}
    yield data
    if data:
        FIGURES_DIR.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_")
        (FIGURES_DIR / f"{name}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
        print(f"\nFIGURES {name}: " + json.dumps(data, default=str))
