"""Per-endpoint permissions of API keys: `require(request, "read")` at the top of a view."""

from .errors import PermissionDenied
from .request import ApiRequest


def require(request: ApiRequest, permission: str) -> None:
    key = request.auth
    if not key.has_permission(permission):
        raise PermissionDenied(
            f"This API key lacks the “{permission}” permission. Its permissions: {', '.join(key.sorted_permissions)}."
        )
