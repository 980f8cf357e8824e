"""The production database defaults: persistent PostgreSQL connections whose health check costs no
round trip (keys_console/db/postgresql), and still notices a connection the server has dropped."""

import os
import subprocess
import sys
import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from projects.models import Question


def _settings_with(**env) -> dict:
    """DATABASES["default"] as the settings build it from this environment (in a fresh process)."""
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CONN_MAX_AGE", "DEBUG"}}
    clean.update(env)
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "d = settings.DATABASES['default']; "
        "print(json.dumps({k: d[k] for k in ('ENGINE', 'CONN_MAX_AGE', 'CONN_HEALTH_CHECKS')}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        env={**clean, "DJANGO_SETTINGS_MODULE": "keys_console.settings"},
        check=True,
    )
    import json

    return json.loads(done.stdout)


def test_postgres_defaults_are_persistent_and_health_checked():
    db = _settings_with(DATABASE_URL="postgres://nbq@db.invalid/nbq", DEBUG="0")
    assert db == {"ENGINE": "keys_console.db.postgresql", "CONN_MAX_AGE": 600, "CONN_HEALTH_CHECKS": True}


def test_conn_max_age_still_overrides():
    assert _settings_with(DATABASE_URL="postgres://nbq@db.invalid/nbq", CONN_MAX_AGE="0")["CONN_MAX_AGE"] == 0


def test_sqlite_keeps_one_connection_per_request():
    db = _settings_with(DATABASE_URL="sqlite:////tmp/nbq-settings-test.sqlite3")
    assert db["ENGINE"] == "django.db.backends.sqlite3" and db["CONN_MAX_AGE"] == 0


pg = pytest.mark.postgres


@pytest.fixture
def statements(monkeypatch):
    """Every statement psycopg sends, Django's query log or not (the old health check was not)."""
    sent = []
    original = psycopg.Cursor.execute

    def recording(cursor, query, *args, **kwargs):
        sent.append(str(query))
        return original(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", recording)
    return sent


@pg
@pytest.mark.django_db(transaction=True)
def test_health_check_sends_nothing(statements):
    assert connection.vendor == "postgresql" and connection.settings_dict["CONN_HEALTH_CHECKS"]
    Question.objects.count()
    statements.clear()
    connection.close_if_unusable_or_obsolete()  # request start: the next query is health-checked
    Question.objects.count()
    assert len(statements) == 1 and "SELECT 1" not in statements[0], statements
    assert connection.is_usable()


def _terminate(pid: int) -> None:
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    time.sleep(0.2)  # the backend says FATAL and hangs up


@pg
@pytest.mark.django_db(transaction=True)
def test_a_dropped_connection_is_replaced_before_a_query_fails():
    """Like a PostgreSQL restart for one worker: the next request gets a new connection, not a 503."""
    connection.ensure_connection()
    old_pid = connection.connection.info.backend_pid
    _terminate(old_pid)
    assert not connection.is_usable()
    connection.close_if_unusable_or_obsolete()  # request start
    assert Question.objects.count() >= 0  # no OperationalError: reconnected first
    assert connection.connection.info.backend_pid != old_pid
