"""allauth's pages in the console's layout and voice (issue 22, One design): sentence-case headings,
one centred card, the Account tabs on the Account pages, no "contact us" without a contact, a
resend-confirmation button, the 2FA secret in a copyable field."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory
from tests.helpers import page_text

pytestmark = pytest.mark.django_db

# Page → its h1, in sentence case (allauth's own are Title Case: "Email Addresses", "Change Password").
LOGGED_OUT = {
    "account_login": "Log in",
    "account_signup": "Create your account",
    "account_reset_password": "Reset your password",
    "account_reset_password_done": "Check your email",
    "account_email_verification_sent": "Check your email",
}
LOGGED_IN = {
    "account": "Account",
    "account_email": "Email addresses",
    "account_change_password": "Change password",
    "mfa_index": "Two-factor authentication",
    "mfa_activate_totp": "Set up an authenticator app",
    "account_reauthenticate": "Confirm access",
}
TABBED = {"account", "account_email", "account_change_password", "mfa_index", "mfa_activate_totp"}


@pytest.fixture
def person(client):
    person = UserFactory(email="person@example.com")
    response = client.post(reverse("account_login"), {"login": person.email, "password": PASSWORD})
    assert response.status_code == 302
    return person


def _h1(response) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", response.content.decode(), re.S)
    assert match, page_text(response)
    return re.sub(r"<[^>]+>|\s+", " ", match.group(1)).strip()


def _is_sentence_case(text: str) -> bool:
    words = re.findall(r"[A-Za-z][\w-]*", text)
    return all(not w[0].isupper() for w in words[1:])


def _assert_console_page(response, heading, *, tabs):
    assert response.status_code == 200, page_text(response)
    body = response.content.decode()
    assert _h1(response) == heading
    assert _is_sentence_case(heading)
    title = re.search(r"<title>(.*?)</title>", body, re.S).group(1)
    title = re.sub(r"\s+", " ", title).strip()
    assert title.endswith(" · NBQ Keys Console") and _is_sentence_case(title.split(" · ")[0]), title
    assert 'class="auth-page"' in body and "auth-card" in body  # the centred card
    assert ("Account settings" in body) is tabs
    assert "contact us" not in body.lower()


@pytest.mark.parametrize(("name", "heading"), LOGGED_OUT.items())
def test_logged_out_pages_in_the_console_voice(client, name, heading):
    _assert_console_page(client.get(reverse(name)), heading, tabs=False)


@pytest.mark.parametrize(("name", "heading"), LOGGED_IN.items())
def test_account_pages_in_the_console_voice(client, person, name, heading):
    response = client.get(reverse(name))
    if response.status_code == 302 and response.url.startswith(reverse("account_reauthenticate")):
        client.post(response.url, {"password": PASSWORD, "next": reverse(name)})
        response = client.get(reverse(name))
    _assert_console_page(response, heading, tabs=name in TABBED)
    if name in TABBED:
        current = re.search(r'<a href="([^"]+)" aria-current="page">', response.content.decode())
        assert current, "no Account tab marks the page"


def test_password_reset_names_no_contact_it_cannot_give(client):
    text = page_text(client.get(reverse("account_reset_password")))
    assert "contact" not in text.lower()
    text = page_text(client.get(reverse("account_email_verification_sent")))
    assert "contact" not in text.lower() and "log in" in text.lower()  # the way to a new link


def test_email_page_resends_the_confirmation(client, person, mailoutbox):
    EmailAddress.objects.create(user=person, email="second@example.com", verified=False, primary=False)
    page = client.get(reverse("account_email"))
    body = page.content.decode()
    assert re.search(r'<button type="submit"[^>]*name="action_send">Resend confirmation</button>', body)
    assert "Not confirmed" in page_text(page)
    response = client.post(reverse("account_email"), {"email": "second@example.com", "action_send": ""})
    assert response.status_code == 302
    assert [m.to for m in mailoutbox] == [["second@example.com"]]
    assert "Confirmation link sent to second@example.com." in page_text(client.get(response.url))


def test_two_factor_secret_is_copyable(client, person):
    url = reverse("mfa_activate_totp")
    response = client.get(url)
    if response.status_code == 302:
        client.post(response.url, {"password": PASSWORD, "next": url})
        response = client.get(url)
    body = response.content.decode()
    field = re.search(r'<input type="text" id="authenticator_secret"[^>]*>', body).group(0)
    assert "readonly" in field and "disabled" not in field
    assert 'data-copy="#authenticator_secret"' in body
    assert re.search(r'<figure class="qr-tile"><img class="qr" src="data:image/svg\+xml;base64,', body)
