"""From the sign-up page to a copied key that answers the API, as a new person does it, counted:
every click, filled field, key press that submits and opened mail link is one action. The goal is
7 or fewer (Stripe hands a test key at sign-up); the Sandbox makes it possible."""

import json
import re
import urllib.error
import urllib.request

import pytest
from django.core import mail
from playwright.sync_api import expect

from projects.models import Project
from tests.factories import ProjectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a-long-unusual-passphrase-42"
TEST_KEY = re.compile(r"^nbq_test_[A-Za-z0-9]{32}$")
MOST_ACTIONS = 7


class Counted:
    """The person's hands: each method is one action, counted."""

    def __init__(self, page):
        self.page, self.actions = page, []

    def fill(self, locator, value, what):
        locator.fill(value)
        self.actions.append(f"fill {what}")

    def click(self, locator, what):
        locator.click()
        self.actions.append(f"click {what}")

    def open_link(self, url, what):
        self.page.goto(url)
        self.actions.append(f"open {what}")


def _call(url, key):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_sign_up_to_a_working_copied_key_in_7_actions_or_fewer(page, live_server, screenshot_dir):
    ProjectFactory(name="Demo", slug="demo", active_questions=12)  # somebody else's real project
    hands = Counted(page)
    page.goto(live_server.url + "/accounts/signup/")  # where the count starts

    hands.fill(page.get_by_label("Email"), "first.timer@example.com", "Email")
    hands.fill(page.get_by_label(re.compile(r"^Password:?$")), NEW_PASSWORD, "Password")
    hands.click(page.get_by_role("button", name=re.compile("Sign up", re.I)), "Sign up")
    expect(page.get_by_role("heading", name=re.compile("check your email", re.I))).to_be_visible()

    (confirm_mail,) = mail.outbox
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+", confirm_mail.body).group(0)
    hands.open_link(link, "the mail's link")

    sandbox = Project.objects.get(is_sandbox=True)
    assert page.url.endswith(f"/projects/{sandbox.slug}/keys/new/")
    dialog = page.get_by_role("dialog", name="Generate a key")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Name")).to_have_value("Sandbox key")
    page.screenshot(path=screenshot_dir / "first-key-1-generate.png")
    hands.click(dialog.get_by_role("button", name="Generate"), "Generate")

    reveal = page.get_by_role("dialog", name="Your new API key")
    expect(reveal).to_be_visible()
    hands.click(reveal.get_by_role("button", name="Copy"), "Copy")
    page.screenshot(path=screenshot_dir / "first-key-2-copied.png")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert TEST_KEY.match(copied), copied

    status, body = _call(live_server.url + "/api/v1/key", copied)
    assert status == 200, body
    assert body["kind"] == "project" and body["project"]["slug"] == sandbox.slug

    print(f"\nactions from sign-up to a working key: {len(hands.actions)}: {', '.join(hands.actions)}")
    assert len(hands.actions) <= MOST_ACTIONS, hands.actions

    # The test key is the Sandbox's alone: the Demo project answers 404, over real HTTP too.
    status, body = _call(live_server.url + "/api/v1/projects/demo/questions", copied)
    assert status == 404 and body["error"]["code"] == "not_found"
