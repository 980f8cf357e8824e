"""Allowed IP addresses per key: a request from elsewhere gets 403 `ip_not_allowed`, judged from
the key's cached record (no extra query) on the client address as the API sees it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from keys.services import api_key_update
from projects.actors import Actor
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.api.conftest import bearer, error_code
from tests.conftest import use_record_cache

pytestmark = pytest.mark.django_db


def get_key(client, key, **extra):
    return client.get("/api/v1/key", headers=bearer(key), **extra)


def allow(key, *networks):
    return api_key_update(
        key=key,
        actor=Actor.cli(),
        name=key.name,
        permissions=key.permissions,
        rate_limit_per_minute=key.rate_limit_per_minute,
        allowed_ips="\n".join(networks),
    )


@pytest.fixture(params=["locmem", "redis"])
def record_cache(request, settings):
    return use_record_cache(settings, request.param)


def queries_of(client, key, **extra):
    with CaptureQueriesContext(connection) as captured:
        response = get_key(client, key, **extra)
    return response, len(captured.captured_queries)


def test_allowed_only_10_8_refused_from_localhost_then_allowed_when_added(client, make_key, record_cache):
    key = make_key(allowed_ips=["10.0.0.0/8"])
    refused = get_key(client, key)  # the test client comes from 127.0.0.1
    assert refused.status_code == 403 and error_code(refused) == "ip_not_allowed"
    assert "127.0.0.1" in refused.json()["error"]["message"]
    assert KeyEvent.objects.filter(kind=EventKind.IP_REFUSED, key_id=key.key_id, ip="127.0.0.1").count() == 1
    allow(key, "10.0.0.0/8", "127.0.0.1/32")
    assert get_key(client, key).status_code == 200
    allow(key, "10.0.0.0/8")
    assert get_key(client, key).status_code == 403  # the change reaches the next request too


def test_the_check_costs_no_query(client, make_key, record_cache):
    open_key, fenced = make_key(), make_key(allowed_ips=["10.0.0.0/8", "127.0.0.1/32"])
    for key in (open_key, fenced):
        get_key(client, key)  # cache the record (and flush the first use)
    get_key(client, make_key(allowed_ips=["10.0.0.0/8"]))  # its refusal event is written once
    _, open_queries = queries_of(client, open_key)
    response, fenced_queries = queries_of(client, fenced)
    assert response.status_code == 200
    assert fenced_queries == open_queries == 0


def test_ipv6_networks(client, make_key):
    key = make_key(allowed_ips=["2001:db8::/32"])
    assert get_key(client, key, REMOTE_ADDR="2001:db8::1").status_code == 200
    assert get_key(client, key, REMOTE_ADDR="2001:db9::1").status_code == 403
    assert get_key(client, key, REMOTE_ADDR="10.1.2.3").status_code == 403


def test_judged_on_the_client_address_behind_trusted_proxies(client, make_key, settings):
    key = make_key(allowed_ips=["203.0.113.0/24"])
    forwarded = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    assert get_key(client, key, **forwarded).status_code == 403  # no proxy trusted: REMOTE_ADDR counts
    settings.TRUSTED_PROXIES = 1
    assert get_key(client, key, **forwarded).status_code == 200
    forged = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.9, 198.51.100.1"}
    assert get_key(client, key, **forged).status_code == 403  # the proxy appended the real client


def test_revoked_key_is_401_before_the_address_is_judged(client, make_key):
    key = make_key(allowed_ips=["10.0.0.0/8"], state="revoked")
    response = get_key(client, key)
    assert response.status_code == 401 and error_code(response) == "revoked_api_key"
