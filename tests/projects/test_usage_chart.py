import re
from datetime import timedelta

import pytest
from django.utils import timezone

from keys.models import KeyUsageCount, KeyUsageDay
from keys.usage_chart import HEIGHT, nice_ceiling, usage_chart
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("peak", "scale"), [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (100, 100), (101, 200), (4999, 5000)]
)
def test_scale_rounds_up_to_a_readable_number(peak, scale):
    assert nice_ceiling(peak) == scale


def test_chart_scales_bars_to_a_readable_maximum_and_stacks_outcomes(unlocked_project):
    key = ApiKeyFactory(project=unlocked_project)
    today = timezone.now().date()
    # days counted before the per-outcome rows existed read as 2xx / 4xx / 5xx
    KeyUsageDay.objects.create(api_key=key, day=today, success=70, client_error=20, server_error=10)
    KeyUsageDay.objects.create(api_key=key, day=today - timedelta(days=2), success=50)
    KeyUsageDay.objects.create(api_key=key, day=today - timedelta(days=40), success=999)  # outside 30 days

    chart = usage_chart(key)

    assert len(chart.bars) == 30 and chart.total == 150 and chart.errors == 30
    assert chart.scale_max == 100 and [t.value for t in chart.ticks] == [0, 50, 100]
    busiest, older = chart.bars[-1], chart.bars[-3]
    assert busiest.height == HEIGHT and busiest.y == 0
    heights = {s.group: s.height for s in busiest.segments}
    assert heights == {"success": HEIGHT * 70 // 100, "client": HEIGHT * 20 // 100, "server": HEIGHT * 10 // 100}
    assert busiest.segments[-1].y == 0  # the stack reaches the top of the scale
    assert older.height == HEIGHT // 2 and older.total == 50 and [s.group for s in older.segments] == ["success"]
    assert all(bar.height == 0 for bar in chart.bars[:-3])
    # dates along the axis: every 7th day, ending today
    assert chart.date_labels[-1].day == today and [d.day for d in chart.date_labels][-2] == today - timedelta(days=7)


def test_chart_stacks_the_outcome_groups_of_the_detailed_counts(unlocked_project):
    key = ApiKeyFactory(project=unlocked_project)
    today = timezone.now().date()
    for status, code, count in [
        (200, "", 12),
        (404, "not_found", 3),
        (403, "insufficient_permission", 2),
        (429, "rate_limited", 5),
        (500, "server_error", 1),
    ]:
        KeyUsageCount.objects.create(
            api_key=key,
            project=unlocked_project,
            day=today,
            endpoint="listQuestions",
            status=status,
            code=code,
            count=count,
        )
    KeyUsageDay.objects.create(api_key=key, day=today, success=999)  # the detailed rows win for that day

    chart = usage_chart(key)

    assert chart.bars[-1].counts == {"success": 12, "denied": 2, "limited": 5, "client": 3, "server": 1}
    assert [s.group for s in chart.bars[-1].segments] == ["success", "denied", "limited", "client", "server"]
    assert {item.group: item.total for item in chart.legend}["limited"] == 5 and chart.errors == 11


def test_usage_chart_has_axes_colours_and_a_table_alternative(owner_client, unlocked_project):
    """Finding 9: the usage chart had no axes, dates or scale, and its numbers needed a mouse."""
    key = ApiKeyFactory(project=unlocked_project)
    today = timezone.now().date()
    KeyUsageDay.objects.create(api_key=key, day=today, success=6, client_error=1, server_error=1)
    body = owner_client.get(
        f"/projects/{unlocked_project.slug}/keys/{key.key_id}/", headers={"HX-Request": "true"}
    ).content.decode()
    assert "8 in all, 2 refused or failed<" in body
    assert (
        body.count('class="seg-success"') == 1
        and body.count('class="seg-client"') == 1
        and body.count('class="seg-server"') == 1
    )
    assert re.search(
        r'<svg class="usage-chart"[^>]*role="img" aria-label="8 requests with this key in the last 30 days', body
    )
    # a scale (0 … 10) and date labels
    assert re.search(r'<text class="tick"[^>]*>10</text>', body) and re.search(
        r'<text class="tick"[^>]*>0</text>', body
    )
    assert f">{today:%-d %b}</text>" in body
    assert "Succeeded (2xx, 3xx)" in body and "Other client errors (4xx)" in body and "Server errors (5xx)" in body
    assert 'fill="url(#pat-server-' in body  # a pattern as well as a colour
    # the same numbers as a table, inside a <details> (its summary is reachable by keyboard)
    assert "<summary>Requests per day as a table</summary>" in body
    row = re.search(
        rf'<time datetime="{today:%Y-%m-%d}">[^<]+</time></th><td class="num">6</td><td class="num">0</td>'
        r'<td class="num">0</td><td class="num">1</td><td class="num">1</td><td class="num">8</td>',
        body,
    )
    assert row
    assert body.count('<tr><th scope="row"><time') == 30
