"""Issue #32 in a real browser: the first-run form that stays open (1), the event log's shape with a
long change (2), Rotate naming the grace period it cuts short (3), the More actions menu by
keyboard (4), the Chosen projects error and the IP list (8); the key list's search, Disable /
Enable and Revoke selected with htmx and without JavaScript; axe-core at 0 on every new state,
light and dark, 390 and 1280 px."""

from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from keys.models import ApiKey
from keys.services import api_key_create, api_key_disable, api_key_rotate, api_key_update
from projects.actors import Actor
from projects.sandbox import sandbox_create
from tests.browser.conftest import log_in, row_action
from tests.factories import PASSWORD, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FORTY = "\n".join(f"198.51.100.{i}" for i in range(1, 41))


@pytest.fixture
def world(transactional_db):
    owner = UserFactory(email="owner@example.com")
    project = ProjectFactory(owner=owner, name="Demo", slug="demo", active_questions=12)
    actor = Actor(user=owner, label=owner.email)
    keys = {}
    for name in ("Alpha", "Bravo", "Charlie", "Delta"):
        keys[name], _ = api_key_create(project=project, name=name, permissions=["read"], actor=actor)
    # A lineage whose older key is still inside its grace period: rotating the successor ends it.
    old, _ = api_key_create(project=project, name="Echo", permissions=["read"], actor=actor)
    successor, _ = api_key_rotate(key=old, actor=actor, grace="24h")
    old.refresh_from_db()
    keys["Echo old"], keys["Echo"] = old, successor
    api_key_disable(key=keys["Delta"], actor=actor)
    # A long change in the event log: an allow-list of 40 addresses.
    api_key_update(
        key=keys["Alpha"],
        actor=actor,
        name="Alpha",
        permissions=["read"],
        rate_limit_per_minute=None,
        allowed_ips=FORTY,
    )
    ApiKey.objects.filter(pk=keys["Bravo"].pk).update(last_used_at=timezone.now() - timedelta(minutes=5))
    ApiKey.objects.filter(pk=keys["Charlie"].pk).update(last_used_at=timezone.now() - timedelta(days=2))
    return owner, project, keys


def _keys_url(live_server, project, query=""):
    return f"{live_server.url}/projects/{project.slug}/keys/{query}"


def _listed(page) -> list[str]:
    return page.eval_on_selector_all("tbody.key-row", "rows => rows.map(r => r.dataset.keyId)")


# --- finding 1 --------------------------------------------------------------------------------------


def test_first_run_generate_leaves_no_form_open_after_done(page, live_server, transactional_db):
    person = UserFactory(email="first@example.com")
    sandbox = sandbox_create(user=person)
    log_in(page, live_server.url, person.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/{sandbox.slug}/keys/new/")  # where the confirmation link lands
    generate = page.get_by_role("dialog", name="Generate a key")
    expect(generate).to_be_visible()
    generate.get_by_role("button", name="Generate").click()
    reveal = page.get_by_role("dialog", name="Your new API key")
    expect(reveal).to_be_visible()
    reveal.get_by_role("button", name="Copy").click()
    reveal.get_by_role("link", name="Done").click()
    expect(page.locator("dialog")).to_have_count(0)  # no form left behind the reveal, none after it
    expect(page.get_by_role("button", name="Generate", exact=True)).to_have_count(0)
    assert page.url.endswith(f"/projects/{sandbox.slug}/keys/"), page.url
    expect(page.locator("tbody.key-row")).to_have_count(1)
    # A second key needs the dialog opened again.
    page.get_by_role("link", name="Generate a key").click()
    expect(page.get_by_role("dialog", name="Generate a key")).to_be_visible()
    assert ApiKey.objects.filter(project=sandbox).count() == 1


# --- finding 2 --------------------------------------------------------------------------------------

NARROWER_THAN_A_WORD = """() => [...document.querySelectorAll(
    'table.events td[data-label="When (UTC)"], table.events td[data-label="Event"], table.events td[data-label="IP"]')]
  .map(td => {
    const style = getComputedStyle(td);
    const room = td.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const probe = document.createElement('span');
    probe.style.cssText = 'position:absolute;visibility:hidden;white-space:nowrap;';
    td.appendChild(probe);
    let widest = 0, word = '';
    for (const w of td.innerText.split(/\\s+/).filter(Boolean)) {
      probe.textContent = w;
      if (probe.getBoundingClientRect().width > widest) { widest = probe.getBoundingClientRect().width; word = w; }
    }
    probe.remove();
    return {label: td.dataset.label, room, widest, word};
  })
  .filter(c => c.room + 0.5 < c.widest)"""


@pytest.mark.parametrize("width", [1280, 1440])
def test_event_log_keeps_its_shape_with_a_forty_address_change(page, live_server, world, width, screenshot_dir):
    owner, project, _ = world
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.slug}/events/")
    expect(page.locator("table.events")).to_contain_text("198.51.100.40")
    squeezed = page.evaluate(NARROWER_THAN_A_WORD)
    page.screenshot(path=screenshot_dir / f"event-log-forty-addresses-{width}.png", full_page=True)
    assert squeezed == [], squeezed
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


