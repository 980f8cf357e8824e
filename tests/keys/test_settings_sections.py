"""The Settings tab's sections (keys/settings_sections.py): keys renders the tab, the apps above
it add their sections (webhooks: Webhooks), so keys names none of their templates or URLs."""

import pytest
from django.urls import reverse

from keys import settings_sections


@pytest.fixture
def registry(monkeypatch):
    """The registry, restored after the test."""
    monkeypatch.setattr(settings_sections, "_SECTIONS", dict(settings_sections._SECTIONS))
    return settings_sections


def test_sections_are_in_their_order_whoever_registers_first(registry):
    assert registry.sections() == ["webhooks/_settings_section.html"]  # webhooks/apps.py
    registry.register("a/late.html", order=30)
    registry.register("an/early.html", order=5)
    assert registry.sections() == ["an/early.html", "webhooks/_settings_section.html", "a/late.html"]


@pytest.mark.django_db
def test_the_settings_tab_shows_the_registered_sections_below_the_key_policy(owner_client, unlocked_project, registry):
    url = reverse("project_settings:settings", args=[unlocked_project.slug])
    html = owner_client.get(url).content.decode()
    assert html.index('id="key-policy"') < html.index('id="webhooks-title"') and "Add endpoint" in html
    registry._SECTIONS.clear()  # as if webhooks were not installed
    html = owner_client.get(url).content.decode()
    assert 'id="key-policy"' in html and 'id="webhooks"' not in html and "Add endpoint" not in html
