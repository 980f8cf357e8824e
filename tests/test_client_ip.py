import pytest
from django.test import RequestFactory

from keys_console.client_ip import client_ip


@pytest.mark.parametrize(
    "trusted, forwarded, expected",
    [
        (0, "203.0.113.9", "10.0.0.1"),  # no proxy trusted: the header is ignored
        (1, "203.0.113.9", "203.0.113.9"),  # one proxy: its view of the client
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # a forged left entry is not believed
        (2, "203.0.113.9, 198.51.100.2", "203.0.113.9"),
        (2, "198.51.100.2", "10.0.0.1"),  # fewer hops than configured
        (1, "not-an-ip", "10.0.0.1"),
        (1, "", "10.0.0.1"),
    ],
)
def test_client_ip_trusts_only_the_configured_proxies(settings, trusted, forwarded, expected):
    settings.TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


@pytest.mark.parametrize(
    "ip, expected",
    [
        ("203.0.113.9", "203.0.113.9"),  # IPv4: the address
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),  # IPv6: its /64, one subscriber's network
        ("2001:db8:1:2::12c", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),  # an IPv4 client seen through a v6 socket
        (None, "unknown"),
        ("", "unknown"),
    ],
)
def test_throttle_address_counts_ipv6_per_64(ip, expected):
    from keys_console.client_ip import throttle_address

    assert throttle_address(ip) == expected


def test_the_throttle_unit_of_an_address_is_worked_out_once_per_address():
    """On every API request's path: a client that keeps its address costs one parse of it."""
    from keys_console.client_ip import throttle_address

    throttle_address.cache_clear()
    for _ in range(3):
        assert throttle_address("2001:db8:1:2::7") == "2001:db8:1:2::/64"
    assert throttle_address.cache_info().misses == 1 and throttle_address.cache_info().hits == 2
