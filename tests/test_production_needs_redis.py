"""Finding 5 of issue #27: with DEBUG=0 the app refuses to start without REDIS_URL, naming it, so
security counters (failed logins, failed API authentications, rate limits, GitHub's key-fetch
guard) never live in a per-process, evictable cache in production.

The suite itself runs DEBUG=0 without REDIS_URL through one deliberate, test-only door
(`keys_console.env.local_cache_for_test_suite`, opened by tests/environment.py): it needs both
NBQ_TEST_SUITE_LOCAL_CACHE set to its one test-only value AND pytest's own PYTEST_VERSION."""

import os
import secrets
import subprocess
import sys

from django.conf import settings

from keys_console.env import TEST_SUITE_LOCAL_CACHE, TEST_SUITE_LOCAL_CACHE_VALUE, local_cache_for_test_suite

DROPPED = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "SENTRY_DSN", "STATIC_ROOT"}


def _check(*, keep_test_door: bool, **extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED}
    if not keep_test_door:
        env.pop(TEST_SUITE_LOCAL_CACHE, None)
        env.pop("PYTEST_VERSION", None)
    env.update(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), **extra)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_debug_off_without_redis_url_refuses_to_start_naming_it():
    done = _check(keep_test_door=False)
    assert done.returncode != 0
    assert "REDIS_URL is not set" in done.stderr, done.stderr[-2000:]
    assert "Traceback" not in done.stderr.splitlines()[-1]


def test_the_test_door_alone_does_not_open_outside_pytest():
    """An operator who copies the tests' variable into production still gets the refusal."""
    done = _check(keep_test_door=False, **{TEST_SUITE_LOCAL_CACHE: TEST_SUITE_LOCAL_CACHE_VALUE})
    assert done.returncode != 0 and "REDIS_URL is not set" in done.stderr


def test_debug_off_with_redis_url_starts():
    done = _check(keep_test_door=False, REDIS_URL="redis://127.0.0.1:1/0")  # never contacted by `check`
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_door_needs_both_the_exact_value_and_pytest():
    assert not local_cache_for_test_suite({})
    assert not local_cache_for_test_suite({TEST_SUITE_LOCAL_CACHE: TEST_SUITE_LOCAL_CACHE_VALUE})
    assert not local_cache_for_test_suite({TEST_SUITE_LOCAL_CACHE: "1", "PYTEST_VERSION": "9.2.0"})
    assert local_cache_for_test_suite({TEST_SUITE_LOCAL_CACHE: TEST_SUITE_LOCAL_CACHE_VALUE, "PYTEST_VERSION": "9.2.0"})
