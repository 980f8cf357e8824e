"""Regression tests for the red team's findings on the runtime API (issue #27)."""

import logging

import pytest

from keys.services import api_key_create, api_key_revoke
from projects.actors import Actor
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.api.conftest import bearer, error_code
from tests.conftest import use_record_cache
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["no-cache", "locmem", "redis"])
def record_cache(request, settings):
    return use_record_cache(settings, request.param)


# --- Finding 3: a revoked account key cannot flood the Security log -----------------------------
def test_a_revoked_account_key_sent_to_30_made_up_slugs_writes_one_event_and_one_line(client, record_cache, caplog):
    person = UserFactory()
    project = ProjectFactory(slug="real", active_questions=12)
    MembershipFactory(project=project, user=person)
    key, plaintext = api_key_create(
        owner=person, name="script", permissions=["read"], actor=Actor.cli(), all_projects=True
    )
    api_key_revoke(key=key, actor=Actor.cli())
    caplog.set_level(logging.WARNING, logger="api")
    for i in range(30):
        response = client.get(f"/api/v1/projects/junk-{i}/questions", headers=bearer(plaintext))
        assert response.status_code == 401 and error_code(response) == "revoked_api_key"
    assert KeyEvent.objects.filter(kind=EventKind.REVOKED_KEY_USED).count() == 1
    lines = [r for r in caplog.records if r.name == "api" and "presented" in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in lines]


# --- Finding 4: the IP fence is checked before the rate counter --------------------------------
def test_refusals_from_outside_the_fence_spend_nothing_of_the_real_clients_budget(client, make_key, record_cache):
    key = make_key(allowed_ips=["10.0.0.0/8"], rate_limit_per_minute=5)
    for _ in range(6):
        refused = client.get("/api/v1/key", headers=bearer(key), REMOTE_ADDR="203.0.113.9")
        assert refused.status_code == 403 and error_code(refused) == "ip_not_allowed"
    allowed = client.get("/api/v1/key", headers=bearer(key), REMOTE_ADDR="10.1.2.3")
    assert allowed.status_code == 200, allowed.content
    if record_cache != "no-cache" or allowed.has_header("X-RateLimit-Remaining"):
        assert allowed["X-RateLimit-Remaining"] == "4"
    for _ in range(4):
        assert client.get("/api/v1/key", headers=bearer(key), REMOTE_ADDR="10.1.2.3").status_code == 200
    over = client.get("/api/v1/key", headers=bearer(key), REMOTE_ADDR="10.1.2.3")
    assert over.status_code == 429  # the real client's own sixth request: its budget is intact, and kept
    # The burst of refusals is in the event log once, as what it was; the one rate_limited is the real one.
    assert KeyEvent.objects.filter(kind=EventKind.IP_REFUSED, key_id=key.key_id).count() == 1
    assert KeyEvent.objects.filter(kind=EventKind.RATE_LIMITED, key_id=key.key_id).count() == 1


# --- Finding 6: the leak report counts IPv6 per /64, and a 100-key report is one query ----------
def test_the_leak_report_throttle_counts_one_ipv6_64_once(client, settings):
    settings.LEAK_REPORTS_PER_MINUTE = 3
    body = {"keys": ["hello"], "url": "https://pastebin.example/raw/abc"}
    answers = [
        client.post(
            "/api/v1/leaked-keys", body, content_type="application/json", REMOTE_ADDR=f"2001:db8:1:2::{i:x}"
        ).status_code
        for i in range(1, 13)
    ]
    assert answers == [202] * 3 + [429] * 9
    # Another /64 has its own budget.
    other = client.post("/api/v1/leaked-keys", body, content_type="application/json", REMOTE_ADDR="2001:db8:1:3::1")
    assert other.status_code == 202


def test_every_per_address_throttle_counts_through_throttle_address():
    """The failed-API-authentication throttle, the leak reports and allauth's login limits all
    count an IPv6 client per /64 (allauth through its own setting, checked equal here)."""
    from allauth.core.internal.ratelimit import truncate_ip

    from keys_console.client_ip import IPV6_THROTTLE_PREFIX, throttle_address

    assert settings_value("ALLAUTH_RATE_LIMIT_IPV6_PREFIX") == IPV6_THROTTLE_PREFIX
    for ip in ("2001:db8:1:2:aaaa::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"):
        assert throttle_address(ip) == "2001:db8:1:2::/64"
        assert truncate_ip(ip) == "2001:db8:1:2::"


def settings_value(name):
    from django.conf import settings

    return getattr(settings, name)


def test_a_100_key_leak_report_costs_one_query(client, django_assert_max_num_queries):
    from keys import keygen

    keys = [keygen.generate_key() for _ in range(100)]  # well formed, none of them ours
    with django_assert_max_num_queries(1):
        response = client.post(
            "/api/v1/leaked-keys", {"keys": keys, "url": "https://x.example/"}, content_type="application/json"
        )
    assert response.status_code == 202


