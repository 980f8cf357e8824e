"""What happens around every response of the runtime API: `ApiResponseMiddleware`.

A plain Django middleware (settings.MIDDLEWARE) sees every response under `/api/` — the views'
own, authentication failures, validation errors, 204s, and the URL-level 404 / 405 that Django
and django-ninja answer before any view runs — so nothing here depends on django-ninja's
internals. For each it:

- turns a non-JSON 404 / 405 (an unknown path or method) into the API's JSON error shape;
- adds `Cache-Control: no-store` and `Vary: Authorization, X-API-Key`: an API response is
  never stored by a browser or a shared cache;
- gives every response but an HTML page (the Swagger UI at /api/v1/docs keeps the console's
  policy) the Content-Security-Policy of a JSON API, `default-src 'none'; frame-ancestors 'none'`:
  nothing in it may load or run, nor may a page frame it. Django's CSP middleware, above this one,
  leaves a policy that is already set alone (and so builds none for the API's responses);
- adds the `X-RateLimit-*` headers to every response of an authenticated request (200 … 429)
  and records last use and usage counts (`api.usage.after_request`; counts also for a request
  of a known key that was refused: revoked, disabled, `ip_not_allowed`, ...).
"""

import logging

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_vary_headers

from . import ratelimit, usage
from .errors import error_response

logger = logging.getLogger("api")

API_PATH_PREFIX = "/api/"
VARY = ("Authorization", "X-API-Key")
CSP_HEADER = "Content-Security-Policy"
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def _is_json(response: HttpResponseBase) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def _is_html(response: HttpResponseBase) -> bool:
    return response.get("Content-Type", "").startswith("text/html")


def finish_api_response(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    if response.status_code == 404 and not _is_json(response):
        response = not_found(request)
    elif response.status_code == 405 and not _is_json(response):
        response = error_response(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed here.",
            headers={"Allow": response.get("Allow", "")},
        )
    response["Cache-Control"] = "no-store"
    patch_vary_headers(response, VARY)
    if CSP_HEADER not in response and not _is_html(response):
        response[CSP_HEADER] = API_CSP
    if getattr(request, "api_key", None) is not None:
        ratelimit.add_headers(response, request)
    key = getattr(request, "usage_key", None)  # a known key, authenticated or refused (api.auth)
    if key is not None:
        try:
            usage.after_request(request, key, response)
        except Exception:  # bookkeeping never costs the client its response
            logger.exception("API: recording usage of %s failed", key.key_id)
    return response


def not_found(request: HttpRequest):
    return error_response(404, "not_found", f"No such endpoint: {request.method} {request.path}")


class ApiResponseMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        response = self.get_response(request)
        if request.path_info.startswith(API_PATH_PREFIX):
            response = finish_api_response(request, response)
        return response
