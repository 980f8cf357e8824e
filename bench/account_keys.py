"""Round trips of an account key's request next to a project key's, counted in-process.

    DATABASE_URL=postgres://…/somedb REDIS_URL=redis://127.0.0.1:6379/N python -m bench.account_keys

(N: a Redis database of its own: the script clears it between the two passes.)
Uses the console's own settings (a migrated database, and Redis so that the key-record cache is on,
as in production), makes a project with 24 questions, a project key and two account keys (chosen
scope, all projects) inside a transaction that is rolled back at the end (nothing stays in the
database), and counts, with bench/queries.py's counters (Django's query log, redis-py's socket
sends), the SQL queries and Redis round trips of each request in the steady state, then with the
record cache off (API_KEY_RECORD_CACHE_SECONDS=0). Prints a table and a JSON object.
"""

import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keys_console.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client  # noqa: E402

from bench import queries  # noqa: E402  (installs the Redis round-trip counter)

ROWS = [
    ("project key, GET /api/v1/key", "project", "/api/v1/key"),
    ("project key, GET /api/v1/questions", "project", "/api/v1/questions"),
    ("project key, GET /api/v1/projects/{slug}/questions", "project", "/api/v1/projects/{slug}/questions"),
    ("account key (chosen), GET /api/v1/projects/{slug}/key", "chosen", "/api/v1/projects/{slug}/key"),
    ("account key (chosen), GET /api/v1/projects/{slug}/questions", "chosen", "/api/v1/projects/{slug}/questions"),
    ("account key (all), GET /api/v1/projects/{slug}/questions", "all", "/api/v1/projects/{slug}/questions"),
]


class Rollback(Exception):
    pass


def _setup():
    from accounts.models import User
    from keys.services import api_key_create
    from projects.actors import Actor
    from projects.models import Question
    from projects.services import project_create

    owner = User.objects.create_user("bench-account-keys@nbq.invalid", None)
    project = project_create(name="Account bench", owner=owner, slug="account-bench")
    Question.objects.bulk_create(Question(project=project, text=f"Question {i}?", priority=i) for i in range(24))
    keys = {
        "project": api_key_create(project=project, name="p", permissions=["read"], actor=Actor.cli())[1],
        "chosen": api_key_create(owner=owner, projects=[project], name="c", permissions=["read"], actor=Actor.cli())[1],
        "all": api_key_create(owner=owner, all_projects=True, name="a", permissions=["read"], actor=Actor.cli())[1],
    }
    return project, keys


def _measure(project, keys) -> dict:
    client = Client()
    results = {}
    for name, kind, path in ROWS:
        row = {"path": path.format(slug=project.slug), "headers": {"Authorization": f"Bearer {keys[kind]}"}}
        results[name] = queries.measure(client, row)
    return results


def main() -> None:
    if not settings.REDIS_URL:
        raise SystemExit("Set REDIS_URL: the record cache (the production hot path) is on only with Redis.")
    report = {}
    try:
        with transaction.atomic():
            project, keys = _setup()
            report["record cache on"] = _measure(project, keys)
            settings.API_KEY_RECORD_CACHE_SECONDS = 0
            cache.clear()  # REDIS_URL's database: records cached by the first pass go (use one of your own)
            report["record cache off"] = _measure(project, keys)
            raise Rollback
    except Rollback:
        pass
    print(f"{'':62} {'SQL/req':>8} {'Redis RT/req':>12} statuses")
    for mode, rows in report.items():
        print(mode)
        for name, r in rows.items():
            print(
                f"  {name:60} {r['queries_per_request']:>8.2f} {r['redis_roundtrips_per_request']:>12.2f} "
                f"{r['statuses']}"
            )
    print(
        json.dumps(
            {
                mode: {
                    name: {k: r[k] for k in ("queries_per_request", "redis_roundtrips_per_request", "statuses")}
                    for name, r in rows.items()
                }
                for mode, rows in report.items()
            }
        )
    )


if __name__ == "__main__":
    main()
