"""Tests touch only the Redis they own: TEST_REDIS_URL, else a private redis-server on a free port
(stopped at the end), else a skip with a reason — a failure with REQUIRE_REDIS=1."""

import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from tests import redis_for_tests as r

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def fresh_state(monkeypatch):
    """A state of its own, so the session's Redis (if any) is left alone."""
    state = {"url": None, "problem": None, "server": None}
    monkeypatch.setattr(r, "_state", state)
    yield state
    if state["server"] is not None:
        state["server"].stop()


def test_without_test_redis_url_a_private_server_on_a_free_port_is_started_and_stopped(fresh_state, monkeypatch):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    monkeypatch.delenv("TEST_REDIS_URL", raising=False)
    url = r.redis_for_tests()
    assert re.fullmatch(r"redis://127\.0\.0\.1:\d+/0", url) and ":6379/" not in url
    assert r.ping(url) is None
    assert r.redis_for_tests() == url  # one server per session
    r.stop_private_redis()
    assert r.ping(url) is not None  # gone


def test_test_redis_url_wins_and_a_dead_one_is_named(fresh_state, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.setenv("TEST_REDIS_URL", "redis://127.0.0.1:1/3")
    monkeypatch.setattr(r, "REQUIRE_REDIS", False)
    with pytest.raises(pytest.skip.Exception, match=r"TEST_REDIS_URL=redis://127\.0\.0\.1:1/3 does not answer"):
        r.redis_for_tests()
    assert fresh_state["server"] is None  # no private server behind the operator's back


@pytest.mark.parametrize(("worker", "database"), [(None, 3), ("gw0", 3), ("gw1", 4), ("gw7", 10)])
def test_each_xdist_worker_flushes_a_test_redis_url_database_of_its_own(fresh_state, monkeypatch, worker, database):
    """`make test` runs two pytest-xdist workers: each flushes its own database of TEST_REDIS_URL."""
    if worker is None:
        monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    else:
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    monkeypatch.setenv("TEST_REDIS_URL", "redis://:pw@127.0.0.1:1/3")
    monkeypatch.setattr(r, "REQUIRE_REDIS", False)
    with pytest.raises(pytest.skip.Exception, match=rf"TEST_REDIS_URL=redis://:pw@127\.0\.0\.1:1/{database} does not"):
        r.redis_for_tests()


@pytest.mark.parametrize("required", [False, True])
def test_without_any_redis_the_test_is_skipped_or_with_require_redis_failed(fresh_state, monkeypatch, required):
    monkeypatch.delenv("TEST_REDIS_URL", raising=False)
    monkeypatch.setattr(r.shutil, "which", lambda name: None)
    monkeypatch.setattr(r, "REQUIRE_REDIS", required)
    expected = pytest.fail.Exception if required else pytest.skip.Exception
    with pytest.raises(expected, match="install redis-server") as raised:
        r.redis_for_tests()
    assert ("REQUIRE_REDIS=1" in str(raised.value)) is required
    assert r.where_from() is None


def test_no_test_defaults_to_the_usual_redis_port():
    usual = re.compile(r"(127\.0\.0\.1|localhost):6379/")
    offenders = [str(p.relative_to(TESTS)) for p in TESTS.rglob("*.py") if usual.search(p.read_text())]
    assert offenders == []


def test_a_redis_url_of_the_shell_is_not_the_tests_cache():
    """tests/environment.py drops REDIS_URL before the settings load: the per-test cache.clear()
    could otherwise flush a Redis that merely happens to be configured."""
    assert settings.REDIS_URL == ""
    assert settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")
