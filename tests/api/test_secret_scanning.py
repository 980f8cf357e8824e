"""POST /api/v1/secret-scanning/github: GitHub's partner protocol, with a key pair made here.

The public key is served through a file:// URL (SECRET_SCANNING_GITHUB_KEYS_URL), in the JSON shape
of GitHub's meta endpoint; payloads are signed as GitHub signs them (ECDSA P-256, SHA-256, DER,
base64 of the raw body)."""

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core import mail

from keys import keygen
from keys.models.api_key import KeyState
from projects.models import KeyEvent, Membership, Role
from projects.models.event import EventKind
from tests.api.conftest import bearer, error_code
from tests.conftest import use_record_cache
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PATH = "/api/v1/secret-scanning/github"
KEY_ID = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a"
FOUND = "https://github.com/someone/app/blob/1a2b3c/config.py"


class GitHub:
    """A stand-in for GitHub: a key pair, its public key published in a JSON file."""

    def __init__(self, tmp_path, settings, key_id=KEY_ID):
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.key_id = key_id
        pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        document = {"public_keys": [{"key_identifier": key_id, "key": pem.decode(), "is_current": True}]}
        path = tmp_path / "secret_scanning.json"
        path.write_text(json.dumps(document))
        settings.SECRET_SCANNING_GITHUB_KEYS_URL = path.as_uri()

    def sign(self, body: bytes, private=None) -> str:
        return base64.b64encode((private or self.private).sign(body, ec.ECDSA(hashes.SHA256()))).decode()

    def post(self, client, matches, *, body=None, key_id=None, signature=None):
        raw = body if body is not None else json.dumps(matches).encode()
        headers = {
            "GITHUB-PUBLIC-KEY-IDENTIFIER": key_id or self.key_id,
            "GITHUB-PUBLIC-KEY-SIGNATURE": signature if signature is not None else self.sign(raw),
        }
        return client.post(PATH, raw, content_type="application/json", headers=headers)


@pytest.fixture
def github(tmp_path, settings):
    return GitHub(tmp_path, settings)


@pytest.fixture
def owner(project):
    person = UserFactory()
    Membership.objects.create(project=project, user=person, role=Role.OWNER)
    return person


def match(token, url=FOUND):
    return {"token": token, "type": "nbq_api_key", "url": url, "source": "content"}


@pytest.fixture(params=["no-cache", "locmem", "redis"])
def record_cache(request, settings):
    return use_record_cache(settings, request.param)


def test_reported_live_key_is_refused_next_request_mailed_and_logged(
    client, github, make_key, owner, record_cache, django_capture_on_commit_callbacks
):
    key = make_key()
    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200  # its record is cached now
    made_up = keygen.generate_key()
    with django_capture_on_commit_callbacks(execute=True):
        response = github.post(client, [match(key.plaintext), match(made_up)])
    assert response.status_code == 200, response.content
    assert response.json() == [
        {
            "token_hash": hashlib.sha256(key.plaintext.encode()).hexdigest(),
            "token_type": "nbq_api_key",
            "label": "true_positive",
        },
        {
            "token_hash": hashlib.sha256(made_up.encode()).hexdigest(),
            "token_type": "nbq_api_key",
            "label": "false_positive",
        },
    ]
    refused = client.get("/api/v1/key", headers=bearer(key))
    assert refused.status_code == 401 and error_code(refused) == "revoked_api_key"
    (message,) = mail.outbox
    assert message.to == [owner.email] and key.key_id in message.body
    assert key.plaintext not in message.body
    event = KeyEvent.objects.get(kind=EventKind.LEAKED, key_id=key.key_id)
    assert event.details["found_at"] == FOUND
    assert "GitHub secret scanning" in event.details["reported_by"]
    assert key.plaintext not in response.content.decode()


def test_tampered_body_changes_nothing(client, github, key, owner):
    signed = json.dumps([match(keygen.generate_key())]).encode()
    tampered = json.dumps([match(key.plaintext)]).encode()
    response = github.post(client, None, body=tampered, signature=github.sign(signed))
    assert response.status_code == 401 and error_code(response) == "invalid_signature"
    key.refresh_from_db()
    assert key.state == KeyState.ACTIVE
    assert not KeyEvent.objects.exists() and not mail.outbox
    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200


