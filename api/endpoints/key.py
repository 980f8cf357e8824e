"""GET /key: what the presented key is (any permission)."""

from ninja import Router

from projects.models.api_key import Status

from .. import clock
from ..schemas import ErrorOut, KeyOut

router = Router(tags=["Key"])


@router.get(
    "/key",
    response={200: KeyOut, 401: ErrorOut, 429: ErrorOut},
    operation_id="getKey",
    summary="Describe the API key used for this request",
)
def get_key(request):
    key = request.auth
    rotating = key.status_at(clock.now()) == Status.ROTATING
    return {
        "id": key.key_id,
        "name": key.name,
        "kind": key.kind,
        "project": {"slug": key.project.slug, "name": key.project.name} if key.project is not None else None,
        "scope": key.access["scope"] if key.is_account_key else None,
        "permissions": key.sorted_permissions,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "stops_at": key.stops_at if rotating else None,
        "rate_limit_per_minute": key.rate_limit,
    }
