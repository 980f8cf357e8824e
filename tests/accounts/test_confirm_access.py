"""Confirm access (sudo mode) before generating or rotating a key and changing a member's role;
two-factor authentication (authenticator app + recovery codes) at login and in Confirm access."""

import re
import time

import pytest
from django.core.cache import cache
from django.urls import reverse

from accounts.reauth import LOGGED_IN_AT
from keys.models import ApiKey
from projects.models import Membership, Role
from tests.factories import PASSWORD, MembershipFactory, ProjectFactory, UserFactory
from tests.helpers import HX, page_text, revealed_key
from tests.totp import fresh_totp_code, totp_code

pytestmark = pytest.mark.django_db

LOGIN = reverse("account_login")
REAUTH = reverse("account_reauthenticate")


@pytest.fixture
def owner(db):
    return UserFactory(email="owner@example.com")


@pytest.fixture
def project(owner):
    return ProjectFactory(owner=owner, name="Trivia", slug="trivia", active_questions=10)


def log_in(client, user):
    response = client.post(LOGIN, {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, page_text(response)


def go_stale(client, minutes=16):
    """As if the login happened `minutes` ago."""
    session = client.session
    session[LOGGED_IN_AT] = time.time() - minutes * 60
    session.save()


def sixteen_minutes_later(monkeypatch):
    """Move the clock (time.time: allauth's authentication records, the login stamp, TOTP) on."""
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 16 * 60)


def test_fresh_login_goes_straight_to_generate(client, owner, project):
    log_in(client, owner)
    response = client.get(reverse("project_keys:key_new", args=[project.slug]))
    assert response.status_code == 200
    assert "Generate a key" in page_text(response)


def test_stale_login_asks_confirm_access_then_goes_on_no_js(client, owner, project):
    log_in(client, owner)
    go_stale(client)
    url = reverse("project_keys:key_new", args=[project.slug])
    form = {"name": "Nightly", "permissions": ["read"], "expiration": "30"}
    response = client.post(url, form)
    assert response.status_code == 302
    assert response.url.startswith(REAUTH + "?next=")
    assert not ApiKey.objects.exists()

    page = client.get(response.url)
    text = page_text(page)
    assert "Confirm access" in text
    body = page.content.decode()
    assert re.search(r'<label for="id_password">Password:?</label>', body)
    assert re.search(r'<button type="submit"[^>]*>Confirm</button>', body)
    assert "<html" in body  # a full page without JavaScript
    assert "hx-post" not in body  # and with JavaScript the page posts as a page (not into a dialog)
    assert "15 minutes" in text

    wrong = client.post(response.url, {"password": "nope", "next": url})
    assert "Incorrect password." in page_text(wrong)
    assert not ApiKey.objects.exists()

    # The right password: the suspended POST goes on, and the reveal shows the new key.
    done = client.post(response.url, {"password": PASSWORD, "next": url})
    assert done.status_code == 200
    key = ApiKey.objects.get()
    assert key.name == "Nightly"
    assert revealed_key(done)
    # confirmed: no question for the next 15 minutes
    assert client.get(url).status_code == 200


def test_stale_login_with_htmx_gets_a_confirm_access_dialog(client, owner, project):
    log_in(client, owner)
    go_stale(client)
    url = reverse("project_keys:key_new", args=[project.slug])
    response = client.get(url, **HX)
    assert response.status_code == 302  # htmx follows it, keeping HX-Request
    dialog = client.get(response.url, **HX)
    body = dialog.content.decode()
    assert "<html" not in body and "<dialog" in body and "data-modal" in body
    assert "Confirm access" in page_text(dialog)
    assert 'hx-post="' + REAUTH + '"' in body
    confirmed = client.post(REAUTH, {"password": PASSWORD, "next": url}, **HX)
    assert confirmed.status_code == 302 and confirmed.url == url
    generate = client.get(url, **HX)
    assert "<html" not in generate.content.decode() and "Generate a key" in page_text(generate)


def test_rotate_asks_confirm_access_when_stale(client, owner, project):
    from keys.services import api_key_create
    from projects.actors import Actor

    key, _ = api_key_create(project=project, name="web", permissions=["read"], actor=Actor.cli())
    log_in(client, owner)
    go_stale(client)
    url = reverse("project_keys:key_rotate", args=[project.slug, key.key_id])
    response = client.post(url, {"grace": ""})
    assert response.status_code == 302 and response.url.startswith(REAUTH)
    assert ApiKey.objects.count() == 1
    done = client.post(response.url, {"password": PASSWORD, "next": url})
    assert done.status_code == 200
    assert ApiKey.objects.count() == 2


def test_role_change_asks_confirm_access_when_stale(client, owner, project):
    member = MembershipFactory(project=project, role=Role.VIEWER)
    log_in(client, owner)
    url = reverse("projects:member_role", args=[project.slug, member.pk])
    go_stale(client)
    response = client.post(url, {"role": "admin"})
    assert response.status_code == 302 and response.url.startswith(REAUTH)
    member.refresh_from_db()
    assert member.role == Role.VIEWER
    client.post(response.url, {"password": PASSWORD, "next": url})
    member.refresh_from_db()
    assert member.role == Role.ADMIN


def test_role_change_when_fresh_and_rules(client, owner, project):
    member = MembershipFactory(project=project, role=Role.ADMIN)
    log_in(client, owner)
    client.post(reverse("projects:member_role", args=[project.slug, member.pk]), {"role": "viewer"})
    member.refresh_from_db()
    assert member.role == Role.VIEWER
    owner_membership = Membership.objects.get(user=owner, project=project)
    assert (
        client.post(
            reverse("projects:member_role", args=[project.slug, owner_membership.pk]), {"role": "viewer"}
        ).status_code
        == 403
    )
    client.post(reverse("projects:member_role", args=[project.slug, member.pk]), {"role": "owner"})
    member.refresh_from_db()
    assert member.role == Role.VIEWER


def test_confirm_access_is_rate_limited(client, owner, project, settings):
    log_in(client, owner)
    go_stale(client)
    statuses = [client.post(REAUTH, {"password": "wrong"}).status_code for _ in range(11)]
    assert statuses[-1] == 429


# --- two-factor authentication ------------------------------------------------------------------


def enrol_totp(client, user) -> str:
    """Turn on the authenticator app for the logged-in `user`; return its secret."""
    url = reverse("mfa_activate_totp")
    response = client.get(url)
    if response.status_code == 302 and response.url.startswith(REAUTH):  # allauth asks Confirm access too
        client.post(response.url, {"password": PASSWORD, "next": url})
        response = client.get(url)
    assert response.status_code == 200, response
    found = re.search(
        r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"|value="([A-Z2-7]+)"[^>]*id="authenticator_secret"',
        response.content.decode(),
    )
    assert found is not None, "no authenticator secret on the page"
    secret = found.group(1) or found.group(2)
    response = client.post(url, {"code": fresh_totp_code(secret)})
    assert response.status_code == 302, page_text(response)
    cache.clear()  # allauth refuses a code twice in its 30-s period (replay); the next steps reuse "now"
    return secret


def test_totp_helper_matches_allauth():
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    at = 1_800_000_000
    assert totp_code(secret, at=at) == format_hotp_value(hotp_value(secret, at // 30))


def test_two_factor_login_asks_for_the_code(client, owner):
    log_in(client, owner)
    secret = enrol_totp(client, owner)
    client.post(reverse("account_logout"))

    response = client.post(LOGIN, {"login": owner.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("mfa_authenticate")
    assert client.get(reverse("projects:list")).status_code == 302  # not logged in yet
    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000" if totp_code(secret) != "000000" else "111111"})
    assert "Incorrect code." in page_text(wrong)
    done = client.post(reverse("mfa_authenticate"), {"code": fresh_totp_code(secret)})
    assert done.status_code == 302
    assert client.get(reverse("projects:list")).status_code == 200


def test_confirm_access_asks_password_and_code_with_two_factor(client, owner, project, monkeypatch):
    log_in(client, owner)
    secret = enrol_totp(client, owner)
    sixteen_minutes_later(monkeypatch)
    url = reverse("project_keys:key_new", args=[project.slug])
    response = client.get(url)
    assert response.url.startswith(REAUTH)
    page = page_text(client.get(response.url))
    assert "Password" in page and "Authentication code" in page
    # the password alone is not enough
    assert "This field is required." in page_text(client.post(REAUTH, {"password": PASSWORD, "next": url}))
    assert client.get(url).status_code == 302
    # a wrong code neither
    assert "Incorrect code." in page_text(client.post(REAUTH, {"password": PASSWORD, "code": "12345x", "next": url}))
    done = client.post(REAUTH, {"password": PASSWORD, "code": fresh_totp_code(secret), "next": url})
    assert done.status_code == 302 and done.url == url
    assert client.get(url).status_code == 200


def test_recovery_codes_work_in_confirm_access(client, owner, project, monkeypatch):
    log_in(client, owner)
    enrol_totp(client, owner)
    page = client.get(reverse("mfa_view_recovery_codes"))
    assert page.status_code == 200
    codes = re.findall(r"\b\d{8}\b", page_text(page))
    assert codes, page_text(page)
    sixteen_minutes_later(monkeypatch)
    url = reverse("project_keys:key_new", args=[project.slug])
    done = client.post(REAUTH, {"password": PASSWORD, "code": codes[0], "next": url})
    assert done.status_code == 302 and done.url == url, (codes, page_text(done))


# --- email, password and 2FA management: guarded like key actions ---------------------------------

EMAIL = reverse("account_email")


def test_stale_session_adding_an_email_address_is_asked_to_confirm_access(client, owner, mailoutbox):
    """The walk-around: a browser left open 16 minutes adds an address, confirms it from the mail,
    resets the password through it. Adding the address must ask to Confirm access first."""
    from allauth.account.models import EmailAddress

    log_in(client, owner)
    go_stale(client)
    response = client.post(EMAIL, {"action_add": "", "email": "attacker@example.net"})
    assert response.status_code == 302 and response.url.startswith(REAUTH + "?next=")
    assert not EmailAddress.objects.filter(email="attacker@example.net").exists()
    assert not mailoutbox
    # the right password replays the suspended POST: the address is added (and its mail sent)
    done = client.post(response.url, {"password": PASSWORD, "next": EMAIL})
    assert done.status_code in (200, 302)
    assert EmailAddress.objects.filter(user=owner, email="attacker@example.net", verified=False).exists()
    assert len(mailoutbox) == 1


def test_fresh_session_adds_an_email_address_straight_away(client, owner, mailoutbox):
    from allauth.account.models import EmailAddress

    log_in(client, owner)
    response = client.post(EMAIL, {"action_add": "", "email": "second@example.net"})
    assert response.status_code == 302 and not response.url.startswith(REAUTH)
    assert EmailAddress.objects.filter(user=owner, email="second@example.net").exists()


def test_stale_session_removing_or_making_primary_asks_confirm_access(client, owner):
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=owner, email="second@example.net", verified=True, primary=False)
    log_in(client, owner)
    go_stale(client)
    for action in ("action_remove", "action_primary"):
        response = client.post(EMAIL, {action: "", "email": "second@example.net"})
        assert response.status_code == 302 and response.url.startswith(REAUTH), action
    assert EmailAddress.objects.get(email="second@example.net").primary is False


def test_stale_session_changing_the_password_asks_confirm_access(client, owner):
    log_in(client, owner)
    go_stale(client)
    url = reverse("account_change_password")
    assert client.get(url).url.startswith(REAUTH)
    new = "a-long-unusual-passphrase-42"
    response = client.post(url, {"oldpassword": PASSWORD, "password1": new, "password2": new})
    assert response.status_code == 302 and response.url.startswith(REAUTH)
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
    client.post(response.url, {"password": PASSWORD, "next": url})
    owner.refresh_from_db()
    assert owner.check_password(new)


def test_stale_session_setting_a_password_asks_confirm_access(client, owner):
    owner.set_unusable_password()
    owner.save()
    client.force_login(owner)
    url = reverse("account_set_password")
    assert client.get(url).status_code == 200  # fresh
    go_stale(client)
    # no password to confirm with (the only Confirm access method): refused
    assert client.get(url).status_code == 403


def test_two_factor_management_uses_the_same_window_as_key_actions(client, owner):
    log_in(client, owner)
    url = reverse("mfa_activate_totp")
    assert client.get(url).status_code == 200  # a fresh login counts, as for Generate
    go_stale(client)
    assert client.get(url).url.startswith(REAUTH)


def test_stale_session_reading_recovery_codes_or_turning_2fa_off_asks_confirm_access(client, owner):
    log_in(client, owner)
    enrol_totp(client, owner)
    go_stale(client)
    for name in ("mfa_view_recovery_codes", "mfa_generate_recovery_codes", "mfa_deactivate_totp"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response.url.startswith(REAUTH), name
