"""GET /key: what the presented key is (any permission)."""

from ninja import Router

from keys.models.api_key import Status

from .. import clock
from ..question_queries import dumps, json_datetime, json_response
from ..schemas import ErrorOut, KeyOut

router = Router(tags=["Key"])


@router.get(
    "/key",
    response={200: KeyOut, 401: ErrorOut, 429: ErrorOut},
    operation_id="getKey",
    summary="Describe the API key used for this request",
)
def get_key(request):
    """The JSON is written directly, in KeyOut's field order and django-ninja's format (the OpenAPI
    document still describes KeyOut); tests/api/test_key_json.py compares it with the schema path."""
    return json_response(dumps(key_body(request.auth)))


def key_body(key) -> dict:
    """GET /key's body as KeyOut would serialise it (datetimes as django-ninja writes them)."""
    rotating = key.status_at(clock.now()) == Status.ROTATING
    return {
        "id": key.key_id,
        "name": key.name,
        "kind": key.kind,
        "project": {"slug": key.project.slug, "name": key.project.name} if key.project is not None else None,
        "scope": key.access["scope"] if key.is_account_key else None,
        "permissions": key.sorted_permissions,
        "created_at": json_datetime(key.created_at),
        "expires_at": _optional_datetime(key.expires_at),
        "stops_at": _optional_datetime(key.stops_at) if rotating else None,
        "rate_limit_per_minute": key.rate_limit,
    }


def _optional_datetime(value):
    return None if value is None else json_datetime(value)
