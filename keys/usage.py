"""Reading a key's usage for the console: its requests per day (the chart) and, for a personal
key, per project. The counts are written by the runtime API (api/usage.py) in batches."""

from datetime import date, timedelta
from typing import NamedTuple

from django.db.models import Sum
from django.utils import timezone

from .models import ApiKey, KeyProjectUsageDay, KeyUsageDay


class UsageDay(NamedTuple):
    day: date
    total: int
    success: int
    client_error: int
    server_error: int


def usage_last_days(key: ApiKey, days: int = 30, *, today: date | None = None) -> list[UsageDay]:
    """One entry per UTC day, oldest first, ending today; days without requests are zeros.

    Reads the database only: counts still buffered in a process (at most
    API_USAGE_FLUSH_SECONDS old) appear after its next flush.
    """
    today = today or timezone.now().date()
    first = today - timedelta(days=days - 1)
    stored = {row.day: row for row in KeyUsageDay.objects.filter(api_key=key, day__gte=first, day__lte=today)}
    result = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        row = stored.get(day)
        if row is None:
            result.append(UsageDay(day, 0, 0, 0, 0))
        else:
            result.append(UsageDay(day, row.total, row.success, row.client_error, row.server_error))
    return result


def usage_by_project(key: ApiKey, days: int = 30, *, today: date | None = None) -> list[tuple[str, int]]:
    """An account key's requests per project over the last `days` days: [(project name, requests)]."""
    today = today or timezone.now().date()
    rows = (
        KeyProjectUsageDay.objects.filter(api_key=key, day__gte=today - timedelta(days=days - 1), day__lte=today)
        .values("project__name")
        .annotate(total=Sum("requests"))
        .order_by("-total", "project__name")
    )
    return [(row["project__name"], row["total"]) for row in rows]
