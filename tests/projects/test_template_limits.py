"""Limits shown in pages come from settings and the code that owns them, not from template literals:
the question gate's number (settings.API_KEY_REQUIRED_ACTIVE_QUESTIONS) and the chart's bar width."""

import re

from django.urls import reverse
from django.utils import timezone

from keys import usage_chart
from keys.models import KeyUsageDay
from tests.factories import ApiKeyFactory


def test_locked_tab_and_generate_dialog_name_the_gate_from_settings(owner_client, project, settings):
    settings.API_KEY_REQUIRED_ACTIVE_QUESTIONS = 12
    page = owner_client.get(reverse("project_keys:api_keys", args=[project.slug])).content.decode()
    assert "API keys unlock at <strong>12 active questions</strong>" in page
    dialog = owner_client.get(reverse("project_keys:key_new", args=[project.slug])).content.decode()
    assert "API keys unlock at 12 active questions" in dialog
    assert "10 active questions" not in page + dialog


def test_the_default_gate_still_reads_10_active_questions(owner_client, project):
    page = owner_client.get(reverse("project_keys:api_keys", args=[project.slug])).content.decode()
    assert "<strong>10 active questions</strong>" in page


def test_usage_chart_bars_take_their_width_from_the_module(owner_client, unlocked_project, monkeypatch):
    monkeypatch.setattr(usage_chart, "BAR_WIDTH", 7)
    key = ApiKeyFactory(project=unlocked_project)
    KeyUsageDay.objects.create(api_key=key, day=timezone.now().date(), success=50, client_error=20, server_error=20)
    page = owner_client.get(
        reverse("project_keys:key_detail", args=[unlocked_project.slug, key.key_id])
    ).content.decode()
    widths = set(re.findall(r'<rect class="seg-[a-z]+" [^>]*width="(\d+)"', page))
    assert widths == {"7"} and len(re.findall(r'<rect class="seg-', page)) == 3
