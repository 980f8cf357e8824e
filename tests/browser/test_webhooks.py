"""Webhooks (#30) in a real browser: the owner opens Settings, adds an endpoint (a real receiver on
loopback), sees the signing secret once with Copy, sends a test event that the receiver verifies
with `standardwebhooks`, and finds the secret nowhere afterwards; the pages pass axe-core."""

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect
from standardwebhooks.webhooks import Webhook

from tests.browser.conftest import log_in
from tests.factories import PASSWORD, ProjectFactory, UserFactory

# Autouse fixtures: every socket connects to loopback only, and names resolve through a stub.
from tests.webhooks.conftest import Receiver, _loopback_only, dns  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_add_endpoint_secret_once_then_send_test_event(live_server, browser, settings, receiver, screenshot_dir):
    settings.WEBHOOKS_ALLOW_PRIVATE = True  # the receiver is on loopback; tests run with DEBUG=0
    owner = UserFactory(email="ana@example.com")
    ProjectFactory(owner=owner, name="Demo", slug="demo", active_questions=10)
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, bypass_csp=True, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    axe, reports = Axe(), []

    def check(what):
        results = axe.run(page)
        if results.violations_count:
            reports.append(f"--- {what}\n" + results.generate_report())

    try:
        log_in(page, live_server.url, owner.email, PASSWORD)
        page.goto(f"{live_server.url}/projects/demo/keys/")
        page.get_by_role("link", name="Settings").click()
        section = page.locator("#webhooks")
        expect(section.get_by_role("heading", name="Webhooks")).to_be_visible()
        section.get_by_role("link", name="Add endpoint").click()
        check("Add endpoint")

        # A refused URL first: a form error, nothing saved.
        page.get_by_label("URL").fill("http://169.254.169.254/latest/meta-data")
        page.get_by_label("All events").check()
        page.get_by_role("button", name="Add endpoint").click()
        expect(page.locator(".error")).to_contain_text("cloud metadata")
        check("Add endpoint with an error")

        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("Description").fill("Deploy pipeline")
        page.get_by_label("All events").uncheck()
        page.get_by_role("checkbox", name="key.revoked").check()
        page.get_by_role("checkbox", name="key.leaked").check()
        page.get_by_role("button", name="Add endpoint").click()

        secret_field = page.get_by_role("textbox", name="Signing secret")
        expect(secret_field).to_be_visible()
        secret = secret_field.input_value()
        assert secret.startswith("whsec_")
        page.get_by_role("button", name="Copy").click()
        expect(page.locator("[data-copy-status]")).to_have_text("The secret is on your clipboard.")
        assert page.evaluate("navigator.clipboard.readText()") == secret
        check("the secret, shown once")
        page.screenshot(path=str(screenshot_dir / "webhook-secret.png"), full_page=True)

        page.get_by_role("link", name="Done").click()
        expect(page.get_by_role("heading", name="Deliveries")).to_be_visible()
        assert secret not in page.content()
        page.get_by_role("button", name="Send test event").click()
        expect(page.locator("#flash, .flash").first).to_contain_text("Test event")
        receiver.wait_for(1)
        (request,) = receiver.received
        payload = Webhook(secret).verify(request["body"], request["headers"])
        assert payload["type"] == "webhook.test" and payload["data"]["project"] == "demo"
        page.reload()
        row = page.locator("tr.delivery-attempt").first
        expect(row).to_contain_text("webhook.test")
        expect(row).to_contain_text("200")
        check("Deliveries")
        page.screenshot(path=str(screenshot_dir / "webhook-deliveries.png"), full_page=True)

        # Rotate secret through its dialog (htmx): the new secret once; both sign for 24 h.
        page.get_by_role("link", name="Rotate secret").click()
        page.get_by_role("dialog").get_by_role("button", name="Rotate secret").click()
        new_field = page.get_by_role("dialog").get_by_role("textbox", name="Signing secret")
        expect(new_field).to_be_visible()
        new_secret = new_field.input_value()
        assert new_secret.startswith("whsec_") and new_secret != secret
        check("the rotated secret, in a dialog")
        page.get_by_role("dialog").get_by_role("link", name="Done").click()
        page.get_by_role("button", name="Send test event").click()
        receiver.wait_for(2)
        rotated = receiver.received[1]
        assert len(rotated["headers"]["webhook-signature"].split(" ")) == 2
        Webhook(new_secret).verify(rotated["body"], rotated["headers"])
        Webhook(secret).verify(rotated["body"], rotated["headers"])

        page.goto(f"{live_server.url}/projects/demo/settings/")
        expect(page.locator("#webhooks")).to_contain_text(receiver.url)
        expect(page.locator("#webhooks")).to_contain_text("key.revoked, key.leaked")
        assert secret not in page.content()
    finally:
        context.close()
    assert reports == [], "\n".join(reports)
