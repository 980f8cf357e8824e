"""Loaded by pytest before Django reads its settings (`-p tests.environment` in pyproject.toml).

The tests run the production profile (DEBUG=0), which refuses to start without a SECRET_KEY; the
suite uses a fixed test-only key unless the environment brings one. Subprocesses started by the
tests inherit it (those that test a missing key remove it themselves).

Mails go through the immediate task backend (TASKS_BACKEND=immediate): sent at once, into
Django's test outbox; tests/test_mail_tasks.py runs the production queue (django-tasks-db) itself.

REDIS_URL is dropped: the tests clear their cache before and after each test, and must not do
that to a Redis that merely happens to be configured in the shell. Tests that need Redis use
their own (TEST_REDIS_URL or a private redis-server: tests/redis_for_tests.py).
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-6f1d0c9a2b7e4f3a8c5d")
os.environ.pop("REDIS_URL", None)
os.environ.setdefault("TASKS_BACKEND", "immediate")
