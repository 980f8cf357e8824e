"""The top bar and the phone cards in a real browser (issue 22, Navigation).

- The personal-keys link reads "Personal keys"; a favicon and a wordmark.
- Under 768 px the links fold into a Menu disclosure (<details>), which works without JavaScript;
  from 768 px the links show and there is no Menu button.
- The top bar's focus ring is >= 3:1 against the bar, in both schemes.
- Phone cards on Projects and Members keep their column labels.
"""

import pytest
from playwright.sync_api import expect

from projects.models import Membership, Role
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONTRAST = """([a, b]) => {
    const rgb = (s) => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const lum = (c) => {
        const [r, g, b] = rgb(c).map((v) => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
}"""


@pytest.fixture
def owner(transactional_db):
    owner = UserFactory(email="owner@example.com")
    project = ProjectFactory(owner=owner, name="Demo", slug="demo", active_questions=12)
    Membership.objects.create(project=project, user=UserFactory(email="viewer@example.com"), role=Role.VIEWER)
    return owner


def _links_visible(page) -> bool:
    return page.get_by_role("banner").get_by_role("link", name="Personal keys").is_visible()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_top_bar_folds_into_a_menu_under_768_px(browser, live_server, owner, javascript, screenshot_dir):
    context = browser.new_context(viewport={"width": 390, "height": 800}, java_script_enabled=javascript)
    page = context.new_page()
    try:
        log_in(page, live_server.url, owner.email, PASSWORD)
        bar = page.get_by_role("banner")
        expect(bar.get_by_role("link", name="NBQ Keys Console")).to_be_visible()
        menu = bar.locator("summary", has_text="Menu")
        expect(menu).to_be_visible()
        assert not _links_visible(page)
        assert bar.bounding_box()["height"] < 64  # one line, not three
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        menu.click()
        expect(bar.get_by_role("link", name="Personal keys")).to_be_visible()
        expect(bar.get_by_role("button", name="Log out")).to_be_visible()
        page.screenshot(path=screenshot_dir / f"nav-menu-open-390-{'js' if javascript else 'nojs'}.png")
        for link in bar.locator("nav a").all():
            assert link.bounding_box()["height"] >= 24
        bar.get_by_role("link", name="Personal keys").click()
        page.wait_for_url("**/api-keys/")

        page.set_viewport_size({"width": 768, "height": 800})
        expect(bar.locator("summary")).to_be_hidden()
        expect(bar.get_by_role("link", name="Personal keys")).to_be_visible()
        expect(bar.get_by_role("link", name="Projects")).to_be_visible()
        page.screenshot(path=screenshot_dir / f"nav-bar-768-{'js' if javascript else 'nojs'}.png")
        assert bar.bounding_box()["height"] < 64  # still one line at 768 px
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_top_bar_focus_ring_contrast_favicon_and_wordmark(browser, live_server, owner, scheme):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
    page = context.new_page()
    try:
        log_in(page, live_server.url, owner.email, PASSWORD)
        page.keyboard.press("Tab")  # the skip link
        page.keyboard.press("Tab")  # the wordmark
        focused = page.evaluate("document.activeElement.closest('.topbar') !== null")
        assert focused
        ring, bar = page.evaluate(
            "[getComputedStyle(document.activeElement).outlineColor,"
            " getComputedStyle(document.querySelector('.topbar')).backgroundColor]"
        )
        ratio = page.evaluate(CONTRAST, [ring, bar])
        assert ratio >= 3, f"focus ring {ring} on {bar}: {ratio:.2f}:1"
        assert page.locator(".topbar .brand svg.logo").is_visible()
        icon = page.locator("link[rel=icon]").get_attribute("href")
        response = page.request.get(live_server.url + icon)
        assert response.ok and response.headers["content-type"].startswith("image/svg")
    finally:
        context.close()


def test_phone_cards_keep_their_labels(browser, live_server, owner, screenshot_dir):
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    try:
        log_in(page, live_server.url, owner.email, PASSWORD)

        def labels(table):
            return page.evaluate(
                """(t) => [...t.querySelectorAll('tbody tr:first-child td')].map(
                    (td) => getComputedStyle(td, '::before').content)""",
                table.element_handle(),
            )

        assert labels(page.locator("table").first) == ['"Project"', '"Your role"', '"Active questions"', '"API keys"']
        page.screenshot(path=screenshot_dir / "nav-projects-cards-390.png", full_page=True)
        page.goto(live_server.url + "/projects/demo/members/")
        assert labels(page.locator("#members-table table"))[:3] == ['"Member"', '"Role"', '"Since"']
        page.screenshot(path=screenshot_dir / "nav-members-cards-390.png", full_page=True)
    finally:
        context.close()
