"""Console timings: the API Key tab and the event log of a project with 10 keys and 10,000 events.

Runs in-process (Django's test client through the full middleware stack) against PostgreSQL and
prints, per page, the number of SQL queries and the median / p95 server time in ms.
Usage: .venv/bin/python bench/console.py   (BENCH_CONSOLE_DATABASE_URL to change the database)
"""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATABASE_URL = os.environ.get("BENCH_CONSOLE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/nbq_bench_console")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-3f9c1a7e5d2b8f4a6c0e9d7b5a3f1c8e")
os.environ.update(DATABASE_URL=DATABASE_URL, DEBUG="0", SECURE_SSL_REDIRECT="0", LOG_LEVEL="WARNING",
                  DJANGO_SETTINGS_MODULE="keys_console.settings")
os.environ.pop("REDIS_URL", None)

REPEAT = 30
KEYS, EVENTS = 10, 10_000


def recreate_database() -> None:
    import psycopg
    from urllib.parse import urlsplit

    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"refusing to drop {name!r}: the database name must contain 'bench'")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from accounts.models import User
    from projects.actors import Actor
    from projects.models import KeyEvent, Question
    from projects.services import api_key_create, project_create

    call_command("migrate", verbosity=0)
    user = User.objects.create_user(email="bench@example.com", password="x")
    project = project_create(name="Console bench", owner=user)
    Question.objects.bulk_create(Question(project=project, text=f"Q{i}?") for i in range(12))
    keys = [api_key_create(project=project, name=f"key {i}", permissions=["read", "write"], actor=Actor.cli())[0]
            for i in range(KEYS)]
    KeyEvent.objects.bulk_create(
        KeyEvent(project=project, api_key=keys[i % KEYS], key_id=keys[i % KEYS].key_id, key_name=keys[i % KEYS].name,
                 kind="created", actor_label="bench", details={"n": i})
        for i in range(EVENTS - KeyEvent.objects.filter(project=project).count())
    )
    call_command("shell", command="from django.db import connection; connection.cursor().execute('ANALYZE')")
    client = Client()
    client.force_login(user)
    base = f"/projects/{project.slug}"
    pages = [
        ("API Key tab (full page)", f"{base}/keys/", {}),
        ("API Key tab (htmx fragment)", f"{base}/keys/", {"HTTP_HX_REQUEST": "true"}),
        ("Event log, newest page", f"{base}/events/", {}),
        ("Event log, page 200", f"{base}/events/?page=200", {}),
        ("Event log, filtered by key and kind", f"{base}/events/?key={keys[3].key_id}&kind=created", {}),
    ]
    print(f"{KEYS} keys, {KeyEvent.objects.filter(project=project).count()} events; {REPEAT} requests per page, "
          f"PostgreSQL, in-process test client (full middleware stack)")
    print(f"{'page':40} {'queries':>7} {'median ms':>10} {'p95 ms':>8}")
    for label, url, extra in pages:
        client.get(url, **extra)  # warm up
        executed = []
        with connection.execute_wrapper(lambda execute, sql, *args: executed.append(sql) or execute(sql, *args)):
            response = client.get(url, **extra)
        assert response.status_code == 200, (url, response.status_code)
        times = []
        for _ in range(REPEAT):
            started = time.perf_counter()
            client.get(url, **extra)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(f"{label:40} {len(executed):>7} {statistics.median(times):>10.1f} {p95:>8.1f}")


if __name__ == "__main__":
    main()
