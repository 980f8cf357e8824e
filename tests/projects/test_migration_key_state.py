"""The data migration from `revoked_at` semantics (a time compared with the clock) to the key state."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("projects", "0001_initial")]
AFTER = [("projects", "0002_key_state_and_grace_end")]


@pytest.mark.django_db(transaction=True)
def test_revoked_at_becomes_a_state_or_a_grace_end():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    User = apps.get_model("accounts", "User")
    Project = apps.get_model("projects", "Project")
    ApiKey = apps.get_model("projects", "ApiKey")
    user = User.objects.create(email="m@example.com", password="!")
    project = Project.objects.create(name="P", slug="p", created_by=user)
    now = timezone.now()

    def key(name, revoked_at):
        return ApiKey.objects.create(
            project=project,
            name=name,
            key_id=f"key_{name}",
            key_hash=f"h{name}",
            last4="abcd",
            permissions=["read"],
            revoked_at=revoked_at,
        )

    key("live", None)
    key("revoked", now - timedelta(days=1))
    grace_end = now + timedelta(hours=5)
    key("rotating", grace_end)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    rows = {k.name: k for k in apps.get_model("projects", "ApiKey").objects.all()}
    assert (rows["live"].state, rows["live"].stops_at, rows["live"].revoked_at) == ("active", None, None)
    assert rows["revoked"].state == "revoked" and rows["revoked"].revoked_at is not None
    assert (rows["rotating"].state, rows["rotating"].stops_at, rows["rotating"].revoked_at) == (
        "active",
        grace_end,
        None,
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
