"""Usage per key, day, endpoint and outcome (issue #31): counted on the request path in the
process, refusals of a known key included, written by the flush; where a key was used from;
GET /api/v1/usage."""

import pytest

from api import usage
from keys.models import ApiKey, KeyAddress, KeyUsageCount
from keys.usage import key_usage_by_endpoint
from tests.api.conftest import bearer
from tests.factories import ApiKeyFactory, ProjectFactory
from tests.usage_mix import AGENT, BEHIND_PROXY, DIRECT, EXPECTED, known_mix_key, send_known_mix

pytestmark = pytest.mark.django_db


def detailed(key) -> dict[tuple[str, int, str], int]:
    found: dict[tuple[str, int, str], int] = {}
    for row in KeyUsageCount.objects.filter(api_key=key):
        slot = (row.endpoint, row.status, row.code)
        found[slot] = found.get(slot, 0) + row.count
    return found


def test_the_known_mix_is_counted_per_endpoint_and_outcome_with_both_addresses(client, project, settings, monkeypatch):
    key = known_mix_key(project)
    send_known_mix(client, key, settings, monkeypatch)

    assert detailed(key) == EXPECTED
    assert set(KeyUsageCount.objects.filter(api_key=key).values_list("project_id", flat=True)) == {project.pk}
    addresses = {a.address: a for a in KeyAddress.objects.filter(api_key=key)}
    assert set(addresses) == {DIRECT, BEHIND_PROXY}
    assert addresses[BEHIND_PROXY].user_agent == AGENT
    key.refresh_from_db()
    assert key.last_used_ip == DIRECT and key.last_used_user_agent == AGENT  # the minute's first request
    by_endpoint = {e.endpoint: e for e in key_usage_by_endpoint(key)}
    assert by_endpoint["listQuestions"].outcomes == [("200", 12), ("429 rate_limited", 5)]
    assert by_endpoint["listQuestions"].refused == 5


def test_the_known_mix_through_get_usage(client, project, settings, monkeypatch):
    key = known_mix_key(project)
    send_known_mix(client, key, settings, monkeypatch)
    reader = ApiKeyFactory(project=project, permissions=["read"])

    response = client.get("/api/v1/usage?days=7", headers=bearer(reader))

    assert response.status_code == 200
    body = response.json()
    assert body["days"] == 7
    rows = [r for r in body["items"] if r["key"]["id"] == key.key_id]
    assert {(r["endpoint"], r["status"], r["code"] or ""): r["count"] for r in rows} == EXPECTED
    assert rows[0]["key"] == {"id": key.key_id, "name": "Nightly import", "kind": "project"}


def test_get_usage_in_project_form_and_its_refusals(client, project, settings, monkeypatch):
    key = known_mix_key(project)
    send_known_mix(client, key, settings, monkeypatch)
    other = ProjectFactory(active_questions=12)
    writer = ApiKeyFactory(project=project, permissions=["write"])
    key = ApiKeyFactory(project=project, permissions=["read"])  # the mix's key is at its rate limit

    in_project = client.get(f"/api/v1/projects/{project.slug}/usage?days=1", headers=bearer(key))
    assert in_project.status_code == 200 and sum(r["count"] for r in in_project.json()["items"]) == 22
    # the other project's usage is not this key's business
    assert client.get(f"/api/v1/projects/{other.slug}/usage", headers=bearer(key)).status_code == 404
    refused = client.get("/api/v1/usage", headers=bearer(writer))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_permission"
    bad = client.get("/api/v1/usage?days=91", headers=bearer(key))
    assert bad.status_code == 400 and "days" in bad.json()["error"]["fields"]


def test_get_usage_is_one_query(client, key, settings, django_assert_num_queries):
    settings.API_KEY_RECORD_CACHE_SECONDS = 10
    client.get("/api/v1/key", headers=bearer(key))  # warm: record cached, last use written
    with django_assert_num_queries(1):
        assert client.get("/api/v1/usage", headers=bearer(key)).status_code == 200


def test_refusals_before_authentication_completes_count_for_the_known_key(client, make_key, settings, clock):
    """A known key refused for its address, its state or its permission still counts (as its own
    outcome); a made-up key counts for nobody."""
    fenced = make_key(allowed_ips=["198.51.100.0/24"])
    revoked = make_key()
    ApiKey.objects.filter(pk=revoked.pk).update(state="revoked")
    assert client.get("/api/v1/key", headers=bearer(fenced), REMOTE_ADDR="203.0.113.50").status_code == 403
    assert client.get("/api/v1/key", headers=bearer(revoked)).status_code == 401
    usage.flush_usage()
    assert detailed(fenced) == {("getKey", 403, "ip_not_allowed"): 1}
    assert detailed(revoked) == {("getKey", 401, "revoked_api_key"): 1}
    assert KeyAddress.objects.filter(api_key=fenced, address="203.0.113.50").exists()


def test_an_account_key_counts_in_the_project_it_acted_on(client, user, settings):
    from projects.models import Membership

    project = ProjectFactory(owner=user, active_questions=12)
    assert Membership.objects.filter(user=user, project=project).exists()
    key = ApiKeyFactory(project=None, owner=user, all_projects=True, permissions=["read"])
    assert client.get(f"/api/v1/projects/{project.slug}/questions", headers=bearer(key)).status_code == 200
    assert client.get("/api/v1/key", headers=bearer(key)).status_code == 200
    usage.flush_usage()
    rows = {(r.project_id, r.endpoint, r.status): r.count for r in KeyUsageCount.objects.filter(api_key=key)}
    assert rows == {(project.pk, "listQuestions", 200): 1, (None, "getKey", 200): 1}


def test_only_the_last_few_addresses_are_kept(client, key, settings):
    for i in range(usage.ADDRESSES_PER_KEY + 3):
        client.get("/api/v1/key", headers=bearer(key), REMOTE_ADDR=f"198.51.100.{i + 1}")
    usage.flush_usage()
    kept = set(KeyAddress.objects.filter(api_key=key).values_list("address", flat=True))
    assert len(kept) == usage.ADDRESSES_PER_KEY
    assert f"198.51.100.{usage.ADDRESSES_PER_KEY + 3}" in kept
