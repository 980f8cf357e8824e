"""The client's IP address, for the event log, last use and login throttling; and the unit a
per-address throttle counts (`throttle_address`).

Behind the production proxy REMOTE_ADDR is the proxy's address. With TRUSTED_PROXIES=N (the
number of proxies in front of the app that append to X-Forwarded-For), the client is the N-th
address from the right of X-Forwarded-For: entries further left can be forged by the client.
The header is read only when the peer (REMOTE_ADDR) is inside TRUSTED_PROXY_NETWORKS (default:
loopback and the private ranges): a client that reaches the app directly, past the proxy, is
judged by its own address whatever header it sends (issue #27, finding 11).
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    remote = request.META.get("REMOTE_ADDR") or None
    hops = settings.TRUSTED_PROXIES
    if hops <= 0 or remote is None or not _is_trusted_peer(remote, settings.TRUSTED_PROXY_NETWORKS):
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < hops:
        return remote
    candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


@lru_cache(maxsize=1024)  # on every request's path behind a proxy: a few peers, one answer each
def _is_trusted_peer(remote: str, networks: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in _networks(networks))


@lru_cache(maxsize=16)
def _networks(networks: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(network) for network in networks)


# An IPv6 subscriber is given a /64 at least (often a /56 or /48) and picks the rest of the
# address freely: counting per full address would give one client 2**64 budgets.
IPV6_THROTTLE_PREFIX = 64


@lru_cache(maxsize=4096)  # on every API request's path; a client keeps its address
def throttle_address(ip: str | None) -> str:
    """What a per-address throttle counts: an IPv4 address itself, an IPv6 address's /64 network
    ("2001:db8:1:2::/64"). Every throttle keyed by the client address uses this (the failed-API-
    authentication budget: api/auth.py; the leak reports: keys/leaks.py; the request log's folds:
    observability.py; allauth's login limits truncate to the same /64 themselves:
    settings.ALLAUTH_RATE_LIMIT_IPV6_PREFIX, checked equal to IPV6_THROTTLE_PREFIX by a test)."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_THROTTLE_PREFIX), strict=False))
    return str(address)
