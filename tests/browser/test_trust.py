"""Accounts in a real browser: sign up → confirmation mail → link → accept an invitation; Confirm
access before Generate after a stale login (htmx and without JavaScript); 2FA enrolment and a
login with a code computed here."""

import re
import time
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from accounts.reauth import LOGGED_IN_AT
from keys.models import ApiKey
from projects.invitations import invitation_create
from projects.models import Invitation, Membership, Role
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, ProjectFactory, UserFactory
from tests.totp import fresh_totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEY_RE = re.compile(r"^nbq_live_[A-Za-z0-9]{32}$")
NEW_PASSWORD = "a-long-unusual-passphrase-42"


@pytest.fixture
def owner(transactional_db):
    return UserFactory(email="owner@example.com")


@pytest.fixture
def project(owner):
    return ProjectFactory(owner=owner, name="Trivia", slug="trivia", active_questions=10)


def link_in(message, path: str) -> str:
    match = re.search(r"https?://\S+" + re.escape(path) + r"\S*", message.body)
    assert match, message.body
    return match.group(0)


def make_login_stale(context, minutes=16):
    """As if this browser's login happened `minutes` ago (the session lives in the database)."""
    (cookie,) = [c for c in context.cookies() if c["name"] == "sessionid"]
    session = SessionStore(session_key=cookie["value"])
    session[LOGGED_IN_AT] = time.time() - minutes * 60
    session.save()


def test_signup_confirm_email_and_accept_an_invitation(page, live_server, owner, project, mailoutbox, screenshot_dir):
    invitation_create(
        project=project,
        email="newcomer@example.com",
        role=Role.VIEWER,
        invited_by=owner,
        accept_url=lambda token: f"{live_server.url}/projects/invitations/{token}/",
    )
    (invite_mail,) = mail.outbox
    page.goto(link_in(invite_mail, "/projects/invitations/"))
    expect(page.get_by_role("heading", name="Join Trivia")).to_be_visible()
    expect(page.get_by_text("invited newcomer@example.com to join Trivia as Viewer")).to_be_visible()
    assert "/projects/invitations/accept/" in page.url  # the token left the address bar
    page.screenshot(path=screenshot_dir / "trust-1-invitation-newcomer.png")

    page.get_by_role("main").get_by_role("link", name="Sign up").click()
    expect(page.get_by_label("Email")).to_have_value("newcomer@example.com")  # filled in from the invitation
    expect(page.locator("input[type=password]")).to_have_count(1)  # the password once
    page.get_by_label(re.compile(r"^Password:?$")).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    assert not Membership.objects.filter(user__email="newcomer@example.com").exists()

    confirm_mail = mail.outbox[-1]
    assert confirm_mail.to == ["newcomer@example.com"]
    page.goto(link_in(confirm_mail, "/accounts/confirm-email/"))  # opening the link confirms
    # Back on the invitation, logged in with the confirmed address.
    expect(page.get_by_role("button", name="Accept invitation")).to_be_visible()
    page.screenshot(path=screenshot_dir / "trust-2-invitation-accept.png")
    page.get_by_role("button", name="Accept invitation").click()
    expect(page.get_by_text("You joined Trivia.")).to_be_visible()
    member = Membership.objects.get(project=project, user__email="newcomer@example.com")
    assert member.role == Role.VIEWER


def test_expired_invitation_opened_logged_out_says_expired_and_offers_no_sign_up(page, live_server, owner, project):
    invitation = invitation_create(
        project=project,
        email="late@example.com",
        role=Role.VIEWER,
        invited_by=owner,
        accept_url=lambda token: f"{live_server.url}/projects/invitations/{token}/",
    )
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(days=2))
    page.goto(link_in(mail.outbox[-1], "/projects/invitations/"))
    main = page.get_by_role("main")
    expect(main.get_by_role("heading", level=1)).to_have_text("This invitation has expired")
    expect(main).to_contain_text("— ask owner@example.com for a new one")
    expect(main.get_by_role("link", name="Sign up")).to_have_count(0)
    expect(main.get_by_role("link", name="Log in")).to_have_count(0)
    expect(main.get_by_role("button")).to_have_count(0)


def _confirm_access_then_generate(page, dialog_scope, name):
    expect(dialog_scope.get_by_role("heading", name="Confirm access")).to_be_visible()
    dialog_scope.get_by_label("Password").fill(PASSWORD)
    dialog_scope.get_by_role("button", name="Confirm").click()