def test_wrong_key_id_or_wrong_key_or_no_signature_changes_nothing(client, github, key, owner):
    body = json.dumps([match(key.plaintext)]).encode()
    stranger = ec.generate_private_key(ec.SECP256R1())
    attempts = [
        github.post(client, None, body=body, key_id="not-githubs-key"),
        github.post(client, None, body=body, signature=github.sign(body, private=stranger)),
        github.post(client, None, body=body, signature="not base64!"),
        client.post(PATH, body, content_type="application/json"),  # no headers at all
    ]
    assert [r.status_code for r in attempts] == [401] * 4
    assert all(error_code(r) == "invalid_signature" for r in attempts)
    key.refresh_from_db()
    assert key.state == KeyState.ACTIVE
    assert not KeyEvent.objects.exists() and not mail.outbox


def test_token_not_ours_is_false_positive(client, github, key):
    tokens = [keygen.generate_key(), "ghp_" + "a" * 36, "nbq_live_" + "b" * 32]
    response = github.post(client, [match(t) for t in tokens])
    assert response.status_code == 200
    assert [f["label"] for f in response.json()] == ["false_positive"] * 3
    assert [f["token_hash"] for f in response.json()] == [hashlib.sha256(t.encode()).hexdigest() for t in tokens]
    assert not KeyEvent.objects.exists()


def test_an_already_revoked_key_is_still_ours(client, github, make_key, owner):
    key = make_key(state=KeyState.REVOKED)
    response = github.post(client, [match(key.plaintext)])
    assert response.json()[0]["label"] == "true_positive"
    assert not mail.outbox and not KeyEvent.objects.exists()


def test_public_keys_are_cached_and_fetched_again_for_an_unknown_id(client, github, key, tmp_path, settings):
    made_up = [match(keygen.generate_key())]
    assert github.post(client, made_up).status_code == 200
    # GitHub rotates its key: a new id, published in a new document. The cached document lacks it.
    (tmp_path / "rotated").mkdir()
    rotated = GitHub(tmp_path / "rotated", settings, key_id="new-key-id")
    assert rotated.post(client, made_up).status_code == 200
    # The document at the URL no longer holds the old id: a report signed with it is refused.
    assert github.post(client, made_up).status_code == 401


def test_unknown_ids_fetch_at_most_once_a_minute(client, github, key, monkeypatch):
    from api import secret_scanning

    fetches = []
    real = secret_scanning.fetch_public_keys
    monkeypatch.setattr(secret_scanning, "fetch_public_keys", lambda: fetches.append(1) or real())
    body = json.dumps([match(keygen.generate_key())]).encode()
    for attempt in range(5):
        github.post(client, None, body=body, key_id=f"made-up-{attempt}")
    assert len(fetches) == 1
    assert github.post(client, None, body=body).status_code == 200  # the real id was fetched with them


@pytest.mark.parametrize("body", [b"{nope", b'{"token": "x"}', b'[{"type": "x"}]', b"[1]"])
def test_signed_but_invalid_body_is_400(client, github, body):
    response = github.post(client, None, body=body)
    assert response.status_code == 400 and error_code(response) == "invalid_request"


def test_unreadable_keys_document_is_401_not_500(client, tmp_path, settings, key):
    broken = tmp_path / "keys.json"
    broken.write_text("not json")
    settings.SECRET_SCANNING_GITHUB_KEYS_URL = broken.as_uri()
    response = client.post(
        PATH,
        b"[]",
        content_type="application/json",
        headers={"GITHUB-PUBLIC-KEY-IDENTIFIER": KEY_ID, "GITHUB-PUBLIC-KEY-SIGNATURE": "AAAA"},
    )
    assert response.status_code == 401


def test_in_the_openapi_document_with_its_headers(client):
    operation = client.get("/api/v1/openapi.json").json()["paths"][PATH]["post"]
    assert not operation.get("security")
    names = {p["name"] for p in operation["parameters"]}
    assert {"GITHUB-PUBLIC-KEY-IDENTIFIER", "GITHUB-PUBLIC-KEY-SIGNATURE"} <= names
    assert operation["requestBody"]["content"]["application/json"]["schema"]["type"] == "array"
    assert "401" in operation["responses"]
