"""Finding 7 (htmx history): pages with project data or key material never enter htmx's history
cache, which lives in browser storage and outlives a logout."""

import json
import re

import pytest
from django.urls import reverse

from tests.factories import ApiKeyFactory
from tests.urls import project_url

pytestmark = pytest.mark.django_db


def _htmx_config(html: str) -> dict:
    match = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", html)
    assert match, "no htmx-config meta"
    return json.loads(match.group(1))


@pytest.mark.parametrize("page", ["questions", "members", "api_keys", "events", "key_detail", "key_new"])
def test_project_pages_opt_out_of_htmx_history(owner_client, unlocked_project, page):
    key = ApiKeyFactory(project=unlocked_project)
    args = [unlocked_project.slug] + ([key.key_id] if page == "key_detail" else [])
    response = owner_client.get(project_url(page, args=args))
    assert response.status_code == 200
    html = response.content.decode()
    assert _htmx_config(html)["historyCacheSize"] == 0
    assert 'hx-history="false"' in html


def test_every_console_page_turns_the_history_cache_off(owner_client):
    html = owner_client.get(reverse("projects:list")).content.decode()
    assert _htmx_config(html)["historyCacheSize"] == 0
