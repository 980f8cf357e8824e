"""The API's question reads, each one SQL statement, answered as ready JSON.

The question endpoints are what clients call most, so their reads skip what they do not need:
no model instances (rows go straight to the response's dicts), no ORM compilation per request (the
statements are built once, from the model's own table and column names), no response validation
by pydantic (the JSON is the exact shape and datetime format of `api.schemas.QuestionOut`, which
still documents it in the OpenAPI document: tests/api/test_endpoints.py and test_openapi.py hold
both to it), and never more than one round trip to the database:

- `list_page`: the page and the project's total in ONE statement. The count is a one-row derived
  table LEFT JOINed to the page, so a page past the end still comes back as one row carrying the
  count (and no question). Cheaper than `COUNT(*) OVER ()`, which would read every question of
  the project to count them: here the count is an index-only count and the page a top-N sort.
- `next_question`: the active question of highest priority not yet answered (`LIMIT 1`).
- `get_question`: one question of the project.

Reads run in autocommit (no transaction is opened around them: ATOMIC_REQUESTS is off), so each
costs PostgreSQL exactly one transaction. The statements are plain SQL that PostgreSQL and SQLite
both run; only the "not answered" test differs (`<> ALL(array)` on PostgreSQL).
"""

import json
from datetime import UTC
from functools import cache

from django.db import connection
from django.http import HttpResponse
from django.utils.dateparse import parse_datetime

from projects.models import Question

# The order of the API's lists and of the next question: `Question.Meta.ordering`, and the
# `question_next_idx` index (project, is_active, -priority, id) serves it.
FIELDS = ("id", "text", "priority", "is_active", "created_at", "updated_at")


@cache
def _sql() -> dict[str, str]:
    qn = connection.ops.quote_name
    table = qn(Question._meta.db_table)
    # Concrete fields (and the project's foreign key): each has its column.
    col = {name: qn(Question._meta.get_field(name).column) for name in (*FIELDS, "project")}  # type: ignore[union-attr, arg-type]
    columns = ", ".join(col[name] for name in FIELDS)
    order = f"{col['priority']} DESC, {col['id']} ASC"
    q_columns = ", ".join(f"q.{col[name]}" for name in FIELDS)
    q_order = f"q.{col['priority']} DESC, q.{col['id']} ASC"
    project = f"{col['project']} = %s"
    return {
        "list": (
            f"SELECT c.n, {q_columns} FROM (SELECT COUNT(*) AS n FROM {table} WHERE {project}) AS c "
            f"LEFT JOIN (SELECT {columns} FROM {table} WHERE {project} ORDER BY {order} LIMIT %s OFFSET %s) AS q "
            f"ON 1 = 1 ORDER BY {q_order}"
        ),
        "get": f"SELECT {columns} FROM {table} WHERE {project} AND {col['id']} = %s",
        "next": f"SELECT {columns} FROM {table} WHERE {project} AND {col['is_active']} = %s{{answered}} "
        f"ORDER BY {order} LIMIT 1",
        "not_answered_pg": f" AND {col['id']} <> ALL(%s)",
        "not_answered_in": f" AND {col['id']} NOT IN ({{params}})",
    }


def json_datetime(value) -> str:
    """A datetime as the API has always written it (Django's JSON encoder, which django-ninja uses):
    ISO 8601, milliseconds, `Z` for UTC."""
    if isinstance(value, str):  # SQLite without a declared type on the column
        value = parse_datetime(value)
    if value.tzinfo is None:  # SQLite: stored as UTC without a zone (USE_TZ)
        value = value.replace(tzinfo=UTC)
    text = value.isoformat()
    if value.microsecond:
        text = text[:23] + text[26:]
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text


def _question(row) -> dict:
    pk, text, priority, is_active, created_at, updated_at = row
    return {
        "id": pk,
        "text": text,
        "priority": priority,
        "is_active": bool(is_active),
        "created_at": json_datetime(created_at),
        "updated_at": json_datetime(updated_at),
    }


def dumps(body) -> bytes:
    return json.dumps(body).encode()  # the separators and ASCII escapes of django-ninja's renderer


def json_response(body: bytes) -> HttpResponse:
    """A 200 with ready JSON (django-ninja passes an HttpResponse through untouched)."""
    return HttpResponse(body, content_type="application/json; charset=utf-8")


def _fetch(sql: str, params: list, *, one: bool):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() if one else cursor.fetchall()


def list_page(project_id: int, *, limit: int, offset: int) -> bytes:
    """`{"items": [...], "count": N}` for a page of the project's questions, highest priority first."""
    rows = _fetch(_sql()["list"], [project_id, project_id, limit, offset], one=False)
    count = rows[0][0] if rows else 0
    items = [_question(row[1:]) for row in rows if row[1] is not None]
    return dumps({"items": items, "count": count})


def get_question(project_id: int, question_id: int) -> bytes | None:
    """The question as JSON, or None if the project has no question with this id."""
    row = _fetch(_sql()["get"], [project_id, question_id], one=True)
    return None if row is None else dumps(_question(row))


def next_question(project_id: int, answered: set[int]) -> bytes:
    """`{"question": {...} or null}`: the active question of highest priority not in `answered`
    (ties: the lowest id)."""
    sql = _sql()
    params: list = [project_id, True]
    if not answered:
        clause = ""
    elif connection.vendor == "postgresql":
        clause, params = sql["not_answered_pg"], [*params, sorted(answered)]
    else:
        clause = sql["not_answered_in"].format(params=", ".join(["%s"] * len(answered)))
        params += sorted(answered)
    row = _fetch(sql["next"].format(answered=clause), params, one=True)
    return dumps({"question": None if row is None else _question(row)})
