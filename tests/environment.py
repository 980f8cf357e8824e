"""Loaded by pytest before Django reads its settings (`-p tests.environment` in pyproject.toml).

The tests run the production profile (DEBUG=0), which refuses to start without a SECRET_KEY; the
suite uses a fixed test-only key unless the environment brings one. Subprocesses started by the
tests inherit it (those that test a missing key remove it themselves).

Mails go through the immediate task backend (TASKS_BACKEND=immediate): sent at once, into
Django's test outbox; tests/test_mail_tasks.py runs the production queue (django-tasks-db) itself.

REDIS_URL is dropped: the tests clear their cache before and after each test, and must not do
that to a Redis that merely happens to be configured in the shell. Tests that need Redis use
their own (TEST_REDIS_URL or a private redis-server: tests/redis_for_tests.py). Production
(DEBUG=0) refuses to start without REDIS_URL; the suite runs on the local-memory cache through
its one deliberate door, NBQ_TEST_SUITE_LOCAL_CACHE (keys_console.env.local_cache_for_test_suite),
which opens only under pytest (PYTEST_VERSION): copied into a production environment it does nothing.
"""

import os

from keys_console.env import TEST_SUITE_LOCAL_CACHE, TEST_SUITE_LOCAL_CACHE_VALUE

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-6f1d0c9a2b7e4f3a8c5d")
os.environ.pop("REDIS_URL", None)
os.environ[TEST_SUITE_LOCAL_CACHE] = TEST_SUITE_LOCAL_CACHE_VALUE
os.environ.setdefault("TASKS_BACKEND", "immediate")
