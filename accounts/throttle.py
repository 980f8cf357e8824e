"""Login throttling: a few failed attempts per (email, IP) in a window, counted in the cache.

Fails open, like the API's rate limiter: if the cache (Redis) cannot be reached, logins are
checked without the throttle and a warning is logged, instead of every login failing with a
500. Passwords are still verified; only the brake on guessing is off while the cache is down.
"""

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger("accounts")


def _cache_key(email: str, ip: str | None) -> str:
    digest = hashlib.sha256(f"{email.strip().lower()}|{ip or ''}".encode()).hexdigest()[:32]
    return f"login-failures:{digest}"


def _cache_down(exc: Exception) -> None:
    logger.warning("Login throttle: cache unavailable (%s); checking logins without it", type(exc).__name__)


def login_is_throttled(email: str, ip: str | None) -> bool:
    try:
        return cache.get(_cache_key(email, ip), 0) >= settings.LOGIN_THROTTLE_ATTEMPTS
    except Exception as exc:  # connection refused, timeout, ...: fail open (see module docstring)
        _cache_down(exc)
        return False


def record_login_failure(email: str, ip: str | None) -> None:
    key = _cache_key(email, ip)
    try:
        if cache.add(key, 1, timeout=settings.LOGIN_THROTTLE_WINDOW):
            return
        try:
            cache.incr(key)
        except ValueError:  # expired between add() and incr()
            cache.add(key, 1, timeout=settings.LOGIN_THROTTLE_WINDOW)
    except Exception as exc:
        _cache_down(exc)


def clear_login_failures(email: str, ip: str | None) -> None:
    try:
        cache.delete(_cache_key(email, ip))
    except Exception as exc:
        _cache_down(exc)
