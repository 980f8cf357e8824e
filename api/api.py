"""The runtime API (`/api/v1/`): a NinjaAPI authenticated by API keys (project keys and account keys).

Reference: docs/api.md (routes, error codes, headers), docs/architecture.md. Pieces:
auth.py (keys), permissions.py, ratelimit.py, usage.py (last use, usage counts),
errors.py (the JSON error shape), response_hooks.py (a middleware: headers and bookkeeping on
every response under /api/, JSON 404 / 405), schemas.py, endpoints/ (the routers).
"""

import re

from django.http import HttpResponse
from django.urls import register_converter
from ninja import NinjaAPI, Swagger
from ninja.errors import ConfigError
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation

from keys_console.version import VERSION

from .auth import API_KEY_AUTH
from .endpoints import invitations, key, leaks, questions, secret_scanning, usage
from .errors import install_error_handlers

DESCRIPTION = """\
The runtime API of NBQ Keys Console. Authenticate with an API key, either as
`Authorization: Bearer <key>` or as `X-API-Key: <key>`.

Every route exists in two forms: the short one (`/api/v1/questions`) and the project-addressed one
(`/api/v1/projects/{slug}/questions`). A **project key** (made on a project's API Key tab) acts on
its own project only, with either form (another slug: 404). An **account key** (made under
Account → API keys) must use the project-addressed form (the short form answers 400
`project_required`; `GET /api/v1/key` excepted): it acts on the projects of its scope while its
holder is a member there, with no more than their role allows (viewer: read only; 403
`insufficient_permission`), and is refused with 403 `project_locked` by a project with fewer than
10 active questions. A project outside the scope, or not the holder's, is a 404.

A project's **key policy** (its Settings tab) caps every key there at each request: permissions it
does not allow are refused (403 `insufficient_permission`; `GET /api/v1/key` shows the permissions
left); where it asks for approval of personal keys, an account key not approved there is refused
with 403 `key_not_approved`; where it requires two-factor authentication, an account key whose
holder has none is refused with 403 `two_factor_required`.

Errors are JSON: `{"error": {"code": "...", "message": "..."}}` (400 responses add `fields`).
401 responses carry `WWW-Authenticate: Bearer`; their codes: `missing_api_key`, `invalid_api_key`,
`revoked_api_key`, `expired_api_key` and `disabled_api_key` (a key paused in the console: it works
again, unchanged, once enabled).

Every authenticated response carries `X-RateLimit-Limit` (requests per minute for this key),
`X-RateLimit-Remaining` (left in the current one-minute window) and `X-RateLimit-Reset` (Unix time,
in seconds, at which the window ends). Over the limit: 429 `rate_limited` with `Retry-After` (seconds).
Repeated failed authentication from one client address is throttled the same way (429 `rate_limited`).

Every response carries `Cache-Control: no-store` and `Vary: Authorization, X-API-Key`.
"""


class ProjectSlugConverter:
    """A project slug as the model allows it (Django's slug characters, at most 120 of them):
    anything else in `/projects/{slug}/` matches no route and is a 404 `not_found` before the
    request reaches authentication, the database or a cache key."""

    regex = "[-a-zA-Z0-9_]{1,120}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ProjectSlugConverter, "projectslug")
PROJECT_PREFIX = "/projects/{projectslug:slug}"
IN_PROJECT_PATH = re.sub(r"{[^}:]+:", "{", PROJECT_PREFIX) + "/"  # as in an OpenAPI path: "/projects/{slug}/"
UNADDRESSED = {"get_key", "report_leaked", "github_secret_scanning"}  # never answer project_required
SLUG_PARAMETER = {
    "in": "path",
    "name": "slug",
    "required": True,
    "schema": {"type": "string", "title": "Slug", "pattern": "^[-a-zA-Z0-9_]+$", "minLength": 1, "maxLength": 120},
    "description": "The project this request acts on (required for account keys).",
}