# --- finding 3 --------------------------------------------------------------------------------------


def test_rotate_dialog_names_the_grace_period_it_ends(page, live_server, world):
    owner, project, keys = world
    old = keys["Echo old"]
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(_keys_url(live_server, project))
    row = page.locator(f"#key-{keys['Echo'].key_id}")
    row_action(row, "Rotate").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    warning = dialog.locator("#rotate-warning")
    expect(warning).to_contain_text(old.key_id)
    expect(warning).to_contain_text(f"{old.stops_at:%Y-%m-%d %H:%M} UTC")
    expect(warning).to_contain_text("revokes that key at once")
    # Rotating a key with no predecessor says nothing of the kind.
    page.keyboard.press("Escape")
    row_action(page.locator(f"#key-{keys['Bravo'].key_id}"), "Rotate").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.locator("#rotate-warning")).to_have_count(0)


# --- finding 4 --------------------------------------------------------------------------------------


def test_more_actions_closes_when_focus_leaves_and_after_a_cancelled_dialog_and_takes_arrows(page, live_server, world):
    owner, project, keys = world
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(_keys_url(live_server, project))
    row = page.locator(f"#key-{keys['Bravo'].key_id}")
    menu = row.locator("details.more-actions")
    summary = menu.locator("summary")
    items = menu.locator(".menu a")

    # Arrow keys: Down on the button opens the menu on its first item, then moves; Up wraps; End, Home.
    summary.focus()
    page.keyboard.press("ArrowDown")
    expect(items.first).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(items.nth(1)).to_be_focused()
    page.keyboard.press("End")
    expect(items.last).to_be_focused()
    page.keyboard.press("Home")
    expect(items.first).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(items.last).to_be_focused()

    # Tab out of the last item: the menu closes, so it never covers the next row.
    page.keyboard.press("Tab")
    expect(menu).not_to_have_attribute("open", "")
    assert menu.get_attribute("open") is None

    # A dialog opened from the menu, then cancelled: the menu is closed and focus is on its button.
    summary.click()
    row.get_by_role("link", name="Revoke", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("link", name="Cancel")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert menu.get_attribute("open") is None
    expect(summary).to_be_focused()


# --- finding 8 --------------------------------------------------------------------------------------


def test_chosen_projects_error_focuses_the_checkboxes_and_ip_lines_are_listed(page, live_server, world):
    owner, project, _ = world
    ProjectFactory(owner=owner, name="Second", slug="second", active_questions=10)
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(live_server.url + "/account/api-keys/")
    page.get_by_role("link", name="Generate a key").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("laptop")
    dialog.get_by_label("Chosen projects").check()
    dialog.get_by_role("button", name="Generate").click()
    expect(dialog.locator("#projects-error")).to_contain_text("Choose at least one project")
    first_project = dialog.locator("fieldset.scope-projects input[type=checkbox]").first
    expect(first_project).to_be_focused()
    assert first_project.get_attribute("aria-describedby") == "projects-error"
    dialog.get_by_label("Allowed IP addresses").fill("fe80::1%eth0\nnot-an-address\n10.0.0.1/8")
    dialog.get_by_role("button", name="Generate").click()
    errors = dialog.locator("#id_allowed_ips_error p")
    expect(errors).to_have_count(3)
    expect(errors.nth(0)).to_contain_text("zone")


# --- the key list: search, pause, revoke in bulk ------------------------------------------------------


def test_search_and_sort_with_htmx_push_a_url_that_reloads_the_same_view(page, live_server, world):
    owner, project, keys = world
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(_keys_url(live_server, project))
    page.get_by_label("Search keys").fill(keys["Charlie"].last4)
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody.key-row")).to_have_count(1)
    assert _listed(page) == [keys["Charlie"].key_id]
    assert f"q={keys['Charlie'].last4}" in page.url
    expect(page.get_by_label("Search keys")).to_have_value(keys["Charlie"].last4)  # the form was not replaced
    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Sort by").select_option("-last_used")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody.key-row").first).to_have_attribute("data-key-id", keys["Bravo"].key_id)
    shown = _listed(page)
    page.reload()
    assert _listed(page) == shown


