"""The client's IP address, for the event log, last use and login throttling; and the unit a
per-address throttle counts (`throttle_address`).

Behind the production proxy REMOTE_ADDR is the proxy's address. With TRUSTED_PROXIES=N (the
number of proxies in front of the app that append to X-Forwarded-For), the client is the N-th
address from the right of X-Forwarded-For: entries further left can be forged by the client.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    remote = request.META.get("REMOTE_ADDR") or None
    hops = settings.TRUSTED_PROXIES
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < hops:
        return remote
    candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


# An IPv6 subscriber is given a /64 at least (often a /56 or /48) and picks the rest of the
# address freely: counting per full address would give one client 2**64 budgets.
IPV6_THROTTLE_PREFIX = 64


@lru_cache(maxsize=4096)  # on every API request's path; a client keeps its address
def throttle_address(ip: str | None) -> str:
    """What a per-address throttle counts: an IPv4 address itself, an IPv6 address's /64 network
    ("2001:db8:1:2::/64"). Every throttle keyed by the client address uses this (the failed-API-
    authentication budget: api/auth.py; allauth's login limits truncate to the same /64 themselves:
    settings.ALLAUTH_RATE_LIMIT_IPV6_PREFIX)."""
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
