"""The production profile as served by gunicorn (DEBUG=0, PostgreSQL, Redis): `/healthz`, and the
logs an operator reads — one JSON object per line, each with the request id the response returned
and, on API lines, the Key ID (never the key)."""

import json

import pytest

from tests.factories import ApiKeyFactory

from . import live

pytestmark = [pytest.mark.postgres]


def test_healthz_and_json_logs_with_request_id_and_key_id(start_gunicorn, redis_url, project):
    key = ApiKeyFactory(project=project, permissions=["read"])
    server = start_gunicorn(redis_url=redis_url, workers=2)

    health = server.get("/healthz")
    assert health.status == 200
    assert health.json()["status"] == "ok" and health.json()["checks"] == {"database": "ok", "cache": "ok"}
    plain = server.get("/healthz", headers={"X-Forwarded-Proto": "http"})  # a plain-HTTP probe
    assert plain.status == 200

    api = server.get(
        "/api/v1/questions?limit=1", headers={**live.bearer(key.plaintext), "X-Request-ID": "edge-42-abcdef"}
    )
    assert api.status == 200 and api.headers["x-request-id"] == "edge-42-abcdef"
    own = server.get("/api/v1/key", headers=live.bearer(key.plaintext))
    assert len(own.headers["x-request-id"]) == 32

    server.stop()  # flushes the logs
    app_lines = [line for line in server.log_text().splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in app_lines]
    requests = {e["request_id"]: e for e in entries if e["logger"] == "keys_console.request"}
    assert requests["edge-42-abcdef"]["key_id"] == key.key_id
    assert requests["edge-42-abcdef"]["status"] == 200
    assert requests[own.headers["x-request-id"]]["key_id"] == key.key_id
    assert requests[health.headers["x-request-id"]]["route"] == "healthz"
    assert all(e["request_id"] for e in entries if e["logger"] == "keys_console.request")
    live.assert_no_secrets({key.plaintext}, logs=server.log_text())
