"""GET /usage: the project's request counts per day, key, endpoint and outcome (permission "read")."""

from datetime import date
from typing import Literal

from ninja import Field, Query, Router, Schema

from keys.models.api_key import Kind
from keys.usage import period, project_usage_rows

from .. import clock
from ..permissions import require
from ..question_queries import dumps, json_response
from ..schemas import ErrorOut

router = Router(tags=["Usage"])

MAX_DAYS = 90


class UsageKey(Schema):
    id: str = Field(description="The Key ID (`key_…`).")
    name: str
    kind: Literal["project", "account"]


class UsageRow(Schema):
    day: date = Field(description="The UTC day.")
    key: UsageKey
    endpoint: str = Field(description="The operation id of the route, e.g. `listQuestions` (either form of it).")
    status: int = Field(description="The HTTP status answered.")
    code: str | None = Field(description="The error code of a 4xx or 5xx (`rate_limited`, `not_found`, …).")
    count: int


class UsageOut(Schema):
    days: int
    first_day: date
    last_day: date
    items: list[UsageRow]


@router.get(
    "/usage",
    response={200: UsageOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 429: ErrorOut},
    operation_id="getUsage",
    summary="The project's request counts per day, key, endpoint and outcome",
)
def get_usage(request, days: int = Query(7, ge=1, le=MAX_DAYS, description="UTC days, today included.")):
    """Every request of a key that reached the project (its own keys and personal keys), refusals of
    a known key included (`rate_limited`, `ip_not_allowed`, `insufficient_permission`, …), counted
    per UTC day, key, endpoint and outcome. Counts reach the database in batches: the last few
    seconds (at most the flush interval, 10 s by default) may not be in the answer yet."""
    require(request, "read")
    first, last = period(days, clock.now().date())
    items = [
        {
            "day": row["day"].isoformat(),
            "key": {
                "id": row["api_key__key_id"],
                "name": row["api_key__name"],
                "kind": (Kind.ACCOUNT if row["api_key__owner_id"] is not None else Kind.PROJECT).value,
            },
            "endpoint": row["endpoint"],
            "status": row["status"],
            "code": row["code"] or None,
            "count": row["total"],
        }
        for row in project_usage_rows(request.auth.project_id, first, last)
    ]
    return json_response(
        dumps({"days": days, "first_day": first.isoformat(), "last_day": last.isoformat(), "items": items})
    )
