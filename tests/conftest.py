"""Shared fixtures, and the rules that make skipped PostgreSQL / browser tests fail in CI.

With REQUIRE_POSTGRES=1 the run fails unless the database is PostgreSQL and at least one
`postgres` test passed; with REQUIRE_BROWSER=1 likewise for Chromium and `browser` tests.
"""

import os
import shutil

import pytest
from django.conf import settings as django_settings
from django.db import connection

from tests.factories import PASSWORD, MembershipFactory, ProjectFactory, UserFactory
from tests.redis_for_tests import REQUIRE_REDIS, redis_for_tests, stop_private_redis, where_from

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"

_passed = {"postgres": 0, "browser": 0}


def uses_postgres() -> bool:
    return django_settings.DATABASES["default"]["ENGINE"].endswith(".postgresql")  # ours or Django's


def chromium_available() -> bool:
    return os.path.exists(CHROMIUM) or shutil.which("chromium") is not None


def pytest_collection_modifyitems(config, items):
    if REQUIRE_POSTGRES and not uses_postgres():
        raise pytest.UsageError("REQUIRE_POSTGRES=1 but DATABASE_URL does not point at PostgreSQL")
    if REQUIRE_BROWSER and not chromium_available():
        raise pytest.UsageError(f"REQUIRE_BROWSER=1 but Chromium is not at {CHROMIUM}")
    if REQUIRE_REDIS and where_from() is None:
        raise pytest.UsageError("REQUIRE_REDIS=1 but neither TEST_REDIS_URL is set nor redis-server installed")
    for item in items:
        if item.get_closest_marker("postgres") and not uses_postgres():
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://..."))
        if item.get_closest_marker("browser") and not chromium_available():
            item.add_marker(pytest.mark.skip(reason=f"needs Chromium at {CHROMIUM}"))


def pytest_runtest_logreport(report):
    if report.when == "call" and report.passed:
        for marker in ("postgres", "browser"):
            if marker in report.keywords:
                _passed[marker] += 1


def _full_run(config) -> bool:
    """Judge the REQUIRE_* rules only on runs not narrowed with -k / -m / paths."""
    opt = config.option
    return not opt.keyword and not opt.markexpr and list(config.args) in ([], config.getini("testpaths"))


def pytest_sessionfinish(session, exitstatus):
    # Under pytest-xdist (`-n`), each worker runs part of the tests; the controller receives every
    # worker's reports (pytest_runtest_logreport above) and judges the whole run, once.
    if not _full_run(session.config) or hasattr(session.config, "workerinput"):
        return
    problems = []
    if REQUIRE_POSTGRES and _passed["postgres"] == 0:
        problems.append("REQUIRE_POSTGRES=1 but no PostgreSQL test passed")
    if REQUIRE_BROWSER and _passed["browser"] == 0:
        problems.append("REQUIRE_BROWSER=1 but no browser test passed")
    for problem in problems:
        print(f"\nERROR: {problem}")
    if problems:
        session.exitstatus = 1


@pytest.fixture(autouse=True, scope="session")
def _plain_http_in_tests():
    """The production profile (DEBUG off) redirects to HTTPS; the test client and the live server
    speak plain HTTP. Applied for the whole session, before the live server builds its
    middleware; tests/test_settings.py checks the production settings themselves."""
    from django.test.utils import override_settings

    override = override_settings(SECURE_SSL_REDIRECT=False, SESSION_COOKIE_SECURE=False, CSRF_COOKIE_SECURE=False)
    override.enable()
    yield
    override.disable()


@pytest.fixture(autouse=True, scope="session")
def _no_usage_counts_left_at_exit():
    """Counts buffered by the last tests belong to a test database that is gone by the time the
    process exits; without this, the exit-time flush logs to a stream pytest has closed."""
    yield
    from api import usage

    usage.discard_pending()


@pytest.fixture(autouse=True, scope="session")
def _private_redis_stopped_at_the_end():
    """The private redis-server (tests/redis_for_tests.py), if a test started one, ends with the run."""
    yield
    stop_private_redis()


@pytest.fixture
def redis_url_for_tests() -> str:
    """TEST_REDIS_URL, or a private redis-server's URL; skips (fails with REQUIRE_REDIS=1) without."""
    return redis_for_tests()


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def project(user):
    """A project owned by `user`, with its API keys still locked (no questions)."""
    return ProjectFactory(owner=user)


@pytest.fixture
def unlocked_project(user):
    """A project owned by `user` with 10 active questions."""
    return ProjectFactory(owner=user, active_questions=10)


@pytest.fixture
def owner_client(client, user):
    client.force_login(user)
    return client


def _client_with_role(project, role):
    from django.test import Client

    member = UserFactory()
    MembershipFactory(project=project, user=member, role=role)
    c = Client()
    c.force_login(member)
    c.user = member
    return c


@pytest.fixture
def viewer_client(unlocked_project):
    return _client_with_role(unlocked_project, "viewer")


@pytest.fixture
def admin_member_client(unlocked_project):
    return _client_with_role(unlocked_project, "admin")


@pytest.fixture
def stranger_client(db):
    from django.test import Client

    c = Client()
    c.force_login(UserFactory())
    return c


@pytest.fixture
def db_engine():
    return connection.vendor


def use_record_cache(settings, mode: str) -> str:
    """Set up the API's key-record cache for a test: "no-cache" (off), "locmem", or "redis" (the
    shared cache as in production, on the tests' own Redis: tests/redis_for_tests.py). Returns `mode`."""
    settings.API_KEY_RECORD_CACHE_SECONDS = 0 if mode == "no-cache" else 10
    if mode == "redis":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_for_tests(),
                "KEY_PREFIX": "nbq-record-cache-test",
            }
        }
        from django.core.cache import cache

        cache.clear()
    return mode
