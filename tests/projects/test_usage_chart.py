from datetime import timedelta

import pytest
from django.utils import timezone

from projects.models import KeyUsageDay
from projects.usage_chart import HEIGHT, usage_chart
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db


def test_chart_scales_bars_to_the_busiest_day_and_counts_errors(unlocked_project):
    key = ApiKeyFactory(project=unlocked_project)
    today = timezone.now().date()
    KeyUsageDay.objects.create(api_key=key, day=today, success=80, client_error=20)
    KeyUsageDay.objects.create(api_key=key, day=today - timedelta(days=2), success=50)
    KeyUsageDay.objects.create(api_key=key, day=today - timedelta(days=40), success=999)  # outside 30 days

    chart = usage_chart(key)

    assert len(chart.bars) == 30 and chart.total == 150 and chart.errors == 20
    busiest, older = chart.bars[-1], chart.bars[-3]
    assert busiest.height == HEIGHT and busiest.y == 0 and busiest.error_height == HEIGHT * 20 // 100
    assert older.height == HEIGHT // 2 and older.total == 50
    assert all(bar.height == 0 for bar in chart.bars[:-3])


def test_details_render_the_chart(owner_client, unlocked_project):
    key = ApiKeyFactory(project=unlocked_project)
    KeyUsageDay.objects.create(api_key=key, day=timezone.now().date(), success=7, server_error=1)
    body = owner_client.get(f"/projects/{unlocked_project.slug}/keys/{key.key_id}/", headers={"HX-Request": "true"}).content.decode()
    assert "8 in all, 1 error<" in body
    assert body.count('class="bar"') == 30 and body.count('class="bar-error"') == 1
    assert 'aria-label="8 requests in the last 30 days"' in body
