"""Login throttling: a few failed attempts per (email, IP) in a window, counted in the cache."""

import hashlib

from django.conf import settings
from django.core.cache import cache


def _cache_key(email: str, ip: str | None) -> str:
    digest = hashlib.sha256(f"{email.strip().lower()}|{ip or ''}".encode()).hexdigest()[:32]
    return f"login-failures:{digest}"


def login_is_throttled(email: str, ip: str | None) -> bool:
    return cache.get(_cache_key(email, ip), 0) >= settings.LOGIN_THROTTLE_ATTEMPTS


def record_login_failure(email: str, ip: str | None) -> None:
    key = _cache_key(email, ip)
    if cache.add(key, 1, timeout=settings.LOGIN_THROTTLE_WINDOW):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=settings.LOGIN_THROTTLE_WINDOW)


def clear_login_failures(email: str, ip: str | None) -> None:
    cache.delete(_cache_key(email, ip))
