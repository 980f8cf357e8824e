"""Reading usage for the console and the API: a key's requests per day (the chart, by outcome),
per endpoint, its last addresses and, for a personal key, per project; a project's usage per key,
day, endpoint and outcome (the Usage tab, its CSV, `GET /api/v1/usage`). The counts are written by
the runtime API (api/usage.py) in batches: what a process counted in the last
API_USAGE_FLUSH_SECONDS appears after its next flush."""

from datetime import date, timedelta
from typing import NamedTuple

from django.db.models import Q, Sum
from django.utils import timezone

from .models import ApiKey, KeyAddress, KeyProjectUsageDay, KeyUsageCount, KeyUsageDay


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


# --- per endpoint and outcome (KeyUsageCount) ---------------------------------------------------
# The outcome groups a chart stacks, bottom up: (group, legend label). Each also has a pattern in
# the chart (templates/keys/_usage_patterns.html), so the chart reads without colour.
OUTCOME_GROUPS = (
    ("success", "Succeeded (2xx, 3xx)"),
    ("denied", "Refused: key or permission (401, 403)"),
    ("limited", "Rate limited (429)"),
    ("client", "Other client errors (4xx)"),
    ("server", "Server errors (5xx)"),
)
USAGE_PERIODS = (7, 30, 90)  # the Usage tab's choices of days


def outcome_group(status: int) -> str:
    if status < 400:
        return "success"
    if status >= 500:
        return "server"
    if status == 429:
        return "limited"
    if status in (401, 403):
        return "denied"
    return "client"


def outcome_text(status: int, code: str) -> str:
    """An outcome as the CSV, the tables and the API's clients read it: "200", "404 not_found"."""
    return f"{status} {code}" if code else str(status)


def period(days: int, today: date | None = None) -> tuple[date, date]:
    """The first and last UTC day of the last `days` days, today included."""
    today = today or timezone.now().date()
    return today - timedelta(days=days - 1), today


class OutcomeDay(NamedTuple):
    day: date
    groups: dict[str, int]  # outcome group -> requests

    @property
    def total(self) -> int:
        return sum(self.groups.values())


def _days_of(rows, first: date, days: int) -> list[OutcomeDay]:
    by_day: dict[date, dict[str, int]] = {}
    for day, status, count in rows:
        groups = by_day.setdefault(day, dict.fromkeys((g for g, _ in OUTCOME_GROUPS), 0))
        groups[outcome_group(status)] += count
    result = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        result.append(OutcomeDay(day, by_day.get(day) or dict.fromkeys((g for g, _ in OUTCOME_GROUPS), 0)))
    return result


def key_outcomes_by_day(key: ApiKey, days: int = 30, *, today: date | None = None) -> list[OutcomeDay]:
    """A key's requests per UTC day (oldest first, ending today) by outcome group, in every
    project. Days counted before the per-outcome counts existed come from KeyUsageDay's classes
    (2xx/3xx, 4xx, 5xx). Two queries."""
    first, last = period(days, today)
    rows = list(
        KeyUsageCount.objects.filter(api_key=key, day__gte=first, day__lte=last)
        .values_list("day", "status")
        .annotate(n=Sum("count"))
        .order_by()
    )
    detailed = {day for day, _, _ in rows}
    for old in KeyUsageDay.objects.filter(api_key=key, day__gte=first, day__lte=last).exclude(day__in=detailed):
        rows += [(old.day, 200, old.success), (old.day, 400, old.client_error), (old.day, 500, old.server_error)]
    return _days_of(rows, first, days)


class EndpointUsage(NamedTuple):
    endpoint: str
    total: int
    succeeded: int
    outcomes: list[tuple[str, int]]  # ("200", 12), ("404 not_found", 3), ... most first

    @property
    def refused(self) -> int:
        return self.total - self.succeeded


def key_usage_by_endpoint(key: ApiKey, days: int = 30, *, today: date | None = None) -> list[EndpointUsage]:
    """A key's requests per endpoint (operation id) and outcome over the last `days` days. One query."""
    first, last = period(days, today)
    rows = (
        KeyUsageCount.objects.filter(api_key=key, day__gte=first, day__lte=last)
        .values_list("endpoint", "status", "code")
        .annotate(n=Sum("count"))
        .order_by()
    )
    by_endpoint: dict[str, list[tuple[int, str, int]]] = {}
    for endpoint, status, code, n in rows:
        by_endpoint.setdefault(endpoint, []).append((status, code, n))
    result = []
    for endpoint, outcomes in by_endpoint.items():
        outcomes.sort(key=lambda o: (-o[2], o[0], o[1]))
        result.append(
            EndpointUsage(
                endpoint=endpoint,
                total=sum(n for _, _, n in outcomes),
                succeeded=sum(n for status, _, n in outcomes if status < 400),
                outcomes=[(outcome_text(status, code), n) for status, code, n in outcomes],
            )
        )
    return sorted(result, key=lambda e: (-e.total, e.endpoint))


def recent_addresses(key: ApiKey) -> list[KeyAddress]:
    """The last few distinct client addresses the key was used from, the latest first."""
    return list(KeyAddress.objects.filter(api_key=key).order_by("-last_seen", "-id"))


# --- a project's usage: the Usage tab, its CSV, GET /api/v1/usage -------------------------------
def project_usage_rows(project_id: int, first: date, last: date):
    """The project's counts per day, key, endpoint and outcome (every key that reached the project:
    its own keys and personal keys), as dicts: day, key_id, key_name, owner_id (None: a project
    key), endpoint, status, code, count. Ordered by day, key, endpoint, outcome. One query."""
    return (
        KeyUsageCount.objects.filter(project_id=project_id, day__gte=first, day__lte=last)
        .values("day", "api_key__key_id", "api_key__name", "api_key__owner_id", "endpoint", "status", "code")
        .annotate(total=Sum("count"))
        .order_by("day", "api_key__key_id", "endpoint", "status", "code")
    )


class KeyUsageSummary(NamedTuple):
    key: ApiKey
    requests: int
    refusals: int  # 4xx and 5xx

    @property
    def last_used_at(self):
        return self.key.last_used_at


def project_key_usage(project, days: int, *, today: date | None = None) -> list[KeyUsageSummary]:
    """Every key that reached the project in the last `days` days, and every key of the project,
    with its requests and refusals there. Two queries, whatever the number of keys and days."""
    first, last = period(days, today)
    per_key = {
        row["api_key"]: row
        for row in KeyUsageCount.objects.filter(project=project, day__gte=first, day__lte=last)
        .values("api_key")
        .annotate(requests=Sum("count"), refusals=Sum("count", filter=Q(status__gte=400)))
        .order_by()
    }
    keys = ApiKey.objects.filter(Q(project=project) | Q(pk__in=list(per_key))).select_related("owner")
    empty: dict[str, int] = {}
    return [
        KeyUsageSummary(
            key=key,
            requests=per_key.get(key.pk, empty).get("requests") or 0,
            refusals=per_key.get(key.pk, empty).get("refusals") or 0,
        )
        for key in keys
    ]


def project_outcomes_by_day(project, days: int, *, today: date | None = None) -> list[OutcomeDay]:
    """The project's requests per UTC day by outcome group (all keys). One query."""
    first, last = period(days, today)
    rows = (
        KeyUsageCount.objects.filter(project=project, day__gte=first, day__lte=last)
        .values_list("day", "status")
        .annotate(n=Sum("count"))
        .order_by()
    )
    return _days_of(rows, first, days)
