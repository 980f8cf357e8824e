"""A small server-rendered SVG chart of a key's requests over the last 30 days.

Stacked bars per UTC day (success, client errors, server errors, each its own colour), a scale
on the left rounded to a readable number, dates along the bottom. The template also renders the
same numbers as a table, the text alternative for keyboard and screen-reader users.
"""

from dataclasses import dataclass
from datetime import date

from keys.usage import usage_last_days

CHART_DAYS = 30
BAR_WIDTH, GAP = 10, 3
HEIGHT = 80  # the plot area; the bars' coordinates are inside it
LEFT, TOP, BOTTOM, RIGHT = 40, 8, 20, 18  # room for the scale, its top label and the dates
LABEL_EVERY = 7  # days between date labels


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, … that is at least `value` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


@dataclass(frozen=True)
class Bar:
    day: date
    total: int
    success: int
    client_error: int
    server_error: int
    x: int
    y: int  # top of the whole stack
    height: int
    success_height: int
    client_height: int
    server_height: int

    @property
    def errors(self) -> int:
        return self.client_error + self.server_error

    @property
    def error_height(self) -> int:
        return self.client_height + self.server_height

    # Stack from the bottom: success, then client errors, then server errors.
    @property
    def success_y(self) -> int:
        return HEIGHT - self.success_height

    @property
    def client_y(self) -> int:
        return self.success_y - self.client_height

    @property
    def server_y(self) -> int:
        return self.client_y - self.server_height


@dataclass(frozen=True)
class Tick:
    value: int
    y: int


@dataclass(frozen=True)
class DateLabel:
    day: date
    x: int


@dataclass(frozen=True)
class UsageChart:
    bars: list[Bar]
    total: int
    errors: int
    scale_max: int
    ticks: list[Tick]
    date_labels: list[DateLabel]
    plot_width: int
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    bar_width: int = BAR_WIDTH

    @property
    def width(self) -> int:
        return LEFT + self.plot_width + RIGHT

    @property
    def full_height(self) -> int:
        return TOP + HEIGHT + BOTTOM

    @property
    def first_day(self) -> date:
        return self.bars[0].day

    @property
    def last_day(self) -> date:
        return self.bars[-1].day


def _scaled(count: int, scale_max: int) -> int:
    return round(HEIGHT * count / scale_max)


def usage_chart(key, *, days: int = CHART_DAYS) -> UsageChart:
    series = usage_last_days(key, days)
    scale_max = nice_ceiling(max((d.total for d in series), default=0))
    bars = []
    for i, d in enumerate(series):
        client = _scaled(d.client_error, scale_max)
        server = _scaled(d.server_error, scale_max)
        height = _scaled(d.total, scale_max)
        success = max(height - client - server, 0)
        bars.append(
            Bar(
                day=d.day,
                total=d.total,
                success=d.success,
                client_error=d.client_error,
                server_error=d.server_error,
                x=i * (BAR_WIDTH + GAP),
                y=HEIGHT - height,
                height=height,
                success_height=success,
                client_height=client,
                server_height=server,
            )
        )
    ticks = [Tick(value=v, y=HEIGHT - _scaled(v, scale_max)) for v in sorted({0, scale_max // 2, scale_max})]
    last = len(bars) - 1
    date_labels = [
        DateLabel(day=b.day, x=b.x + BAR_WIDTH // 2) for i, b in enumerate(bars) if (last - i) % LABEL_EVERY == 0
    ]
    return UsageChart(
        bars=bars,
        total=sum(d.total for d in series),
        errors=sum(b.errors for b in bars),
        scale_max=scale_max,
        ticks=ticks,
        date_labels=date_labels,
        plot_width=days * (BAR_WIDTH + GAP) - GAP,
        bar_width=BAR_WIDTH,
    )
