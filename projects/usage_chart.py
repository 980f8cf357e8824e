"""A small server-rendered SVG bar chart of a key's requests over the last 30 days."""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from .models import KeyUsageDay

CHART_DAYS = 30
BAR_WIDTH, GAP, HEIGHT = 10, 2, 60


@dataclass(frozen=True)
class Bar:
    day: object
    total: int
    errors: int
    x: int
    y: int
    height: int
    error_height: int

    @property
    def error_y(self) -> int:
        return HEIGHT - self.error_height


@dataclass(frozen=True)
class UsageChart:
    bars: list[Bar]
    total: int
    errors: int
    width: int
    height: int = HEIGHT


def usage_chart(key, *, days: int = CHART_DAYS) -> UsageChart:
    today = timezone.now().date()
    start = today - timedelta(days=days - 1)
    rows = {
        row.day: row
        for row in KeyUsageDay.objects.filter(api_key=key, day__gte=start)
    }
    totals = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        row = rows.get(day)
        total = row.total if row else 0
        errors = (row.client_error + row.server_error) if row else 0
        totals.append((day, total, errors))
    peak = max((t for _, t, _ in totals), default=0) or 1
    bars = []
    for i, (day, total, errors) in enumerate(totals):
        h = round(HEIGHT * total / peak) if total else 0
        eh = round(HEIGHT * errors / peak) if errors else 0
        bars.append(Bar(day=day, total=total, errors=errors, x=i * (BAR_WIDTH + GAP), y=HEIGHT - h, height=h,
                        error_height=eh))
    return UsageChart(bars=bars, total=sum(t for _, t, _ in totals), errors=sum(e for _, _, e in totals),
                      width=days * (BAR_WIDTH + GAP))
