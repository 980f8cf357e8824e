"""Account → API keys in a real browser: generate with a chosen scope, reveal, copy, call the API
over real HTTP, rotate with a grace period, revoke; without a page load (a marker on `window`
survives), and the same as plain form posts without JavaScript."""

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from keys.models import ApiKey
from projects.models import Role
from tests.browser.conftest import log_in, row_action
from tests.factories import PASSWORD, MembershipFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEY_RE = re.compile(r"^nbq_live_[A-Za-z0-9]{32}$")


@pytest.fixture
def person(transactional_db):
    user = UserFactory(email="person@example.com")
    ProjectFactory(owner=user, name="Trivia", slug="trivia", active_questions=10)
    history = ProjectFactory(name="History", slug="history", active_questions=10)
    MembershipFactory(project=history, user=user, role=Role.VIEWER)
    ProjectFactory(owner=user, name="Drafts", slug="drafts", active_questions=10)
    return user


def api(base_url: str, key: str, path: str, method: str = "GET", body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base_url + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_account_key_lifecycle_with_htmx_never_reloads(page, live_server, person, screenshot_dir):
    log_in(page, live_server.url, person.email, PASSWORD)
    page.get_by_role("link", name="Personal keys").click()  # the header's account menu
    expect(page.get_by_role("heading", name="Personal API keys", level=1)).to_be_visible()
    page.evaluate("window.__noReload = 'still here'")

    page.get_by_role("link", name="Generate a key").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("An API key is a secret")
    dialog.get_by_label("Name").fill("Laptop scripts")
    dialog.get_by_label("Read").check()
    dialog.get_by_label("Create").check()
    dialog.get_by_label("All my projects").check()  # the project checklist does not apply to it
    expect(dialog.get_by_label("Trivia")).to_be_hidden()
    dialog.get_by_label("Chosen projects").check()
    dialog.get_by_label("Trivia").check()
    dialog.get_by_label("History").check()
    page.screenshot(path=screenshot_dir / "account-1-generate-dialog.png")
    dialog.get_by_role("button", name="Generate").click()

    reveal = page.get_by_role("dialog")
    expect(reveal).to_contain_text("will not be shown again")
    key = reveal.get_by_role("textbox", name="Your new API key").input_value()
    assert KEY_RE.match(key), key
    reveal.get_by_role("button", name="Copy").click()
    expect(reveal.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
    page.screenshot(path=screenshot_dir / "account-2-reveal.png")
    reveal.get_by_role("link", name="Done").click()
    expect(page.get_by_role("dialog")).to_have_count(0)

    created = ApiKey.objects.get(name="Laptop scripts")
    row = page.locator(f"#key-{created.key_id}")
    expect(row).to_contain_text("nbq_live_…" + key[-4:])
    expect(row).to_contain_text("History, Trivia")
    assert key not in page.content()

    # Real HTTP calls with the copied key: the scope, the role cap, the short form.
    status, body = api(live_server.url, key, "/api/v1/key")
    assert (status, body["kind"], body["scope"]) == (200, "account", ["history", "trivia"])
    assert api(live_server.url, key, "/api/v1/projects/trivia/questions")[0] == 200
    assert api(live_server.url, key, "/api/v1/projects/history/questions")[0] == 200
    assert api(live_server.url, key, "/api/v1/projects/drafts/questions")[0] == 404  # not in the scope
    assert api(live_server.url, key, "/api/v1/questions")[1]["error"]["code"] == "project_required"
    assert api(live_server.url, key, "/api/v1/projects/trivia/questions", "POST", {"text": "Mine?"})[0] == 201
    status, body = api(live_server.url, key, "/api/v1/projects/history/questions", "POST", {"text": "No?"})
    assert (status, body["error"]["code"]) == (403, "insufficient_permission")  # a viewer there

    # Details: scope and the projects reached now.
    row.get_by_role("link", name="Details").click()
    expect(row).to_contain_text("Projects it reaches now")

    # Rotate with a grace period: both keys work until it ends.
    row_action(row, "Rotate").click()
    confirm = page.get_by_role("dialog")
    expect(confirm.get_by_role("link", name="Cancel")).to_be_focused()
    confirm.get_by_label("After 1 hour").check()
    confirm.get_by_role("button", name="Rotate key").click()
    new_key = page.get_by_role("dialog").get_by_role("textbox", name="Your new API key").input_value()
    assert KEY_RE.match(new_key) and new_key != key
    page.get_by_role("dialog").get_by_role("button", name="Copy").click()
    page.get_by_role("dialog").get_by_role("link", name="Done").click()
    successor = ApiKey.objects.get(rotated_from=created)
    expect(page.locator(f"#key-{created.key_id} .badge")).to_have_text("Rotating")
    assert api(live_server.url, key, "/api/v1/projects/trivia/questions")[0] == 200
    assert api(live_server.url, new_key, "/api/v1/projects/trivia/questions")[0] == 200
    assert api(live_server.url, new_key, "/api/v1/key")[1]["scope"] == ["history", "trivia"]

    # Revoke the new key: refused at once.
    new_row = page.locator(f"#key-{successor.key_id}")
    row_action(new_row, "Revoke").click()
    expect(page.get_by_role("dialog").get_by_role("link", name="Cancel")).to_be_focused()
    page.get_by_role("dialog").get_by_role("button", name="Revoke key").click()
    expect(new_row.locator(".badge")).to_have_text("Revoked")
    status, body = api(live_server.url, new_key, "/api/v1/projects/trivia/questions")
    assert (status, body["error"]["code"]) == (401, "revoked_api_key")

    # The Security log tells the story.
    assert page.evaluate("window.__noReload") == "still here"
    page.screenshot(path=screenshot_dir / "account-3-after-lifecycle.png", full_page=True)
    page.get_by_role("link", name="Security log").first.click()
    for words in ("Key created", "Key rotated", "Key revoked", "Revoked key presented"):
        expect(page.locator("main")).to_contain_text(words)


def test_account_key_lifecycle_without_javascript(browser, live_server, person, screenshot_dir):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    keys_url = live_server.url + "/account/api-keys/"
    try:
        log_in(page, live_server.url, person.email, PASSWORD)
        page.goto(keys_url)
        page.get_by_role("link", name="Generate a key").click()
        page.wait_for_url("**/api-keys/new/")
        page.get_by_label("Name").fill("No-JS account key")
        page.get_by_label("Read").check()
        page.get_by_label("Chosen projects").check()
        page.get_by_label("Drafts").check()
        page.get_by_role("button", name="Generate").click()
        key = page.get_by_role("textbox", name="Your new API key").input_value()
        assert KEY_RE.match(key)
        assert api(live_server.url, key, "/api/v1/projects/drafts/questions")[0] == 200
        assert api(live_server.url, key, "/api/v1/projects/trivia/questions")[0] == 404
        page.goto(keys_url)
        assert key not in page.content()
        created = ApiKey.objects.get(name="No-JS account key")

        row_action(page.locator(f"#key-{created.key_id}"), "Rotate").click()
        page.get_by_label("After 24 hours").check()
        page.get_by_role("button", name="Rotate key").click()
        new_key = page.get_by_role("textbox", name="Your new API key").input_value()
        assert KEY_RE.match(new_key) and new_key != key
        assert api(live_server.url, key, "/api/v1/projects/drafts/questions")[0] == 200  # grace period
        successor = ApiKey.objects.get(rotated_from=created)

        page.goto(keys_url)
        row_action(page.locator(f"#key-{successor.key_id}"), "Revoke").click()
        page.get_by_role("button", name="Revoke key").click()
        page.wait_for_url(keys_url)
        expect(page.locator(f"#key-{successor.key_id} .badge")).to_have_text("Revoked")
        assert api(live_server.url, new_key, "/api/v1/projects/drafts/questions")[0] == 401

        row_action(page.locator(f"#key-{successor.key_id}"), "Delete").click()
        page.get_by_role("button", name="Delete key").click()
        page.wait_for_url(keys_url)
        expect(page.locator(f"#key-{successor.key_id}")).to_have_count(0)
        page.screenshot(path=screenshot_dir / "account-4-nojs.png", full_page=True)
    finally:
        context.close()
