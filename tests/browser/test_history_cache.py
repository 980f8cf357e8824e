"""Finding 7 (htmx history) in Chromium: after htmx navigations that push URLs (the event-log
filter), no page snapshot is in sessionStorage / localStorage (htmx's history cache)."""

import pytest

from tests.browser.conftest import log_in
from tests.factories import PASSWORD, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STORAGE = "() => [sessionStorage.getItem('htmx-history-cache'), localStorage.getItem('htmx-history-cache')]"


def test_project_pages_are_not_kept_in_browser_storage(browser, live_server):
    owner = UserFactory(email="history@example.com")
    project = ProjectFactory(owner=owner, name="Secret plans", slug="secret", active_questions=10)
    context = browser.new_context(bypass_csp=True)  # page.evaluate reads the storage
    page = context.new_page()
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.slug}/events/")
    page.evaluate("() => { window.__marker = 1; }")
    for kind in page.locator("#filter-kind option").all()[1:3]:
        value = kind.get_attribute("value")
        with page.expect_response(lambda r: "/events/" in r.url and "kind=" in r.url):
            page.select_option("#filter-kind", value)
        page.wait_for_url(f"**kind={value}**")
    assert page.evaluate("() => window.__marker") == 1  # htmx swapped and pushed; no page load
    assert page.evaluate(STORAGE) == [None, None]
    page.go_back()
    page.wait_for_url("**kind=**")
    assert page.evaluate(STORAGE) == [None, None]
    context.close()
