"""A small server-rendered SVG bar chart of a key's requests over the last 30 days."""

from dataclasses import dataclass

from api.usage import usage_last_days

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
    bar_width: int = BAR_WIDTH


def usage_chart(key, *, days: int = CHART_DAYS) -> UsageChart:
    series = usage_last_days(key, days)
    peak = max((d.total for d in series), default=0) or 1
    bars = []
    for i, d in enumerate(series):
        errors = d.client_error + d.server_error
        height = round(HEIGHT * d.total / peak)
        bars.append(Bar(day=d.day, total=d.total, errors=errors, x=i * (BAR_WIDTH + GAP),
                        y=HEIGHT - height, height=height,
                        error_height=round(HEIGHT * errors / peak)))
    return UsageChart(bars=bars, total=sum(d.total for d in series),
                      errors=sum(b.errors for b in bars), width=days * (BAR_WIDTH + GAP), bar_width=BAR_WIDTH)
