"""The backup drill of docs/operations.md: `pg_dump` the database, `pg_restore` it into a fresh one,
and an API key made before the dump authenticates against the restored copy (and one made after
the dump does not: the copy is the dump's moment, nothing later)."""

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import ApiKeyFactory, ProjectFactory

from .reliability.live import database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
REPO = Path(__file__).resolve().parents[1]


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"needs {name} (PostgreSQL's client programs)")
    return found


def libpq_env() -> dict:
    db = settings.DATABASES["default"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        PGHOST=db.get("HOST") or "127.0.0.1", PGPORT=str(db.get("PORT") or 5432), PGUSER=db.get("USER") or "postgres"
    )
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


def key_status_on(url: str, plaintext: str) -> int:
    """GET /api/v1/key with `plaintext`, in a process of its own whose DATABASE_URL is `url`."""
    code = (
        "import django, sys; django.setup()\n"
        "from django.test import Client\n"
        "r = Client().get('/api/v1/key', headers={'Authorization': 'Bearer ' + sys.argv[1]})\n"
        "print(r.status_code)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}}
    env.update(DATABASE_URL=url, DEBUG="1", DJANGO_SETTINGS_MODULE="keys_console.settings")
    done = subprocess.run(
        [sys.executable, "-c", code, plaintext], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.strip().splitlines()[-1])


def test_dump_restore_and_a_key_made_before_the_dump_authenticates(tmp_path):
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pytest.skip("the drill is for PostgreSQL (DATABASE_URL)")
    pg_dump, pg_restore, createdb, dropdb = (tool(n) for n in ("pg_dump", "pg_restore", "createdb", "dropdb"))
    project = ProjectFactory(active_questions=10)
    before = ApiKeyFactory(project=project, permissions=["read"]).plaintext
    source = settings.DATABASES["default"]["NAME"]
    dump = tmp_path / "nbq.dump"
    env = libpq_env()
    subprocess.run([pg_dump, "--format=custom", f"--file={dump}", source], env=env, check=True, timeout=120)
    after = ApiKeyFactory(project=project, permissions=["read"]).plaintext  # not in the dump

    restored = f"{source}_restored_{secrets.token_hex(4)}"
    subprocess.run([createdb, restored], env=env, check=True, timeout=60)
    try:
        subprocess.run([pg_restore, "--no-owner", f"--dbname={restored}", str(dump)], env=env, check=True, timeout=120)
        url = database_url({**settings.DATABASES["default"], "NAME": restored})
        assert key_status_on(url, before) == 200
        assert key_status_on(url, after) == 401
    finally:
        subprocess.run([dropdb, "--if-exists", restored], env=env, check=False, timeout=60)
