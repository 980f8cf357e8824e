"""What happens around every view of the runtime API, once the response is known.

`NinjaAPI` has no hook that sees every response (auth failures, validation errors, 204s and the
405s of its own URL dispatch take different paths), so `RuntimeApi` wraps each URL's view with
`finish_api_response`, which:

- adds the `X-RateLimit-*` headers to every response of an authenticated request (200 … 429);
- records last use and usage counts (`api.usage.after_request`) for authenticated requests;
- turns the URL-level 404 / 405 of django-ninja into the API's JSON error shape.
"""

import logging
from functools import wraps

from django.http import Http404, HttpRequest, HttpResponseNotAllowed

from . import ratelimit, usage
from .errors import error_response

logger = logging.getLogger("api")


def finish_api_response(view):
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            response = not_found(request)
        if isinstance(response, HttpResponseNotAllowed):
            response = error_response(
                405, "method_not_allowed", f"{request.method} is not allowed here.",
                headers={"Allow": response["Allow"]},
            )
        key = getattr(request, "api_key", None)
        if key is not None:
            ratelimit.add_headers(response, request)
            try:
                usage.after_request(request, key, response.status_code)
            except Exception:  # bookkeeping never costs the client its response
                logger.exception("API: recording usage of %s failed", key.key_id)
        return response

    wrapper.csrf_exempt = True  # API requests authenticate by key, never by cookie
    return wrapper


def not_found(request: HttpRequest, *args, **kwargs):
    return error_response(404, "not_found", f"No such endpoint: {request.method} {request.path}")


not_found.csrf_exempt = True
