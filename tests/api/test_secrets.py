"""A key, once issued, appears nowhere: not in logs, not in the database, not in events."""

import logging
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from keys.services import api_key_create
from projects.actors import Actor
from tests.api.conftest import bearer, x_api_key

pytestmark = pytest.mark.django_db


def test_the_full_key_never_reaches_logs_or_the_database(client, project, make_key, caplog, settings, monkeypatch):
    settings.API_USAGE_FLUSH_SECONDS = 0  # let the usage flush run too
    key, plaintext = api_key_create(project=project, name="CI", permissions=["read", "create"], actor=Actor.cli())
    revoked = make_key(state="revoked", revoked_at=timezone.now() - timedelta(minutes=1))
    limited = make_key(rate_limit_per_minute=1)
    secrets = [plaintext, revoked.plaintext, limited.plaintext]

    with caplog.at_level(logging.DEBUG):
        client.get("/api/v1/key", headers=bearer(plaintext))
        client.get("/api/v1/questions", headers=x_api_key(plaintext))
        client.post("/api/v1/questions", {"text": ""}, content_type="application/json", headers=bearer(plaintext))
        client.delete("/api/v1/questions/1", headers=bearer(plaintext))  # 403
        client.get("/api/v1/key", headers=bearer(revoked))  # security event
        client.get("/api/v1/key", headers={"Authorization": f"Basic {plaintext}"})
        client.get("/api/v1/key", headers=bearer(plaintext[:-1]))
        for _ in range(2):
            client.get("/api/v1/key", headers=bearer(limited))  # rate-limit event
        monkeypatch.setattr(
            "api.question_queries.list_page", lambda *a, **k: (_ for _ in ()).throw(RuntimeError(f"bug {a} {k}"))
        )
        client.get("/api/v1/questions", headers=bearer(plaintext))  # a 500 with a traceback

    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "Internal Server Error" in logged or "unhandled error" in logged  # the logs were captured
    for secret in secrets:
        for fragment in (secret, secret[len("nbq_live_") : -4]):
            assert fragment not in logged

    # Every text-like column of every table, after all of the above.
    for model in apps.get_models():
        for row in model.objects.values():
            dumped = str(row)
            for secret in secrets:
                assert secret[len("nbq_live_") : -4] not in dumped, (model, row)