def test_search_and_bulk_revoke_work_without_javascript(browser, live_server, world):
    owner, project, keys = world
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, live_server.url, owner.email, PASSWORD)
        page.goto(_keys_url(live_server, project))
        page.get_by_label("Status").select_option("active")
        page.get_by_role("button", name="Search").click()
        assert "status=active" in page.url
        assert keys["Delta"].key_id not in _listed(page)  # disabled
        for name in ("Alpha", "Bravo"):
            page.get_by_label(f"Select “{name}” ({keys[name].key_id})").check()
        page.get_by_role("button", name="Revoke selected").click()
        expect(page.get_by_role("heading", name="Revoke 2 keys?")).to_be_visible()
        page.get_by_role("button", name="Revoke 2 keys").click()
        expect(page.locator(f"#key-{keys['Alpha'].key_id} .badge").first).to_have_text("Revoked")
        expect(page.locator(f"#key-{keys['Bravo'].key_id} .badge").first).to_have_text("Revoked")
    finally:
        context.close()


def test_disable_enable_and_revoke_selected_with_htmx(page, live_server, world):
    owner, project, keys = world
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(_keys_url(live_server, project))
    row = page.locator(f"#key-{keys['Bravo'].key_id}")
    row_action(row, "Disable").click()
    page.get_by_role("dialog").get_by_role("button", name="Disable key").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(row.locator(".badge-disabled")).to_have_text("Disabled")
    expect(row).to_be_focused()
    row_action(row, "Enable").click()
    page.get_by_role("dialog").get_by_role("button", name="Enable key").click()
    expect(row.locator(".badge-disabled")).to_have_count(0)

    chosen = ["Alpha", "Bravo", "Charlie"]
    for name in chosen:
        page.get_by_label(f"Select “{name}” ({keys[name].key_id})").check()
    page.get_by_role("button", name="Revoke selected").click()
    dialog = page.get_by_role("dialog", name="Revoke 3 keys?")
    expect(dialog).to_be_visible()
    for name in chosen:
        expect(dialog).to_contain_text(keys[name].key_id)
    expect(dialog.get_by_role("link", name="Cancel")).to_be_focused()
    dialog.get_by_role("button", name="Revoke 3 keys").click()
    expect(page.locator("#flash")).to_contain_text("3 keys revoked")
    for name in chosen:
        expect(page.locator(f"#key-{keys[name].key_id} .badge").first).to_have_text("Revoked")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_on_the_new_states(browser, live_server, world, scheme):
    owner, project, keys = world
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme, bypass_csp=True)
    page = context.new_page()
    axe = Axe()
    reports = []

    def check(what):
        results = axe.run(page)
        if results.violations_count:
            reports.append(f"--- {what} ({scheme}, {page.viewport_size['width']} px)\n" + results.generate_report())

    try:
        log_in(page, live_server.url, owner.email, PASSWORD)
        for width in (390, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(_keys_url(live_server, project))
            check("key list with search, checkboxes and a Disabled badge")
            page.goto(_keys_url(live_server, project, "?q=zzzz-nothing"))
            check("key list: nothing matches")
            page.goto(_keys_url(live_server, project, "?status=active&sort=-last_used"))
            check("key list filtered and sorted")
            page.get_by_label(f"Select “Alpha” ({keys['Alpha'].key_id})").check()
            page.get_by_role("button", name="Revoke selected").click()
            expect(page.get_by_role("dialog")).to_be_visible()
            check("Revoke selected dialog")
            page.keyboard.press("Escape")
            page.goto(_keys_url(live_server, project))
            for name, action in (("Bravo", "Disable"), ("Delta", "Enable"), ("Echo", "Rotate")):
                row_action(page.locator(f"#key-{keys[name].key_id}"), action).click()
                expect(page.get_by_role("dialog")).to_be_visible()
                check(f"{action} dialog")
                page.keyboard.press("Escape")
                expect(page.get_by_role("dialog")).to_have_count(0)
            page.goto(f"{live_server.url}/projects/{project.slug}/events/")
            check("event log with a forty-address change")
    finally:
        context.close()
    assert not reports, "\n".join(reports)
