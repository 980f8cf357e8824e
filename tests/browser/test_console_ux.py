"""Console UX in a real browser (issue 12, findings 1, 2, 3, 4, 9, 10).

- Layout: no page scrolls sideways at 390, 768, 1280 and 1440 px (API Key tab with 10 keys and 3
  rotating ones, Questions, Members, Event log); every row action fits the viewport; dialogs are
  centred and fully visible at 390 px. Screenshots go to test-artifacts/screenshots/.
- axe-core on every console page and open dialog, light and dark: no violation of any impact.
- Keyboard only: generate → copy → Done → revoke → cancel → revoke, with focus checked at each step;
  the reveal asks before it closes uncopied; without JavaScript there is no dead Copy button.

One live server for all; each test builds its data once and loops over widths inside one page.
"""

import re
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from keys.models import ApiKey, KeyUsageDay
from keys.services import api_key_create, api_key_rotate
from projects.actors import Actor
from projects.models import Membership, Question, Role
from tests.browser.conftest import log_in, row_action
from tests.factories import PASSWORD, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = [390, 768, 1024, 1280, 1440]
HEIGHT = 900
KEY_RE = re.compile(r"^nbq_live_[A-Za-z0-9]{32}$")
PERMISSION_SETS = [
    ["read"],
    ["read", "write"],
    ["create", "read", "write", "delete", "invite"],
    ["read", "invite"],
    ["create", "read"],
]


@pytest.fixture
def owner(transactional_db):
    return UserFactory(email="owner.with.a.rather.long.address@example-company.example.com")


@pytest.fixture
def demo(owner):
    """Demo: 12 questions (one long), 4 members, 10 active keys of which 3 rotated with a grace period."""
    project = ProjectFactory(owner=owner, name="Demo", slug="demo", active_questions=11)
    Question.objects.create(
        project=project,
        priority=99,
        text="A long question that goes on: " + "which of these "
        "supercalifragilisticexpialidocious-words-without-any-spaces-at-all " * 4 + "is longest?",
    )
    for email, role in [
        ("viewer.person@example.com", Role.VIEWER),
        ("admin.person@example.com", Role.ADMIN),
        ("someone-with-an-extraordinarily-long-email-address@subdomain.example.org", Role.VIEWER),
    ]:
        Membership.objects.create(project=project, user=UserFactory(email=email), role=role)
    actor = Actor(user=owner, label=owner.email, ip="203.0.113.7")
    keys = [
        api_key_create(project=project, name=name, permissions=PERMISSION_SETS[i % len(PERMISSION_SETS)], actor=actor)[
            0
        ]
        for i, name in enumerate(
            [
                "Production web app",
                "Nightly import",
                "CI pipeline",
                "Mobile app (iOS)",
                "Mobile app (Android)",
                "Analytics export",
                "Partner integration — Acme Corp",
                "Staging",
                "Support tools",
                "Data warehouse sync",
            ]
        )
    ]
    rotating = [key for key in keys[:3]]
    successors = [api_key_rotate(key=key, actor=actor, grace="24h")[0] for key in rotating]
    today = timezone.now().date()
    KeyUsageDay.objects.bulk_create(
        KeyUsageDay(
            api_key=successors[0],
            day=today - timedelta(days=n),
            success=40 + (n * 37) % 90,
            client_error=(n * 7) % 12,
            server_error=1 if n % 9 == 0 else 0,
        )
        for n in range(0, 26)
    )
    return {"project": project, "url": f"/projects/{project.slug}", "rotating": rotating, "successors": successors}


@pytest.fixture
def fresh(owner):
    """A project with 10 questions and no key yet: the Generate flow."""
    return ProjectFactory(owner=owner, name="Fresh", slug="fresh", active_questions=10)


def no_sideways_scroll(page):
    sizes = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert sizes[0] <= sizes[1], f"page is {sizes[0]} px wide in a {sizes[1]} px window"


def actions_outside_viewport(page) -> list[str]:
    """Every visible row action, scrolled to: the ones that do not fit the viewport whole."""
    return page.evaluate("""() => {
        const out = [];
        for (const el of document.querySelectorAll('td.actions a, td.actions button')) {
            if (!el.offsetParent) continue;
            el.scrollIntoView({block: 'center', inline: 'nearest'});
            const r = el.getBoundingClientRect();
            if (r.left < 0 || r.right > window.innerWidth + 0.5 || r.width < 1)
                out.push(`${el.textContent.trim()} at ${Math.round(r.left)}..${Math.round(r.right)}`);
        }
        window.scrollTo(0, 0);
        return out;
    }""")


