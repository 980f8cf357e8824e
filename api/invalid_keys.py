"""Refuse malformed API keys before the rest of the stack runs.

A key that is not `nbq_live_` (or `nbq_test_`) + 32 characters with a valid checksum cannot belong to anybody, and
`keygen.is_well_formed` says so without a query. Such requests (typos, made-up keys, scanners)
are answered here, high in MIDDLEWARE, before the session, CSRF, authentication and message
middleware and before django-ninja parses anything, byte for byte what the API's own
authentication answers (401 `invalid_api_key`), with the same headers (`Cache-Control` and `Vary`
come from api.response_hooks' middleware, which sits above this one). No database, no cache: a
malformed key is not counted against the client address's budget of failed authentications
(`api.auth`), since it cannot match any key and refusing it costs nothing; counting it would cost
every junk request a round trip, i.e. make a flood of junk dearer to refuse.

Only where the API itself would ask for a key: the request must resolve to an operation that the
OpenAPI document lists with a security requirement for this method. Everything else (the docs, the
OpenAPI document, unknown paths: 404, wrong methods: 405, well-formed keys, no key at all, another
Authorization scheme) goes on to the API unchanged, which keeps one place for those answers.
"""

import re
from functools import cache, lru_cache

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import Resolver404, get_urlconf, resolve

from keys import keygen
from keys_console import metrics

from .auth import MALFORMED_KEY_MESSAGE
from .errors import ApiError, NotAuthenticated, error_body

API_PREFIX = "/api/"
_PARAM = re.compile(r"<(?:[^>:]+:)?([^>]+)>")


def presented_key(meta: dict) -> str | None:
    """The key this request presents, read as api/auth.py's BearerKey then HeaderKey read it;
    None when they would not get as far as checking a key (no key, an empty one, another scheme)."""
    value = meta.get("HTTP_AUTHORIZATION")
    if value is not None and value.strip():
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() == "bearer":
            return token.strip() or None
        if not meta.get("HTTP_X_API_KEY"):
            return None
    value = meta.get("HTTP_X_API_KEY")
    return (value.strip() or None) if value is not None else None


@cache
def _secured_operations() -> dict[str, frozenset[str]]:
    """{"/api/v1/questions/{question_id}": {"GET", "PATCH", "DELETE"}, ...}: what asks for a key."""
    from .api import api

    return {
        path: frozenset(method.upper() for method, operation in operations.items() if operation.get("security"))
        for path, operations in api.get_openapi_schema()["paths"].items()
    }


def asks_for_a_key(request: HttpRequest) -> bool:
    return _asks_for_a_key(get_urlconf() or settings.ROOT_URLCONF, request.path_info, request.method)


# Worked out once per (URLconf, path, method): resolving a path against every API route costs more
# than the rest of a refusal, and a client that keeps sending a malformed key keeps sending it to
# the same path. Bounded, so a flood of made-up paths costs what it did before (a resolve each).
@lru_cache(maxsize=2048)
def _asks_for_a_key(urlconf: str, path_info: str, method: str | None) -> bool:
    try:
        match = resolve(path_info, urlconf)
    except Resolver404:
        return False
    path = "/" + _PARAM.sub(r"{\1}", match.route)
    return method in _secured_operations().get(path, ())


def refusal(error: ApiError) -> JsonResponse:
    """The API's error response, plus what the middleware below this one would have added to it."""
    response = JsonResponse(
        error_body(error.code, error.message, error.fields),
        status=error.status,
        content_type="application/json; charset=utf-8",
    )
    for name, value in error.headers.items():
        response[name] = value
    response["X-Frame-Options"] = settings.X_FRAME_OPTIONS  # XFrameOptionsMiddleware
    response["Content-Length"] = str(len(response.content))  # CommonMiddleware
    response.error_code = error.code  # type: ignore[attr-defined]  # for the request log
    return response


class RejectMalformedKeysMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if request.path_info.startswith(API_PREFIX):
            key = presented_key(request.META)
            if key is not None:
                if keygen.is_well_formed(key):
                    request.well_formed_key = key  # type: ignore[attr-defined]  # api.auth need not check it again
                elif asks_for_a_key(request):
                    metrics.count_authentication("invalid")  # GET /metrics (a flag check while off)
                    return refusal(NotAuthenticated("invalid_api_key", MALFORMED_KEY_MESSAGE))
        return self.get_response(request)
