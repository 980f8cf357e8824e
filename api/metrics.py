"""API authentication outcomes for `GET /metrics` (keys_console/metrics.py), counted where
api/auth.py decides: `authenticate_key` is wrapped by `counted`, and a malformed key refused early
by api/invalid_keys.py counts as `invalid` there."""

from collections.abc import Callable
from functools import wraps

from keys import keygen
from keys_console import metrics

from .errors import IpNotAllowed, NotAuthenticated, RateLimited

_CODES = {
    "missing_api_key": "missing",
    "revoked_api_key": "revoked",
    "expired_api_key": "expired",
    "disabled_api_key": "disabled",
}


def outcome_of(request, presented: str, error: Exception | None) -> str:
    """What authentication decided: `ok` once the request holds its key (a refusal after that — the
    key's own rate limit, a project out of scope — is not an authentication failure)."""
    if getattr(request, "api_key", None) is not None:
        return "ok"
    if isinstance(error, NotAuthenticated):
        if error.code == "invalid_api_key":  # malformed (no lookup) or well formed and matching no key
            return "unknown" if keygen.is_well_formed(presented.strip()) else "invalid"
        return _CODES.get(error.code, "invalid")
    if isinstance(error, RateLimited):
        return "rate_limited"  # the failed-authentication throttle of the client address
    if isinstance(error, IpNotAllowed):
        return "ip_not_allowed"
    return "ok" if error is None else "error"


def counted(authenticate: Callable) -> Callable:
    """Decorator for api.auth.authenticate_key (no cost but a flag check while metrics are off)."""

    @wraps(authenticate)
    def wrapper(request, presented):
        if not metrics.enabled():
            return authenticate(request, presented)
        try:
            key = authenticate(request, presented)
        except Exception as error:
            metrics.count_authentication(outcome_of(request, presented, error))
            raise
        metrics.count_authentication("ok")
        return key

    return wrapper