def assert_dialog_fits(page, width):
    box = page.get_by_role("dialog").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, box
    assert box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT + 0.5, box
    assert abs(box["x"] - (width - box["x"] - box["width"])) <= 2, f"dialog not centred: {box}"
    for button in page.get_by_role("dialog").locator("button:visible, a.button:visible").all():
        button.scroll_into_view_if_needed()
        b = button.bounding_box()
        assert b["x"] >= 0 and b["x"] + b["width"] <= width + 0.5, (button.text_content(), b)


def test_no_page_scrolls_sideways_and_row_actions_fit(browser, live_server, owner, demo, fresh, screenshot_dir):
    """Finding 1: the key table was 1294 px wide in a 1240 px box (Delete cut to "De"); at 390 px the
    page became 1030 px wide and dialogs opened off-centre. Questions, Members, Event log overflowed too."""
    context = browser.new_context(viewport={"width": 1280, "height": HEIGHT})
    page = context.new_page()
    try:
        log_in(page, live_server.url, owner.email, PASSWORD)
        base = live_server.url + demo["url"]
        for tab, path in [
            ("keys", "/keys/"),
            ("questions", "/questions/"),
            ("members", "/members/"),
            ("events", "/events/"),
        ]:
            page.goto(base + path)
            if tab == "keys":
                expect(page.locator("#key-counter")).to_contain_text("10 of 10 active keys")
                expect(page.locator(".key-row")).to_have_count(13)
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": HEIGHT})
                no_sideways_scroll(page)
                assert actions_outside_viewport(page) == [], (tab, width)
                page.screenshot(path=screenshot_dir / f"ux-{tab}-{width}.png", full_page=True)
                if width == 390:
                    page.screenshot(path=screenshot_dir / f"ux-{tab}-{width}-top.png")

        # The details of a key, with its usage chart, fit too.
        page.goto(base + "/keys/")
        row = page.locator(f"#key-{demo['successors'][0].key_id}")
        row.get_by_role("link", name="Details").click()
        expect(row).to_contain_text("Requests, last 30 days")
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": HEIGHT})
            no_sideways_scroll(page)
            row.locator(".key-details").screenshot(path=screenshot_dir / f"ux-key-details-{width}.png")

        # Dialogs at 390 px: centred, every button inside the screen.
        page.set_viewport_size({"width": 390, "height": HEIGHT})
        page.goto(base + "/keys/")
        successor = demo["successors"][0]
        row_action(page.locator(f"#key-{successor.key_id}"), "Revoke").click()
        assert_dialog_fits(page, 390)
        page.screenshot(path=screenshot_dir / "ux-revoke-dialog-390.png")
        page.get_by_role("dialog").get_by_role("link", name="Cancel").click()

        page.goto(live_server.url + "/projects/fresh/keys/")
        page.get_by_role("link", name="Generate a key").click()
        expect(page.get_by_role("dialog")).to_be_visible()
        assert_dialog_fits(page, 390)
        no_sideways_scroll(page)
        page.screenshot(path=screenshot_dir / "ux-generate-dialog-390.png")
        page.get_by_role("dialog").get_by_label("Name").fill("Phone")
        page.get_by_role("dialog").get_by_role("button", name="Generate").click()
        expect(page.get_by_role("dialog")).to_contain_text("will not be shown again")
        assert_dialog_fits(page, 390)
        no_sideways_scroll(page)
        page.screenshot(path=screenshot_dir / "ux-reveal-dialog-390.png")
    finally:
        context.close()


