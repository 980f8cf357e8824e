"""The key list at 390, 768, 1280 and 1440 px, light and dark: a 64-character name without spaces
wraps instead of widening the page; each row shows its status and one primary action (Details),
the rest in a keyboard-accessible More actions menu; every action is reachable on screen; the
rotating keys sit under their successors; phone cards keep their labels."""

import pytest
from playwright.sync_api import expect

from keys.services import api_key_create, api_key_rotate
from projects.actors import Actor
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [390, 768, 1280, 1440]
LONG_NAME = "n" * 32 + "A" * 32  # 64 characters, no space


@pytest.fixture
def keys_page(transactional_db):
    owner = UserFactory(email="owner@example.com")
    project = ProjectFactory(owner=owner, name="Demo", slug="demo", active_questions=12)
    actor = Actor(user=owner, label=owner.email)
    long_key, _ = api_key_create(project=project, name=LONG_NAME, permissions=["read"], actor=actor)
    rotated = []
    for i in range(3):
        key, _ = api_key_create(project=project, name=f"Service {i}", permissions=["read", "write"], actor=actor)
        successor, _ = api_key_rotate(key=key, actor=actor, grace="24h")
        rotated.append((key, successor))
    return owner, project, long_key, rotated


def _fits(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _in_viewport(page, locator):
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_key_list_fits_and_every_action_is_reachable(page, live_server, keys_page, screenshot_dir, scheme):
    owner, project, long_key, rotated = keys_page
    page.emulate_media(color_scheme=scheme)
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.slug}/keys/")
    rows = page.locator("tbody.key-row")
    expect(rows).to_have_count(7)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.reload()
        assert _fits(page), f"{width}px: the page scrolls sideways"
        name = page.locator(f"#key-{long_key.key_id} .key-name strong")
        assert name.bounding_box()["width"] <= width
        page.screenshot(path=screenshot_dir / f"key-list-{width}-{scheme}.png", full_page=True)
        for index in range(rows.count()):
            row = rows.nth(index)
            row.scroll_into_view_if_needed()
            expect(row.locator(".badge").first).to_be_visible()  # its status
            details = row.get_by_role("link", name="Details")
            assert _in_viewport(page, details), f"{width}px row {index}: Details off-screen"
            assert details.evaluate("e => e.getClientRects().length === 1 && e.offsetHeight < 50"), (
                f"{width}px row {index}: Details breaks over two lines"
            )
            if width < 700:  # a touch target (#32, finding 10: 27 px before)
                assert details.evaluate("e => e.offsetHeight >= 44"), f"{width}px: Details is under 44 px tall"
                assert row.locator("summary", has_text="More actions").evaluate("e => e.offsetHeight >= 44")
            summary = row.locator("summary", has_text="More actions")
            summary.click()
            actions = ["Delete"] + (["Revoke"] if row.get_attribute("data-status") in ("active", "rotating") else [])
            for action in actions:
                link = row.get_by_role("link", name=action, exact=True)
                expect(link).to_be_visible()
                assert _in_viewport(page, link), f"{width}px row {index}: {action} off-screen"
            assert _fits(page), f"{width}px: an open menu makes the page scroll sideways"
            if index == 0 and width in (390, 1280):
                page.screenshot(path=screenshot_dir / f"key-list-{width}-{scheme}-menu-open.png")
            summary.click()  # closes it again
            expect(row.get_by_role("link", name="Delete", exact=True)).to_be_hidden()
        if width == 390:  # phone cards keep their labels
            label = page.evaluate(
                "getComputedStyle(document.querySelector('tbody.key-row td[data-label=Status]'), '::before').content"
            )
            assert "Status" in label
        # a rotating key sits right under its successor, indented
        for old, new in rotated:
            successor_box = page.locator(f"#key-{new.key_id}").bounding_box()
            old_box = page.locator(f"#key-{old.key_id}").bounding_box()
            assert old_box["y"] >= successor_box["y"] + successor_box["height"] - 1
            # indented under it, never wider than it (its right edge lines up)
            assert old_box["x"] >= successor_box["x"]
            assert abs((old_box["x"] + old_box["width"]) - (successor_box["x"] + successor_box["width"])) <= 1
            assert page.locator(f"#key-{new.key_id} + #key-{old.key_id}").count() == 1


def test_more_actions_menu_works_by_keyboard(page, live_server, keys_page):
    owner, project, long_key, _ = keys_page
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.slug}/keys/")
    row = page.locator(f"#key-{long_key.key_id}")
    summary = row.locator("summary", has_text="More actions")
    summary.focus()
    page.keyboard.press("Enter")
    revoke = row.get_by_role("link", name="Revoke", exact=True)
    expect(revoke).to_be_visible()
    page.keyboard.press("Escape")  # closes the menu, focus back on its button
    expect(revoke).to_be_hidden()
    expect(summary).to_be_focused()
    page.keyboard.press("Enter")
    revoke.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("link", name="Cancel")).to_be_focused()
    expect(dialog.get_by_role("button", name="Revoke key")).to_be_visible()
    page.keyboard.press("Enter")  # Cancel: the menu has closed (#32, finding 4); back on its button
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(revoke).to_be_hidden()
    expect(summary).to_be_focused()


def test_more_actions_menu_works_without_javascript(browser, live_server, keys_page):
    owner, project, long_key, _ = keys_page
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.slug}/keys/")
    row = page.locator(f"#key-{long_key.key_id}")
    row.locator("summary", has_text="More actions").click()
    row.get_by_role("link", name="Revoke", exact=True).click()
    expect(page.get_by_role("button", name="Revoke key")).to_be_visible()
    page.get_by_role("button", name="Revoke key").click()
    expect(page.locator(f"#key-{long_key.key_id} .badge").first).to_have_text("Revoked")
    context.close()