def test_confirm_access_before_generate_with_htmx(page, live_server, owner, project, screenshot_dir):
    log_in(page, live_server.url, owner.email, PASSWORD)
    make_login_stale(page.context)
    page.goto(f"{live_server.url}/projects/trivia/keys/")
    page.evaluate("window.__noReload = 'still here'")

    page.get_by_role("link", name="Generate a key").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Confirm access")).to_be_visible()
    page.screenshot(path=screenshot_dir / "trust-3-confirm-access-dialog.png")
    dialog.get_by_label("Password").fill("not the password")
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog).to_contain_text("Incorrect password.")
    dialog.get_by_label("Password").fill(PASSWORD)
    dialog.get_by_role("button", name="Confirm").click()

    # The action goes on: the Generate dialog, in the same page.
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Generate a key")).to_be_visible()
    dialog.get_by_label("Name").fill("After confirming")
    dialog.get_by_label("Read").check()
    dialog.get_by_role("button", name="Generate").click()
    key = page.get_by_role("dialog").get_by_role("textbox", name="Your new API key").input_value()
    assert KEY_RE.match(key)
    assert page.evaluate("window.__noReload") == "still here"
    assert ApiKey.objects.filter(name="After confirming").exists()


def test_confirm_access_before_generate_without_javascript(browser, live_server, owner, project, screenshot_dir):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        log_in(page, live_server.url, owner.email, PASSWORD)
        make_login_stale(context)
        page.goto(f"{live_server.url}/projects/trivia/keys/")
        page.get_by_role("link", name="Generate a key").click()
        page.wait_for_url("**/accounts/reauthenticate/**")
        expect(page).to_have_title(re.compile("Confirm access"))
        expect(page.get_by_role("heading", name="Confirm access")).to_be_visible()
        page.screenshot(path=screenshot_dir / "trust-4-confirm-access-page.png")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Confirm").click()
        page.wait_for_url("**/keys/new/")
        page.get_by_label("Name").fill("No-JS confirmed")
        page.get_by_label("Read").check()
        page.get_by_role("button", name="Generate").click()
        key = page.get_by_role("textbox", name="Your new API key").input_value()
        assert KEY_RE.match(key)
    finally:
        context.close()


def test_fresh_login_generates_without_confirm_access(page, live_server, owner, project):
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/trivia/keys/")
    page.get_by_role("link", name="Generate a key").click()
    expect(page.get_by_role("dialog").get_by_role("heading", name="Generate a key")).to_be_visible()


def test_two_factor_enrolment_and_login_with_a_code(page, live_server, owner, screenshot_dir):
    log_in(page, live_server.url, owner.email, PASSWORD)
    page.get_by_role("link", name=owner.email).click()
    page.get_by_role("link", name="Two-factor authentication").click()
    page.get_by_role("link", name="Activate").click()
    if "reauthenticate" in page.url:  # allauth asks to confirm access before changing 2FA
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Confirm").click()
        page.wait_for_url("**/2fa/totp/activate/")
    expect(page.get_by_role("heading", name="Confirm access")).to_have_count(0)  # a page, not a page in a page
    expect(page.locator("header.topbar")).to_have_count(1)
    secret = page.locator("#authenticator_secret").input_value()
    page.get_by_label("Authenticator code").fill(fresh_totp_code(secret))
    page.screenshot(path=screenshot_dir / "trust-5-2fa-activate.png")
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text(re.compile("Authenticator app activated|recovery codes", re.I)).first).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    cache.clear()  # the enrolment's code is spent for its 30-s period (replay protection); reuse "now"
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/2fa/authenticate/**")
    page.get_by_label("Code").fill(fresh_totp_code(secret))
    page.screenshot(path=screenshot_dir / "trust-6-2fa-login.png")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/projects/")
    expect(page.get_by_role("link", name=owner.email)).to_be_visible()


def test_stale_browser_adding_an_email_address_is_asked_to_confirm_access(page, live_server, owner, mailoutbox):
    """The walk-around of issue 19: a browser left open 16 minutes adds an email address (then it
    could confirm it and reset the password through it). It is asked to Confirm access first."""
    from allauth.account.models import EmailAddress

    log_in(page, live_server.url, owner.email, PASSWORD)
    make_login_stale(page.context)
    page.goto(live_server.url + "/accounts/email/")
    page.locator("#id_email").fill("attacker@example.net")
    page.get_by_role("button", name="Add address").click()
    page.wait_for_url("**/accounts/reauthenticate/**")
    expect(page.get_by_role("heading", name="Confirm access")).to_be_visible()
    assert not EmailAddress.objects.filter(email="attacker@example.net").exists()
    assert not mail.outbox
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("attacker@example.net").first).to_be_visible()
    assert EmailAddress.objects.filter(user=owner, email="attacker@example.net", verified=False).exists()