def test_dark_mode_screenshots(browser, live_server, owner, demo, screenshot_dir):
    """Finding 10: a dark scheme that follows prefers-color-scheme (custom properties)."""
    context = browser.new_context(viewport={"width": 1280, "height": HEIGHT}, color_scheme="dark")
    page = context.new_page()
    try:
        log_in(page, live_server.url, owner.email, PASSWORD)
        page.goto(live_server.url + demo["url"] + "/keys/")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(17, 22, 32)", background
        page.screenshot(path=screenshot_dir / "ux-dark-keys-1280.png", full_page=True)
        page.set_viewport_size({"width": 390, "height": HEIGHT})
        page.screenshot(path=screenshot_dir / "ux-dark-keys-390.png", full_page=True)
        page.screenshot(path=screenshot_dir / "ux-dark-keys-390-top.png")
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_on_pages_and_dialogs(browser, live_server, owner, demo, fresh, scheme):
    """axe-core on every console page and every open dialog: 0 violations of any impact."""
    context = browser.new_context(viewport={"width": 1280, "height": HEIGHT}, color_scheme=scheme, bypass_csp=True)
    page = context.new_page()
    axe = Axe()
    reports = []

    def check(what):
        results = axe.run(page)
        if results.violations_count:
            reports.append(f"--- {what} ({scheme})\n" + results.generate_report())

    try:
        page.goto(live_server.url + "/accounts/login/")
        check("login page")
        page.goto(live_server.url + "/report-leak/")
        check("report a leaked key")
        log_in(page, live_server.url, owner.email, PASSWORD)
        check("projects")
        base = live_server.url + demo["url"]
        for path in ("/questions/", "/members/", "/events/", "/keys/"):
            page.goto(base + path)
            check(path)
        key = demo["successors"][0]
        row = page.locator(f"#key-{key.key_id}")
        row.get_by_role("link", name="Details").click()
        expect(row).to_contain_text("Requests, last 30 days")
        row.locator(".details-row summary").click()
        check("key details with the usage table")
        row.locator("summary", has_text="More actions").click()
        check("key row with its More actions menu open")
        for action in ("Edit", "Rotate", "Revoke", "Delete"):
            row_action(row, action).click()
            expect(page.get_by_role("dialog")).to_be_visible()
            check(f"{action} dialog")
            page.keyboard.press("Escape")
            expect(page.get_by_role("dialog")).to_have_count(0)
        page.goto(live_server.url + "/projects/fresh/keys/")
        check("empty key list")
        page.get_by_role("link", name="Generate a key").click()
        expect(page.get_by_role("dialog")).to_be_visible()
        check("generate dialog")
        page.get_by_role("dialog").get_by_role("button", name="Generate").click()  # no name: errors
        expect(page.get_by_role("dialog")).to_contain_text("Give the key a name")
        check("generate dialog with errors")
        page.get_by_role("dialog").get_by_label("Name").fill("Axe")
        page.get_by_role("dialog").get_by_role("button", name="Generate").click()
        expect(page.get_by_role("dialog")).to_contain_text("will not be shown again")
        check("reveal dialog")
        page.keyboard.press("Escape")
        expect(page.get_by_text("Close without copying?")).to_be_visible()
        check("reveal guard")
    finally:
        context.close()
    assert not reports, "\n".join(reports)


def _focused(page) -> str:
    return page.evaluate("""() => { const e = document.activeElement;
        return e ? (e.id ? '#' + e.id : e.tagName.toLowerCase() + ':' + (e.textContent || '').trim()) : ''; }""")


def _tab_to(page, name: str, limit: int = 25) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(document.activeElement.textContent || '').trim()") == name:
            return
    raise AssertionError(f"Tab never reached {name!r} (focus on {_focused(page)})")


