"""The API's errors: one exception type (`keys_console.errors.Refused`; `ApiError` is a kind of it),
rendered as `{"error": {"code", "message"[, "fields"]}}`.

Handlers registered in `install_error_handlers` translate everything a request can raise
(our own errors, django-ninja's validation / HTTP errors, 404s, a database outage, bugs)
into that shape, so a client never has to parse HTML or a traceback.
"""

import logging
from collections.abc import Set as AbstractSet

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from keys_console.errors import Refused

logger = logging.getLogger("api")

# Seconds a client should wait before retrying when the database is unreachable.
SERVICE_UNAVAILABLE_RETRY_AFTER = 5

WWW_AUTHENTICATE = {"WWW-Authenticate": "Bearer"}


class ApiError(Refused):
    """A refusal only the API makes (authentication, permissions, rate limits, routes): the
    same type as every rule's (`keys_console.errors.Refused`), with explicit `fields`."""

    status = 400
    code = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        fields: dict[str, str] | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, code=code, status=status, headers=headers, retry_after=retry_after)
        self.fields = fields


class InvalidRequest(ApiError):
    status, code = 400, "invalid_request"


class NotAuthenticated(ApiError):
    """401. `code` is one of missing_api_key, invalid_api_key, revoked_api_key, expired_api_key,
    disabled_api_key."""

    status = 401

    def __init__(self, code: str, message: str):
        super().__init__(message, code=code, headers=WWW_AUTHENTICATE)


class PermissionDenied(ApiError):
    status, code = 403, "insufficient_permission"


class IpNotAllowed(ApiError):
    status, code = 403, "ip_not_allowed"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    """The request clashes with the current state (e.g. an invitation already pending)."""

    status, code = 409, "conflict"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message, retry_after=retry_after)


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    error: dict[str, object] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def error_response(
    status: int, code: str, message: str, *, headers: dict | None = None, fields: dict | None = None
) -> HttpResponse:
    """A JSON error response built without the NinjaAPI (for URL-level 404 / 405)."""
    response = JsonResponse(error_body(code, message, fields), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    response.error_code = code  # type: ignore[attr-defined]  # for the request log (keys_console/observability.py)
    return response


# --- django-ninja's validation errors -> field messages ----------------------------------------
_LOCATIONS = {"body", "query", "path", "header", "cookie", "form", "file"}


def _field_name(loc, param_names: AbstractSet[str]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    # A schema parameter (e.g. `payload: QuestionIn`) appears in the location: drop it.
    if parts and parts[0] in param_names:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _message(error: dict) -> str:
    message = str(error.get("msg") or "Invalid value.")
    return message.removeprefix("Value error, ")


def validation_fields(errors: list[dict], param_names: AbstractSet[str] = frozenset({"payload"})) -> dict[str, str]:
    """django-ninja's error list as {"field": "message"} (first message per field)."""
    fields: dict[str, str] = {}
    for error in errors:
        name = _field_name(error.get("loc", ()), param_names)
        message = _message(error)
        if name == "body" and error.get("type") in {"missing", "model_attributes_type", "dict_type"}:
            message = "The body must be a JSON object."
        fields.setdefault(name, message)
    return fields


_HTTP_ERROR_CODES = {
    400: "invalid_request",
    401: "missing_api_key",
    403: "insufficient_permission",
    404: "not_found",
    405: "method_not_allowed",
    429: "rate_limited",
}


def install_error_handlers(api: NinjaAPI) -> None:
    def render(request: HttpRequest, status: int, code: str, message: str, *, headers=None, fields=None):
        response = api.create_response(request, error_body(code, message, fields), status=status)
        for name, value in (headers or {}).items():
            response[name] = value
        response.error_code = code  # type: ignore[attr-defined]  # for the request log
        return response

    @api.exception_handler(Refused)
    def on_refused(request, exc: Refused):
        # THE translation of a refused action to HTTP: the API's own errors and every rule's
        # (invitations, leak reports, keys, questions) alike; no endpoint translates by hand.
        return render(request, exc.status, exc.code, exc.message, headers=exc.headers, fields=exc.fields)

    @api.exception_handler(AuthenticationError)
    def on_no_credentials(request, exc):
        # django-ninja raises this when no auth class found credentials in the request.
        return render(
            request,
            401,
            "missing_api_key",
            "Send your API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
            headers=WWW_AUTHENTICATE,
        )

    @api.exception_handler(AuthorizationError)
    def on_forbidden(request, exc):
        return render(request, 403, "insufficient_permission", str(exc))

    @api.exception_handler(ValidationError)
    def on_validation_error(request, exc: ValidationError):
        return render(
            request,
            400,
            "invalid_request",
            "The request is not valid; see `fields`.",
            fields=validation_fields(exc.errors),
        )

    @api.exception_handler(HttpError)
    def on_http_error(request, exc: HttpError):
        # django-ninja's own HTTP errors, e.g. "Cannot parse request body" (400).
        code = _HTTP_ERROR_CODES.get(exc.status_code, "invalid_request" if exc.status_code < 500 else "server_error")
        message = str(exc)
        if exc.status_code == 400 and "parse request body" in message:
            message = "The request body is not valid JSON."
        return render(request, exc.status_code, code, message)

    @api.exception_handler(Http404)
    def on_not_found(request, exc):
        return render(request, 404, "not_found", "Not found.")

    @api.exception_handler(RequestDataTooBig)
    def on_too_big(request, exc):
        return render(request, 400, "invalid_request", "The request body is too large.")

    @api.exception_handler(SuspiciousOperation)
    def on_suspicious(request, exc):
        return render(request, 400, "invalid_request", "The request was rejected.")

    def on_database_down(request, exc):
        logger.warning("API: database unavailable (%s) on %s %s", type(exc).__name__, request.method, request.path)
        return render(
            request,
            503,
            "service_unavailable",
            "The service is temporarily unavailable; retry shortly.",
            headers={"Retry-After": str(SERVICE_UNAVAILABLE_RETRY_AFTER)},
        )

    api.add_exception_handler(OperationalError, on_database_down)
    api.add_exception_handler(InterfaceError, on_database_down)

    @api.exception_handler(Exception)
    def on_unexpected(request, exc):
        logger.exception("API: unhandled error on %s %s", request.method, request.path)
        return render(request, 500, "server_error", "Something went wrong on our side; it has been logged.")