class RuntimeSchema(OpenAPISchema):
    """The OpenAPI document with both forms of every route. django-ninja describes each form (the
    routers are mounted twice); the project-addressed copies then get the `slug` path parameter,
    the errors only they can answer and an operationId of their own (`…InProject`)."""

    def __init__(self, *args, **kwargs):
        self._described: dict[int, tuple[dict, Operation]] = {}  # id(details) -> (details, operation)
        super().__init__(*args, **kwargs)

    def get_paths(self):
        paths = super().get_paths()
        described = []  # each operation's details once (an operation of several methods shares them)
        for path, methods in paths.items():
            in_project = IN_PROJECT_PATH in path
            for details in {id(d): d for d in methods.values()}.values():
                described.append(details)
                _, operation = self._described[id(details)]
                if in_project:
                    details["operationId"] += "InProject"
                    details["parameters"] = [SLUG_PARAMETER, *details.get("parameters", [])]
                    _error_response(
                        details,
                        403,
                        "Forbidden (`insufficient_permission`, `project_locked`, `key_not_approved`, "
                        "`two_factor_required`)",
                    )
                    _error_response(details, 404, "Not found (`not_found`: no such project for this key, or object)")
                elif operation.view_func.__name__ not in UNADDRESSED:  # these describe any key, or need none
                    _error_response(details, 400, "Bad request (`project_required`: an account key on the short form)")
        operation_ids = [details["operationId"] for details in described]
        if len(operation_ids) != len(set(operation_ids)):
            raise ConfigError(f"Two operations share an operationId: {sorted(operation_ids)}")
        return paths

    def operation_details(self, operation):
        # Each operation is described once per form: the repeat is not the mistake django-ninja
        # warns of (get_paths gives the in-project form its own operationId, and checks them all).
        self.all_operation_ids.discard(operation.operation_id or self.api.get_openapi_operation_id(operation))
        details = super().operation_details(operation)
        self._described[id(details)] = (details, operation)  # the details kept alive: ids stay unique
        _error_response(details, 500, "Internal server error (`server_error`: a bug on our side, logged)")
        _error_response(
            details,
            503,
            "Service unavailable (`service_unavailable`: the database does not answer); retry after `Retry-After`",
            headers={"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
        )
        return details


def _error_response(details: dict, status: int, description: str, headers: dict | None = None) -> None:
    """Document an error every route (of a form) can answer, in the API's error shape."""
    response: dict = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }
    if headers:
        response["headers"] = headers
    details.setdefault("responses", {}).setdefault(status, response)


class RuntimeApi(NinjaAPI):
    """A NinjaAPI whose OpenAPI document shows both forms of every route (`RuntimeSchema`)."""

    def create_temporal_response(self, request):
        """django-ninja's response for a view to set headers on (made for every request), made
        from empty bytes rather than an empty str, which HttpResponse would encode every time
        (parsing the charset out of its content type): ~2 % of a served GET /key's CPU, so kept
        (docs/performance.md); tests/api/test_library_internals.py compares it with django-ninja's."""
        return HttpResponse(b"", content_type=self.get_content_type())

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return RuntimeSchema(api=self, path_prefix=path_prefix)


api = RuntimeApi(
    title="NBQ runtime API",
    version=VERSION,  # the app's, from the package metadata (keys_console/version.py)
    description=DESCRIPTION,
    urls_namespace="api",
    auth=API_KEY_AUTH,
    # Served from the app's own static files; no validator badge (it would call validator.swagger.io).
    # No deep links: they put a link inside each operation's toggle button (axe: nested-interactive).
    docs=Swagger(settings={"validatorUrl": None, "persistAuthorization": False, "deepLinking": False}),
)
install_error_handlers(api)
# Each router twice: the short form and the project-addressed form (`api.acting` decides the project).
# The routers of the routes a key calls (api.usage names each request by their operation ids).
KEYED_ROUTERS = (key.router, questions.router, invitations.router, usage.router)
for router in KEYED_ROUTERS:
    api.add_router("", router)
    api.add_router(PROJECT_PREFIX, router, url_name_prefix="in-project")
# Reports of leaked keys need no key and name no project: one form each.
api.add_router("", leaks.router)
api.add_router("", secret_scanning.router)