# --- Finding 7: a malformed GitHub signature is folded like any failure, never an ERROR each ------
from tests.api.test_request_log import shipped_log  # noqa: E402, F401 -- the shipped log, captured
from tests.api.test_secret_scanning import PATH as SECRET_SCANNING_PATH  # noqa: E402
from tests.api.test_secret_scanning import GitHub  # noqa: E402


def test_a_valid_github_key_id_with_a_malformed_signature_is_folded_and_no_error(
    client,
    tmp_path,
    settings,
    shipped_log,  # noqa: F811 -- the fixture imported above
):
    github = GitHub(tmp_path, settings)
    body = b'[{"token": "x", "type": "nbq_api_key", "url": "https://x.example/", "source": "content"}]'
    headers = {"GITHUB-PUBLIC-KEY-IDENTIFIER": github.key_id, "GITHUB-PUBLIC-KEY-SIGNATURE": "not base64!"}
    for _ in range(50):
        response = client.post(SECRET_SCANNING_PATH, body, content_type="application/json", headers=headers)
        assert response.status_code == 401 and error_code(response) == "invalid_signature"
    lines = shipped_log()
    assert [line for line in lines if line["level"] in ("ERROR", "CRITICAL")] == []
    requests = [line for line in lines if line["logger"] == "keys_console.request"]
    assert len(requests) == 1, requests  # the first failure's request line; the 49 others are folded
    assert (requests[0]["status"], requests[0]["error"]) == (401, "invalid_signature")


# --- Finding 9: the request-log folding cannot be blinded --------------------------------------
def test_a_full_folding_table_still_writes_each_new_failure_with_its_client_address(
    client,
    make_key,
    shipped_log,  # noqa: F811 -- the fixture imported above
    monkeypatch,
):
    """Through the real API, with a table of 300 kinds (the production table's 10,000 are filled
    the same way: the unit test below does it with the real size)."""
    from keys_console import observability
    from keys_console.log_folding import FailureFolds
    from tests.api.test_request_log import BAD_CHECKSUM

    monkeypatch.setattr(observability, "_folds", FailureFolds(max_kinds=300))
    for i in range(300):  # 300 /64s, one 401 each: the table is full
        client.get("/api/v1/key", headers=bearer(BAD_CHECKSUM), REMOTE_ADDR=f"2001:db8:{i // 65536:x}:{i % 65536:x}::1")
    flood = len(shipped_log())
    brute = [f"198.51.100.{i}" for i in range(1, 51)]
    for address in brute:
        client.get("/api/v1/key", headers=bearer(BAD_CHECKSUM), REMOTE_ADDR=address)
    leaked = make_key(allowed_ips=["10.0.0.0/8"])
    assert client.get("/api/v1/key", headers=bearer(leaked), REMOTE_ADDR="203.0.113.9").status_code == 403
    after = [
        line for line in shipped_log()[flood:] if line["logger"] == "keys_console.request" and "folded" not in line
    ]
    assert sorted(line["client"] for line in after if line["status"] == 401) == sorted(brute)
    (refusal,) = [line for line in after if line["status"] == 403]
    assert (refusal["error"], refusal["client"]) == ("ip_not_allowed", "203.0.113.9")


def test_the_folds_write_the_first_failure_of_every_kind_past_a_full_table_and_stay_bounded():
    from keys_console.log_folding import MAX_KINDS, FailureFolds

    folds, now = FailureFolds(), 1_800_000_000.0
    for i in range(MAX_KINDS):
        assert folds.record((f"2001:db8:{i}::/64", 401, "invalid_api_key"), now)[0]
    # 50 new addresses and a leaked key's refusal: each first failure is written
    assert all(folds.record((f"198.51.100.{i}", 401, "invalid_api_key"), now)[0] for i in range(50))
    assert folds.record(("key_leaked", 403, "ip_not_allowed"), now)[0]
    # ... and the repeats of a kind still in the table are folded
    assert not folds.record(("key_leaked", 403, "ip_not_allowed"), now)[0]
    assert len(folds._counts) <= MAX_KINDS  # memory stays bounded


# --- Info: a signed GitHub report replayed changes nothing more ----------------------------------
def test_a_replayed_github_report_is_idempotent(client, tmp_path, settings, make_key, mailoutbox):
    import json

    github = GitHub(tmp_path, settings)
    key = make_key()
    body = json.dumps(
        [{"token": key.plaintext, "type": "nbq_api_key", "url": "https://x.example/", "source": "content"}]
    )
    headers = {"GITHUB-PUBLIC-KEY-IDENTIFIER": github.key_id, "GITHUB-PUBLIC-KEY-SIGNATURE": github.sign(body.encode())}
    first = client.post(SECRET_SCANNING_PATH, body, content_type="application/json", headers=headers)
    events, mails = KeyEvent.objects.count(), len(mailoutbox)
    again = [
        client.post(SECRET_SCANNING_PATH, body, content_type="application/json", headers=headers) for _ in range(3)
    ]
    assert first.status_code == 200 and all(r.status_code == 200 for r in again)
    assert all(r.json() == first.json() for r in again)  # the same feedback: token hash, true positive
    assert (KeyEvent.objects.count(), len(mailoutbox)) == (events, mails)  # no second revocation, event or mail