def test_keyboard_only_generate_copy_done_revoke_cancel_revoke(page, live_server, owner, fresh, screenshot_dir):
    """Finding 2: focus dropped to <body> after Done, Revoke, Delete; confirmations opened on the red button."""
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(live_server.url + "/projects/fresh/keys/")
    expect(page).to_have_title("API Key · Fresh · NBQ Keys Console")

    page.keyboard.press("Tab")  # the first Tab reaches the skip link
    assert _focused(page) == "a:Skip to content"
    page.keyboard.press("Enter")
    assert _focused(page) == "#content"
    _tab_to(page, "Generate a key")

    # Generate: the dialog opens on Name; Enter submits.
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.get_by_role("dialog").get_by_label("Name")).to_be_focused()
    page.keyboard.type("Keyboard key")
    page.keyboard.press("Enter")

    # The reveal opens on Copy; Enter copies.
    reveal = page.get_by_role("dialog")
    expect(reveal).to_contain_text("will not be shown again")
    copy = reveal.get_by_role("button", name="Copy")
    expect(copy).to_be_focused()
    plaintext = reveal.get_by_role("textbox", name="Your new API key").input_value()
    assert KEY_RE.match(plaintext)
    page.keyboard.press("Enter")
    expect(reveal.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == plaintext
    expect(reveal.get_by_role("status").filter(has_text="clipboard")).to_have_count(1)

    # Done (copied: no question) → focus on the new key's row.
    _tab_to(page, "Done")
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_have_count(0)
    key = ApiKey.objects.get(name="Keyboard key")
    row = page.locator(f"#key-{key.key_id}")
    expect(row).to_be_focused()

    # More actions → Revoke → the confirmation opens on Cancel.
    _tab_to(page, "More actions")
    page.keyboard.press("Enter")
    _tab_to(page, "Revoke")
    page.keyboard.press("Enter")
    confirm = page.get_by_role("dialog")
    expect(confirm.get_by_role("link", name="Cancel")).to_be_focused()
    page.screenshot(path=screenshot_dir / "ux-keyboard-revoke-opens-on-cancel.png")
    # Cancel → the menu that opened it has closed (#32, finding 4), focus on its More actions button.
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(row.get_by_role("link", name="Revoke")).to_be_hidden()
    expect(row.locator("summary", has_text="More actions")).to_be_focused()

    # Revoke again, this time for real: Shift+Tab from Cancel reaches "Revoke key".
    page.keyboard.press("Enter")
    _tab_to(page, "Revoke")
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog").get_by_role("link", name="Cancel")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("dialog").get_by_role("button", name="Revoke key")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(row.locator(".badge")).to_have_text("Revoked")
    expect(row).to_be_focused()  # the changed row
    # The message is announced: it sits in the polite live region, which was updated, not replaced.
    expect(page.locator("#flash[role=status][aria-live=polite]")).to_contain_text("was revoked")

    # Delete: focus goes to Generate (the next thing to do), not <body>.
    _tab_to(page, "More actions")
    page.keyboard.press("Enter")
    _tab_to(page, "Delete")
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog").get_by_role("link", name="Cancel")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.locator(f"#key-{key.key_id}")).to_have_count(0)
    expect(page.get_by_role("link", name="Generate a key")).to_be_focused()


def test_the_reveal_asks_before_closing_uncopied(page, live_server, owner, fresh, screenshot_dir):
    """Finding 3: Escape closed the reveal at once and the key was lost."""
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(live_server.url + "/projects/fresh/keys/")

    def generate(name):
        page.get_by_role("link", name="Generate a key").click()
        page.get_by_role("dialog").get_by_label("Name").fill(name)
        page.get_by_role("dialog").get_by_role("button", name="Generate").click()
        expect(page.get_by_role("dialog")).to_contain_text("will not be shown again")
        return ApiKey.objects.get(name=name)

    # Escape: asks once; "Back to the key" returns to Copy; a second Escape after the question closes.
    generate("First")
    page.keyboard.press("Escape")
    guard = page.get_by_text("Close without copying?")
    expect(guard).to_be_visible()
    expect(page.get_by_role("dialog")).to_contain_text("You will not see this key again.")
    expect(page.get_by_role("button", name="Back to the key")).to_be_focused()
    page.screenshot(path=screenshot_dir / "ux-reveal-guard.png")
    page.keyboard.press("Enter")
    expect(guard).to_be_hidden()
    expect(page.get_by_role("dialog").get_by_role("button", name="Copy")).to_be_focused()
    page.keyboard.press("Escape")
    expect(guard).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)

    # Done before Copy: asks; "Close without copying" closes and focus lands on the new row.
    second = generate("Second")
    page.get_by_role("dialog").get_by_role("link", name="Done").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    page.get_by_role("button", name="Close without copying").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator(f"#key-{second.key_id}")).to_be_focused()

    # A click on the backdrop asks too.
    generate("Third")
    page.mouse.click(5, 5)
    expect(page.get_by_text("Close without copying?")).to_be_visible()
    # After Copy, Escape closes at once.
    page.get_by_role("button", name="Back to the key").click()
    page.get_by_role("dialog").get_by_role("button", name="Copy").click()
    expect(page.get_by_role("dialog").get_by_role("button", name="Copied")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_without_javascript_there_is_no_dead_copy_button(browser, live_server, owner, fresh, screenshot_dir):
    """Finding 3: without JavaScript the Copy button showed and did nothing."""
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": HEIGHT})
    page = context.new_page()
    try:
        log_in(page, live_server.url, owner.email, PASSWORD)
        page.goto(live_server.url + "/projects/fresh/keys/new/")
        page.get_by_label("Name").fill("No JS")
        page.get_by_role("button", name="Generate").click()
        field = page.get_by_role("textbox", name="Your new API key")
        assert KEY_RE.match(field.input_value())
        expect(field).to_be_focused()  # autofocus: Ctrl+A, Ctrl+C copies it
        expect(page.get_by_role("button", name="Copy")).to_have_count(0)
        expect(page.get_by_text("Select the key in the field above and copy it")).to_be_visible()
        no_sideways_scroll(page)
        page.screenshot(path=screenshot_dir / "ux-nojs-reveal-390.png", full_page=True)
    finally:
        context.close()


def test_rotation_is_one_lineage_and_the_counter_agrees(page, live_server, owner, demo, screenshot_dir):
    """Finding 4: old and new key both green Active, far apart; "10 of 10 active" beside 13 green badges."""
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(live_server.url + demo["url"] + "/keys/")
    expect(page.locator("#key-counter")).to_contain_text("10 of 10 active keys")
    expect(page.locator("#key-counter")).to_contain_text("3 rotating out")
    expect(page.locator(".key-row .badge-active")).to_have_count(10)
    expect(page.locator(".key-row .badge-rotating")).to_have_count(3)
    ids = page.locator(".key-row").evaluate_all("rows => rows.map(r => r.dataset.keyId)")
    for old, new in zip(demo["rotating"], demo["successors"], strict=False):
        assert ids.index(old.key_id) == ids.index(new.key_id) + 1  # right under its successor
        old_row = page.locator(f"#key-{old.key_id}")
        expect(old_row.locator(".badge")).to_have_text("Rotating")
        expect(old_row).to_contain_text(
            re.compile(r"stops in 23\s*hours, 59\s*minutes \(at (\d+ \w+ )?\d{2}:\d{2} UTC\)")
        )
        expect(old_row).to_contain_text(f"Replaced by {new.key_id}")


def test_edit_a_key_in_the_browser(page, live_server, owner, fresh):
    """Finding 9: rename, change permissions and rate limit; the expiration shows the date it gives."""
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(live_server.url + "/projects/fresh/keys/")
    page.get_by_role("link", name="Generate a key").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("List questions, fetch one, and ask for the next question.")).to_be_visible()
    expect(dialog.locator("#expiry-preview")).to_contain_text("(90 days from now)")
    dialog.get_by_label("Expiration", exact=True).select_option(label="1 year")
    expect(dialog.locator("#expiry-preview")).to_contain_text("(1 year from now)")
    dialog.get_by_label("Name").fill("Before")
    dialog.get_by_role("button", name="Generate").click()
    page.get_by_role("dialog").get_by_role("button", name="Copy").click()
    page.get_by_role("dialog").get_by_role("link", name="Done").click()
    key = ApiKey.objects.get(name="Before")

    row = page.locator(f"#key-{key.key_id}")
    row_action(row, "Edit").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("After")
    dialog.get_by_label("Write").check()
    dialog.get_by_label("Rate limit (requests a minute)").fill("12")
    dialog.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(row).to_contain_text("After")
    expect(row).to_be_focused()
    expect(page.locator("#flash")).to_contain_text("was saved")
    key.refresh_from_db()
    assert key.name == "After" and key.permissions == ["read", "write"] and key.rate_limit_per_minute == 12


