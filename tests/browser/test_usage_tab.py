"""The project's Usage tab in a real browser (issue #31): sorting by a column header (htmx swaps
the body and pushes the URL; the sorted column says so with aria-sort), the period links, and
axe-core with no violation at 390 and 1280 px in both colour schemes, on the tab (its table
alternative open) and on a key's Details with the per-endpoint table and last addresses."""

import re
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from keys.models import ApiKey, KeyAddress, KeyUsageCount
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, ApiKeyFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEIGHT = 900
OUTCOMES = [
    ("listQuestions", 200, ""),
    ("getQuestion", 404, "not_found"),
    ("createQuestion", 403, "insufficient_permission"),
    ("listQuestions", 429, "rate_limited"),
    ("listQuestions", 500, "server_error"),
]


@pytest.fixture
def owner(transactional_db):
    return UserFactory(email="usage.owner@example.com")


@pytest.fixture
def project(owner):
    project = ProjectFactory(owner=owner, name="Usage demo", slug="usage-demo", active_questions=12)
    today = timezone.now().date()
    now = timezone.now()
    for i, (name, scale) in enumerate([("Charlie import", 3), ("Alpha web app", 40), ("Bravo reports", 9)]):
        key = ApiKeyFactory(project=project, name=name, permissions=["read"])
        ApiKey.objects.filter(pk=key.pk).update(
            last_used_at=now - timedelta(minutes=5 * (i + 1)),
            last_used_ip="203.0.113.7",
            last_used_user_agent="python-httpx/0.28.1",
        )
        KeyAddress.objects.create(api_key=key, address="2001:db8::7", user_agent="curl/8.5.0", last_seen=now)
        KeyUsageCount.objects.bulk_create(
            KeyUsageCount(
                api_key=key,
                project=project,
                day=today - timedelta(days=d),
                endpoint=e,
                status=s,
                code=c,
                count=max(1, scale * (1 + (d * 7 + s) % 5) // (1 if s == 200 else 4)),
            )
            for d in range(0, 90, 2)
            for e, s, c in OUTCOMES
        )
    return project


def names_in_order(page) -> list[str]:
    return page.locator("table.usage-keys tbody th bdi").all_inner_texts()


def test_sorting_by_a_column_header_swaps_the_table_and_keeps_the_url(browser, live_server, owner, project):
    context = browser.new_context(viewport={"width": 1280, "height": HEIGHT})
    page = context.new_page()
    try:
        log_in(page, live_server.url, owner.email, PASSWORD)
        page.goto(f"{live_server.url}/projects/{project.slug}/usage/")
        expect(page.get_by_role("link", name="Usage", exact=True)).to_have_attribute("aria-current", "page")
        assert names_in_order(page) == ["Alpha web app", "Bravo reports", "Charlie import"]  # most requests first
        page.get_by_role("link", name="Key", exact=True).click()
        expect(page).to_have_url(f"{live_server.url}/projects/{project.slug}/usage/?days=30&sort=key&dir=asc")
        expect(page.locator("th[aria-sort='ascending']")).to_contain_text("Key")
        assert names_in_order(page) == ["Alpha web app", "Bravo reports", "Charlie import"]
        page.get_by_role("link", name="Key", exact=True).click()  # again: the other way
        expect(page.locator("th[aria-sort='descending']")).to_contain_text("Key")
        assert names_in_order(page) == ["Charlie import", "Bravo reports", "Alpha web app"]
        page.get_by_role("link", name="Last use", exact=True).click()  # the most recent use first
        expect(page.locator("th[aria-sort='descending']")).to_contain_text("Last use")
        assert names_in_order(page) == ["Charlie import", "Alpha web app", "Bravo reports"]
        page.get_by_role("link", name="90 days").click()
        expect(page.get_by_role("link", name="90 days")).to_have_attribute("aria-current", "page")
        expect(page).to_have_url(f"{live_server.url}/projects/{project.slug}/usage/?days=90&sort=last_used&dir=desc")
        # relative times, with the date in a tooltip
        first_use = page.locator("table.usage-keys tbody time").first
        expect(first_use).to_have_text("5 minutes ago")
        expect(first_use).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$"))
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_on_the_usage_tab_and_key_details(browser, live_server, owner, project, scheme):
    context = browser.new_context(viewport={"width": 1280, "height": HEIGHT}, color_scheme=scheme, bypass_csp=True)
    page = context.new_page()
    axe = Axe()
    reports = []

    def check(what):
        results = axe.run(page)
        if results.violations_count:
            reports.append(f"--- {what} ({scheme})\n" + results.generate_report())

    try:
        log_in(page, live_server.url, owner.email, PASSWORD)
        key = ApiKey.objects.get(name="Alpha web app")
        for width in (390, 1280):
            page.set_viewport_size({"width": width, "height": HEIGHT})
            page.goto(f"{live_server.url}/projects/{project.slug}/usage/?days=90")
            sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert sizes[0] <= sizes[1], (width, sizes)
            page.get_by_text("Requests per day as a table").click()
            expect(page.locator("details.usage-table table")).to_be_visible()
            check(f"usage tab at {width} px")
            page.goto(f"{live_server.url}/projects/{project.slug}/keys/{key.key_id}/")
            expect(page.locator("table.endpoint-usage")).to_contain_text("listQuestions")
            expect(page.get_by_text("python-httpx/0.28.1").first).to_be_visible()
            sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert sizes[0] <= sizes[1], (width, sizes)
            check(f"key details at {width} px")
        assert not reports, "\n".join(reports)
    finally:
        context.close()
