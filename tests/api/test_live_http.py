"""Real HTTP against a live server (what `curl` sees)."""

import json
import urllib.error
import urllib.request

import pytest

from keys.services import api_key_create, api_key_revoke
from projects.actors import Actor
from tests.factories import ProjectFactory


def fetch(url, headers=None, method="GET", body=None):
    request = urllib.request.Request(
        url, headers=headers or {}, method=method, data=json.dumps(body).encode() if body is not None else None
    )
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.django_db(transaction=True)
def test_curl_like_session(live_server):
    project = ProjectFactory(active_questions=10)
    key, plaintext = api_key_create(project=project, name="curl", permissions=["read", "create"], actor=Actor.cli())
    base = live_server.url + "/api/v1"

    status, headers, body = fetch(base + "/key", {"Authorization": f"Bearer {plaintext}"})
    assert status == 200 and json.loads(body)["id"] == key.key_id
    assert headers["X-RateLimit-Limit"] == "600" and headers["X-RateLimit-Remaining"] == "599"
    assert int(headers["X-RateLimit-Reset"]) > 0

    status, _, body = fetch(base + "/questions", {"X-API-Key": plaintext}, "POST", {"text": "Over HTTP?"})
    assert status == 201 and json.loads(body)["text"] == "Over HTTP?"

    status, headers, body = fetch(base + "/key")
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
    assert json.loads(body)["error"]["code"] == "missing_api_key"

    api_key_revoke(key=key, actor=Actor.cli())
    status, _, body = fetch(base + "/key", {"Authorization": f"Bearer {plaintext}"})
    assert status == 401 and json.loads(body)["error"]["code"] == "revoked_api_key"

    status, headers, body = fetch(base + "/docs")
    assert status == 200 and b"swagger" in body.lower()