def test_focus_after_rotate_hide_details_and_errors(page, live_server, owner, fresh):
    """Finding 2: focus also dropped to <body> after Rotate and Hide details."""
    actor = Actor(user=owner, label=owner.email)
    key, _ = api_key_create(project=fresh, name="Rotate me", permissions=["read"], actor=actor)
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(live_server.url + "/projects/fresh/keys/")
    row = page.locator(f"#key-{key.key_id}")

    # Details, then Hide details: focus goes into the details, then back to the Details button.
    row.get_by_role("link", name="Details").click()
    expect(row.locator(".key-details")).to_be_focused()
    row.get_by_role("button", name="Hide details").click()
    expect(row.get_by_role("link", name="Details")).to_be_focused()

    # Rotate opens on Cancel; after the reveal, Done lands on the new key's row.
    row_action(row, "Rotate").click()
    expect(page.get_by_role("dialog").get_by_role("link", name="Cancel")).to_be_focused()
    page.get_by_role("dialog").get_by_role("button", name="Rotate key").click()
    reveal = page.get_by_role("dialog")
    expect(reveal.get_by_role("button", name="Copy")).to_be_focused()
    reveal.get_by_role("button", name="Copy").click()
    expect(reveal.get_by_role("button", name="Copied")).to_be_visible()
    reveal.get_by_role("link", name="Done").click()
    successor = ApiKey.objects.get(rotated_from=key)
    expect(page.locator(f"#key-{successor.key_id}")).to_be_focused()

    # A form sent back with errors puts focus on the first field to fix.
    page.get_by_role("link", name="Generate a key").click()
    page.get_by_role("dialog").get_by_label("Read").uncheck()
    page.get_by_role("dialog").get_by_label("Name").fill("Needs a permission")
    page.get_by_role("dialog").get_by_role("button", name="Generate").click()
    expect(page.get_by_role("dialog")).to_contain_text("Choose at least one permission")
    expect(page.get_by_role("dialog").get_by_label("Create")).to_be_focused()
