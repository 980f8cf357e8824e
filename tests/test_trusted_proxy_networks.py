"""Finding 11 of issue #27: X-Forwarded-For is read only when the peer (REMOTE_ADDR) is inside
TRUSTED_PROXY_NETWORKS (default: loopback and the private ranges), so a client that reaches
gunicorn directly (the image binds 0.0.0.0:8000) cannot forge its address past allow-lists and
throttles."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from keys_console.client_ip import client_ip
from keys_console.env import env_networks


def ip_of(remote: str, forwarded: str = "10.1.2.3") -> str | None:
    return client_ip(RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded))


@pytest.mark.parametrize(
    "peer, expected",
    [
        ("203.0.113.7", "203.0.113.7"),  # a public peer reached the app directly: its header is not believed
        ("2001:db8::7", "2001:db8::7"),
        ("127.0.0.1", "10.1.2.3"),  # the proxy on loopback
        ("::1", "10.1.2.3"),
        ("10.0.0.2", "10.1.2.3"),  # private ranges: a proxy in the same network
        ("172.31.255.1", "10.1.2.3"),
        ("192.168.1.1", "10.1.2.3"),
        ("fd12:3456::1", "10.1.2.3"),
        ("172.32.0.1", "172.32.0.1"),  # just outside 172.16.0.0/12
    ],
)
def test_the_header_is_read_only_from_trusted_peers(settings, peer, expected):
    settings.TRUSTED_PROXIES = 1
    assert ip_of(peer) == expected


def test_the_networks_are_configurable(settings):
    settings.TRUSTED_PROXIES = 1
    settings.TRUSTED_PROXY_NETWORKS = ("192.0.2.0/24",)
    assert ip_of("192.0.2.10") == "10.1.2.3"
    assert ip_of("10.0.0.2") == "10.0.0.2"  # private, but not listed any more


def test_defaults_and_strict_reading():
    assert env_networks("TRUSTED_PROXY_NETWORKS", ("127.0.0.0/8",), environ={}) == ("127.0.0.0/8",)
    read = env_networks("TRUSTED_PROXY_NETWORKS", (), environ={"TRUSTED_PROXY_NETWORKS": "10.0.0.0/8, ::1 ,fc00::/7"})
    assert read == ("10.0.0.0/8", "::1/128", "fc00::/7")
    for bad in ("10.0.0.0/33", "ten", "10.0.0.1/8"):
        with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXY_NETWORKS"):
            env_networks("TRUSTED_PROXY_NETWORKS", (), environ={"TRUSTED_PROXY_NETWORKS": bad})


@pytest.mark.django_db
def test_a_direct_client_cannot_forge_its_way_past_an_allow_list(client, settings):
    from tests.factories import ApiKeyFactory, ProjectFactory

    settings.TRUSTED_PROXIES = 1
    key = ApiKeyFactory(project=ProjectFactory(active_questions=12), permissions=["read"], allowed_ips=["10.0.0.0/8"])
    headers = {"Authorization": f"Bearer {key.plaintext}", "X-Forwarded-For": "10.1.2.3"}
    assert client.get("/api/v1/key", headers=headers, REMOTE_ADDR="203.0.113.7").status_code == 403
    assert client.get("/api/v1/key", headers=headers, REMOTE_ADDR="10.0.0.2").status_code == 200  # via the proxy
