"""Console timings at scale: the API Key tab (10 keys; and 1,000 dead keys of a project rotated
daily for years, 50 a page), the Questions tab (5,000 questions), the project list (500 projects)
and the event log (1,000,000 events), with its CSV export.

Runs in-process (Django's test client through the full middleware stack) against PostgreSQL and
prints, per page, the number of SQL queries and the median / p95 server time in ms; then the
EXPLAIN (ANALYZE) plans of the event log's queries, to show which index each one uses.
The million events are written by one INSERT … SELECT FROM generate_series (about 10 s).

Usage: .venv/bin/python bench/console.py   (BENCH_CONSOLE_DATABASE_URL to change the database,
BENCH_CONSOLE_EVENTS to change the number of events, BENCH_CONSOLE_EXPORT_ALL=1 to also export
the whole log)
"""

import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATABASE_URL = os.environ.get("BENCH_CONSOLE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/nbq_bench_console")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-3f9c1a7e5d2b8f4a6c0e9d7b5a3f1c8e")
os.environ.update(
    DATABASE_URL=DATABASE_URL,
    DEBUG="0",
    SECURE_SSL_REDIRECT="0",
    LOG_LEVEL="WARNING",
    DJANGO_SETTINGS_MODULE="keys_console.settings",
)
# The production profile needs a shared cache (DEBUG=0 refuses to start without REDIS_URL): the
# bench's own Redis database, as bench.py uses (BENCH_REDIS_URL).
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL") or "redis://127.0.0.1:6379/9"

REPEAT = 30
KEYS, QUESTIONS, PROJECTS = 10, 5_000, 500
DEAD_KEYS = 1_000
EVENTS = int(os.environ.get("BENCH_CONSOLE_EVENTS", "1000000"))


def recreate_database() -> None:
    from urllib.parse import urlsplit

    import psycopg

    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    if "bench" not in name:
        sys.exit(f"refusing to drop {name!r}: the database name must contain 'bench'")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


# A year of a busy project's log: key traffic events (rate limits, dead keys presented) dominate;
# 50 keys (a fifth of them since deleted), console changes by two people, the CLI and the API.
EVENTS_SQL = """
INSERT INTO projects_keyevent (project_id, account_id, key_id, key_name, kind, subject, actor_id, actor_label,
                               ip, user_agent, details, created_at)
SELECT %(project)s, NULL,
       CASE WHEN g %% 10 < 6 THEN 'key_bench' || lpad((g %% 50)::text, 7, '0') ELSE '' END,
       CASE WHEN g %% 10 < 6 THEN 'bench key ' || (g %% 50) ELSE '' END,
       (ARRAY['rate_limited', 'rate_limited', 'revoked_key_used', 'expired_key_used', 'rotated', 'revoked',
              'question_added', 'question_edited', 'member_added', 'invitation_sent'])[g %% 10 + 1],
       CASE WHEN g %% 10 >= 6 THEN 'Question or person ' || g ELSE '' END,
       NULL,
       (ARRAY['ana@example.com', 'bob@example.com', 'cli', 'api'])[g %% 4 + 1],
       '192.0.2.1', 'bench',
       '{"n": 1}'::jsonb,
       now() - ((%(events)s - g) * interval '30 seconds')
FROM generate_series(1, %(events)s) AS g
"""


def build(user):
    from django.db import connection

    from keys.services import api_key_create
    from projects.actors import Actor
    from projects.models import Membership, Project, Question, Role
    from projects.services import project_create

    project = project_create(name="Console bench", owner=user)
    Question.objects.bulk_create(
        Question(project=project, text=f"Question {i}?", priority=i % 100) for i in range(QUESTIONS)
    )
    keys = [
        api_key_create(project=project, name=f"key {i}", permissions=["read", "write"], actor=Actor.cli())[0]
        for i in range(KEYS)
    ]
    others = Project.objects.bulk_create(
        Project(name=f"Project {i:03}", slug=f"project-{i:03}") for i in range(PROJECTS - 1)
    )
    Membership.objects.bulk_create(Membership(project=p, user=user, role=Role.ADMIN) for p in others)
    Question.objects.bulk_create(Question(project=p, text=f"Q{i}?") for p in others[:50] for i in range(12))
    build_rotated_daily(user)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(EVENTS_SQL, {"project": project.pk, "events": EVENTS})
        cursor.execute("ANALYZE")
    print(f"built {EVENTS:,} events with generate_series in {time.perf_counter() - started:.1f} s")
    return project, keys


def build_rotated_daily(user):
    """A project whose automation rotated its one key every day for years: 1,000 revoked keys."""
    from datetime import timedelta

    from django.utils import timezone

    from keys import keygen
    from keys.models import ApiKey
    from keys.models.api_key import KeyState
    from projects.models import Question
    from projects.services import project_create

    project = project_create(name="Rotated daily", owner=user, slug="rotated-daily")
    Question.objects.bulk_create(Question(project=project, text=f"Q{i}?") for i in range(12))
    now = timezone.now()
    rows = []
    for i in range(DEAD_KEYS):
        plaintext = keygen.generate_key()
        made = now - timedelta(days=DEAD_KEYS - i)
        rows.append(
            ApiKey(
                project=project,
                name="nightly job",
                key_hash=keygen.hash_key(plaintext),
                last4=plaintext[-4:],
                permissions=["read"],
                created_at=made,
                expires_at=made + timedelta(days=90),
                state=KeyState.REVOKED,
                revoked_at=made + timedelta(days=1),
            )
        )
    ApiKey.objects.bulk_create(rows)


