"""The client's IP address, for the event log, last use and login throttling.

Behind the production proxy REMOTE_ADDR is the proxy's address. With TRUSTED_PROXIES=N (the
number of proxies in front of the app that append to X-Forwarded-For), the client is the N-th
address from the right of X-Forwarded-For: entries further left can be forged by the client.
"""

import ipaddress

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
