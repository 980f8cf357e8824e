"""The runtime API (`/api/v1/`): a NinjaAPI authenticated by project API keys.

Reference: docs/api.md (routes, error codes, headers), docs/architecture.md. Pieces:
auth.py (keys), permissions.py, ratelimit.py, usage.py (last use, usage counts),
errors.py (the JSON error shape), response_hooks.py (a middleware: headers and bookkeeping on
every response under /api/, JSON 404 / 405), schemas.py, endpoints/ (the routers).
"""

from ninja import NinjaAPI, Swagger

from .auth import API_KEY_AUTH
from .endpoints import invitations, key, questions
from .errors import install_error_handlers

DESCRIPTION = """\
The runtime API of NBQ Keys Console. Authenticate with a project API key, either as
`Authorization: Bearer <key>` or as `X-API-Key: <key>`. A key sees its own project only.

Errors are JSON: `{"error": {"code": "...", "message": "..."}}` (400 responses add `fields`).
401 responses carry `WWW-Authenticate: Bearer`.

Every authenticated response carries `X-RateLimit-Limit` (requests per minute for this key),
`X-RateLimit-Remaining` (left in the current one-minute window) and `X-RateLimit-Reset` (Unix time,
in seconds, at which the window ends). Over the limit: 429 `rate_limited` with `Retry-After` (seconds).
Repeated failed authentication from one client address is throttled the same way (429 `rate_limited`).

Every response carries `Cache-Control: no-store` and `Vary: Authorization, X-API-Key`.
"""


api = NinjaAPI(
    title="NBQ runtime API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=API_KEY_AUTH,
    # Served from the app's own static files; no validator badge (it would call validator.swagger.io).
    docs=Swagger(settings={"validatorUrl": None, "persistAuthorization": False}),
)
install_error_handlers(api)
api.add_router("", key.router)
api.add_router("", questions.router)
api.add_router("", invitations.router)