def timed(client, url, extra):
    from django.db import connection

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
    return len(executed), statistics.median(times), times[int(len(times) * 0.95) - 1]


def explain_event_log(client, url):
    """EXPLAIN ANALYZE every query of one event-log page; print the plan's scans."""
    from django.db import connection

    captured = []

    def capture(execute, sql, params, many, context):
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        client.get(url)
    for sql, params in captured:
        if "projects_keyevent" not in sql:
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) " + sql, params)
            plan = [row[0] for row in cursor.fetchall()]
        scans = [line.strip() for line in plan if "Scan" in line or "Execution Time" in line]
        label = "count" if "COUNT(" in sql.upper() else "key choices" if "RECURSIVE" in sql else "page"
        print(f"  {label}:")
        for line in scans:
            print(f"    {line}")


def main() -> None:
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import User
    from projects.models import KeyEvent

    call_command("migrate", verbosity=0)
    user = User.objects.create_user(email="bench@example.com", password="x")
    project, keys = build(user)
    client = Client()
    client.force_login(user)
    base = f"/projects/{project.slug}"
    hx = {"HTTP_HX_REQUEST": "true"}
    gone_key = "key_bench0000003"  # a key that only the log remembers (not in the key table)
    pages = [
        ("API Key tab (full page)", f"{base}/keys/", {}),
        ("API Key tab (htmx fragment)", f"{base}/keys/", hx),
        (f"API Key tab, {DEAD_KEYS:,} dead keys, page 1", "/projects/rotated-daily/keys/", {}),
        ("API Key tab, dead keys, last page", f"/projects/rotated-daily/keys/?page={DEAD_KEYS // 50}", hx),
        ("API Key tab, dead keys, search", "/projects/rotated-daily/keys/?q=nightly&sort=name", hx),
        (f"Questions tab, {QUESTIONS:,} questions, page 1", f"{base}/questions/", {}),
        ("Questions tab, last page", f"{base}/questions/?page={QUESTIONS // 50}", {}),
        ("Questions tab (htmx fragment)", f"{base}/questions/?page=2", hx),
        (f"Project list, {PROJECTS} projects, page 1", "/projects/", {}),
        ("Project list, last page", f"/projects/?page={PROJECTS // 50}", {}),
        ("Event log, newest page", f"{base}/events/", {}),
        ("Event log, page 200", f"{base}/events/?page=200", {}),
        ("Event log (htmx fragment)", f"{base}/events/", hx),
        ("Event log, by deleted key", f"{base}/events/?key={gone_key}", hx),
        ("Event log, by key and kind", f"{base}/events/?key={gone_key}&kind=expired_key_used", hx),
        ("Event log, by key and kind, no match", f"{base}/events/?key={gone_key}&kind=rate_limited", hx),
        ("Event log, by actor and kind", f"{base}/events/?actor=cli&kind=member_added", hx),
        ("Event log, by actor", f"{base}/events/?actor=cli", hx),
        ("Event log, by kind", f"{base}/events/?kind=member_added", hx),
        ("Event log, one week", f"{base}/events/?since=2026-06-01&until=2026-06-07", hx),
    ]
    total = KeyEvent.objects.filter(project=project).count()
    print(
        f"{KEYS} keys, {QUESTIONS:,} questions, {PROJECTS} projects, {total:,} events; {REPEAT} requests per "
        f"page, PostgreSQL, in-process test client (full middleware stack)"
    )
    print(f"{'page':46} {'queries':>7} {'median ms':>10} {'p95 ms':>8}")
    for label, url, extra in pages:
        queries, median, p95 = timed(client, url, extra)
        print(f"{label:46} {queries:>7} {median:>10.1f} {p95:>8.1f}")

    exports = [("Export CSV, one key (20,000 rows)", f"{base}/events/export.csv?key={gone_key}")]
    if os.environ.get("BENCH_CONSOLE_EXPORT_ALL") == "1":  # minutes on a loaded 2-core machine
        exports.append((f"Export CSV, whole log ({total:,} rows)", f"{base}/events/export.csv"))
    for label, url in exports:
        started = time.perf_counter()
        response = client.get(url)
        content: Iterator[bytes] = response.streaming_content  # type: ignore[attr-defined]  # a streaming export
        first = next(iter(content))
        first_ms = (time.perf_counter() - started) * 1000
        size = len(first) + sum(len(chunk) for chunk in content)
        print(
            f"{label}: first byte {first_ms:.0f} ms, all {size / 1e6:.1f} MB in "
            f"{time.perf_counter() - started:.1f} s (streamed)"
        )

    for label, url in [
        ("newest page", f"{base}/events/"),
        ("by deleted key and kind, no match", f"{base}/events/?key={gone_key}&kind=rate_limited"),
        ("by actor", f"{base}/events/?actor=cli"),
    ]:
        print(f"EXPLAIN ANALYZE, event log {label}:")
        explain_event_log(client, url)


if __name__ == "__main__":
    main()
