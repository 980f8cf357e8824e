"""A project's Usage tab (`/projects/<slug>/usage/`): every key that reached the project (its own
keys, and personal keys used there) with its requests, refusals and last use over 7, 30 or 90
days, sortable, a chart of the project's requests per day by outcome, and **Export CSV** (per day,
key, endpoint and outcome; streamed; formula-safe cells as the event log's export).

Every member reads it (viewers too); it changes nothing. A bounded number of queries whatever the
number of keys and days (tests/keys/test_usage_tab.py counts them): the membership, the counts per
key (one aggregate), the keys, the chart (one aggregate).
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from keys.models.api_key import Kind
from keys.usage import (
    USAGE_PERIODS,
    KeyUsageSummary,
    outcome_text,
    period,
    project_key_usage,
    project_outcomes_by_day,
    project_usage_rows,
)
from keys.usage_chart import chart_of
from projects.access import membership_for
from projects.views.events import csv_cell, streamed_csv

PAGE = "keys/usage.html"
DEFAULT_DAYS = 30
CSV_HEADER = ["Day (UTC)", "Key ID", "Key name", "Kind", "Endpoint", "Outcome", "Count"]

# column -> (label, sort key, first direction when chosen)
COLUMNS = {
    "key": ("Key", lambda r: (r.key.name.lower(), r.key.key_id), "asc"),
    "kind": ("Kind", lambda r: (r.key.kind, r.key.name.lower()), "asc"),
    "requests": ("Requests", lambda r: (r.requests, r.key.name.lower()), "desc"),
    "refusals": ("Refused or failed", lambda r: (r.refusals, r.key.name.lower()), "desc"),
    "last_used": (
        "Last use",
        lambda r: (r.key.last_used_at is not None, r.key.last_used_at, r.key.name.lower()),
        "desc",
    ),
}
DEFAULT_SORT = "requests"


@dataclass(frozen=True)
class UsageQuery:
    days: int
    sort: str
    direction: str

    @classmethod
    def from_request(cls, request) -> "UsageQuery":
        try:
            days = int(request.GET.get("days", DEFAULT_DAYS))
        except ValueError:
            days = DEFAULT_DAYS
        if days not in USAGE_PERIODS:
            days = DEFAULT_DAYS
        sort = request.GET.get("sort", DEFAULT_SORT)
        if sort not in COLUMNS:
            sort = DEFAULT_SORT
        direction = request.GET.get("dir", COLUMNS[sort][2])
        if direction not in ("asc", "desc"):
            direction = COLUMNS[sort][2]
        return cls(days, sort, direction)

    def query(self, **change) -> str:
        values = {"days": self.days, "sort": self.sort, "dir": self.direction, **change}
        return "&".join(f"{name}={value}" for name, value in values.items())

    def sort_link(self, column: str) -> str:
        if column == self.sort:
            return self.query(dir="asc" if self.direction == "desc" else "desc")
        return self.query(sort=column, dir=COLUMNS[column][2])

    def aria_sort(self, column: str) -> str | None:
        if column != self.sort:
            return None
        return "ascending" if self.direction == "asc" else "descending"

    def ordered(self, rows: list[KeyUsageSummary]) -> list[KeyUsageSummary]:
        return sorted(rows, key=COLUMNS[self.sort][1], reverse=self.direction == "desc")


@login_required
@require_GET
def usage(request, slug):
    membership = membership_for(request, slug)
    project = membership.project
    query = UsageQuery.from_request(request)
    rows = query.ordered(project_key_usage(project, query.days))
    context = {
        "membership": membership,
        "project": project,
        "tab": "usage",
        "query": query,
        "rows": rows,
        "totals": {"requests": sum(r.requests for r in rows), "refusals": sum(r.refusals for r in rows)},
        "chart": chart_of(project_outcomes_by_day(project, query.days), uid="project"),
        "periods": [{"days": d, "href": "?" + query.query(days=d), "current": d == query.days} for d in USAGE_PERIODS],
        "columns": [
            {"name": name, "label": label, "href": "?" + query.sort_link(name), "aria": query.aria_sort(name)}
            for name, (label, _, _) in COLUMNS.items()
        ],
        "now": timezone.now(),
        "flush_seconds": settings.API_USAGE_FLUSH_SECONDS,
    }
    if request.htmx:
        return render(request, PAGE + "#usage-body", context)
    return render(request, PAGE, context)


def csv_row(row: dict) -> list[str]:
    kind = Kind.ACCOUNT if row["api_key__owner_id"] is not None else Kind.PROJECT
    return [
        csv_cell(v)
        for v in (
            row["day"].isoformat(),
            row["api_key__key_id"],
            row["api_key__name"],
            kind.value,
            row["endpoint"],
            outcome_text(row["status"], row["code"]),
            row["total"],
        )
    ]


@login_required
@require_GET
def usage_csv(request, slug):
    """Export CSV: the project's counts per day, key, endpoint and outcome over the period the tab
    shows, streamed like the event log's export (`streamed_csv`); every cell through its `csv_cell`."""
    membership = membership_for(request, slug)
    project = membership.project
    query = UsageQuery.from_request(request)
    first, last = period(query.days)
    rows = project_usage_rows(project.pk, first, last)

    filename = f"{project.slug}-usage-{first:%Y%m%d}-{last:%Y%m%d}.csv"
    return streamed_csv(CSV_HEADER, rows, csv_row, filename=filename)
