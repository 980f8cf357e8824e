"""A small server-rendered SVG chart of requests per UTC day, stacked by outcome.

Stacked bars per day, one segment per outcome group (`keys.usage.OUTCOME_GROUPS`: succeeded,
refused for the key or its permission, rate limited, other client errors, server errors), each
with its own colour AND its own pattern (`templates/keys/_usage_chart.html`), so the chart reads
without colour; a scale on the left rounded to a readable number, dates along the bottom. The
template also renders the same numbers as a table, the text alternative for keyboard and
screen-reader users. Used for a key's Details (30 days) and a project's Usage tab (7, 30 or 90).
"""

from dataclasses import dataclass
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from keys.usage import OUTCOME_GROUPS, OutcomeDay, key_outcomes_by_day

CHART_DAYS = 30
BAR_WIDTH, GAP = 10, 3  # up to a month of days
WIDE_BAR_WIDTH, WIDE_GAP = 4, 1  # longer periods (the Usage tab's 90 days)
LABEL_EVERY, WIDE_LABEL_EVERY = 7, 14  # days between date labels
HEIGHT = 80  # the plot area; the bars' coordinates are inside it
LEFT, TOP, BOTTOM, RIGHT = 40, 8, 20, 18  # room for the scale, its top label and the dates
GROUP_LABELS = dict(OUTCOME_GROUPS)


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, … that is at least `value` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


@dataclass(frozen=True)
class Segment:
    group: str  # an outcome group (keys.usage.OUTCOME_GROUPS)
    count: int
    y: int
    height: int


@dataclass(frozen=True)
class Bar:
    day: date
    total: int
    counts: dict[str, int]  # outcome group -> requests (every group)
    segments: list[Segment]  # the visible ones, bottom up
    x: int
    y: int  # top of the whole stack
    height: int

    @property
    def errors(self) -> int:
        return self.total - self.counts.get("success", 0)

    @property
    def cells(self) -> list[int]:
        """The day's counts in OUTCOME_GROUPS' order (the table alternative's cells)."""
        return [self.counts.get(group, 0) for group, _ in OUTCOME_GROUPS]


@dataclass(frozen=True)
class Tick:
    value: int
    y: int


@dataclass(frozen=True)
class DateLabel:
    day: date
    x: int


@dataclass(frozen=True)
class Legend:
    group: str
    label: str
    total: int


@dataclass(frozen=True)
class UsageChart:
    uid: str  # makes the patterns' ids unique on a page that shows several charts
    bars: list[Bar]
    total: int
    errors: int
    scale_max: int
    ticks: list[Tick]
    date_labels: list[DateLabel]
    plot_width: int
    bar_width: int
    legend: list[Legend]
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP

    @property
    def days(self) -> int:
        return len(self.bars)

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

    # The bars and the table's rows are many small elements (90 days × 5 outcomes on the Usage
    # tab): written here in one pass rather than by template loops, which cost ~10× as much.
    # Only numbers, dates and the uid (escaped) go into them.
    def bars_svg(self) -> SafeString:
        uid, width, parts = escape(self.uid), self.bar_width, []
        for bar in self.bars:
            for seg in bar.segments:
                box = f'x="{bar.x}" y="{seg.y}" width="{width}" height="{seg.height}"'
                parts.append(f'<rect class="seg-{seg.group}" {box}/>')
                if seg.group != "success":
                    parts.append(f'<rect class="hatch-fill" fill="url(#pat-{seg.group}-{uid})" {box}/>')
        return mark_safe("".join(parts))

    def table_rows(self) -> SafeString:
        """The table alternative's rows, the newest day first (numbers grouped: 1,234)."""
        rows = []
        for bar in reversed(self.bars):
            cells = "".join(f'<td class="num">{n:,}</td>' for n in bar.cells)
            rows.append(
                f'<tr><th scope="row"><time datetime="{bar.day:%Y-%m-%d}">{bar.day:%a} {bar.day.day} {bar.day:%b}'
                f'</time></th>{cells}<td class="num">{bar.total:,}</td></tr>'
            )
        return mark_safe("".join(rows))


def _scaled(count: int, scale_max: int) -> int:
    return round(HEIGHT * count / scale_max)


def chart_of(series: list[OutcomeDay], *, uid: str) -> UsageChart:
    """The chart of a series of days (oldest first)."""
    days = len(series)
    wide = days > 31
    bar_width, gap = (WIDE_BAR_WIDTH, WIDE_GAP) if wide else (BAR_WIDTH, GAP)
    label_every = WIDE_LABEL_EVERY if wide else LABEL_EVERY
    scale_max = nice_ceiling(max((d.total for d in series), default=0))
    bars = []
    for i, d in enumerate(series):
        segments, top = [], HEIGHT
        # each segment's top edge is the rounded running total, so the stack's height is exact
        running = 0
        for group, _ in OUTCOME_GROUPS:
            count = d.groups.get(group, 0)
            if not count:
                continue
            running += count
            new_top = HEIGHT - _scaled(running, scale_max)
            if top - new_top > 0:
                segments.append(Segment(group=group, count=count, y=new_top, height=top - new_top))
            top = new_top
        bars.append(
            Bar(
                day=d.day,
                total=d.total,
                counts=dict(d.groups),
                segments=segments,
                x=i * (bar_width + gap),
                y=top,
                height=HEIGHT - top,
            )
        )
    ticks = [Tick(value=v, y=HEIGHT - _scaled(v, scale_max)) for v in sorted({0, scale_max // 2, scale_max})]
    last = len(bars) - 1
    date_labels = [
        DateLabel(day=b.day, x=b.x + bar_width // 2) for i, b in enumerate(bars) if (last - i) % label_every == 0
    ]
    legend = [
        Legend(group=group, label=label, total=sum(d.groups.get(group, 0) for d in series))
        for group, label in OUTCOME_GROUPS
    ]
    total = sum(d.total for d in series)
    return UsageChart(
        uid=uid,
        bars=bars,
        total=total,
        errors=total - legend[0].total,
        scale_max=scale_max,
        ticks=ticks,
        date_labels=date_labels,
        plot_width=days * (bar_width + gap) - gap,
        bar_width=bar_width,
        legend=legend,
    )


def usage_chart(key, *, days: int = CHART_DAYS) -> UsageChart:
    """A key's requests per day over the last `days` days, by outcome (in every project)."""
    return chart_of(key_outcomes_by_day(key, days), uid=key.key_id)
