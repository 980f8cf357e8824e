"""Single sign-on in a real browser (issue #29): Log in shows **Sign in with** + the provider's name;
the provider (oidc-provider-mock, a real process: tests/oidc_provider.py) signs the person in and
sends them back signed in here; with the domain required, the password login is refused with a
sentence pointing to the button."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from accounts.models import User
from tests.factories import PASSWORD, UserFactory
from tests.oidc_provider import OidcProvider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def provider():
    with OidcProvider() as running:
        yield running


@pytest.fixture
def sso_on(settings, provider):
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "OAUTH_PKCE_ENABLED": True,
            "APPS": [
                {
                    "provider_id": "sso",
                    "name": "Acme SSO",
                    "client_id": "nbq-console",
                    "secret": "client-secret-for-tests",
                    "settings": {"server_url": provider.issuer, "oauth_pkce_enabled": True},
                }
            ],
        }
    }
    settings.OIDC_NAME = "Acme SSO"
    settings.OIDC_ALLOW_SIGNUP = True
    settings.SSO_REQUIRED_DOMAINS = []
    # what keys_console/settings.py adds for OIDC_ISSUER_URL: the form may be sent on to the provider
    settings.SECURE_CSP = {**settings.SECURE_CSP, "form-action": [*settings.SECURE_CSP["form-action"], provider.issuer]}
    return settings


def sign_in_at_the_provider(page, sub):
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()
    page.get_by_label("Subject").fill(sub)
    page.get_by_role("button", name="Authorize", exact=True).click()


def test_sign_in_with_the_provider_creates_the_account(page, live_server, provider, sso_on, screenshot_dir):
    provider.set_user("lea", email="lea@corp.example", email_verified=True)
    page.goto(live_server.url + "/accounts/login/")
    page.screenshot(path=screenshot_dir / "sso-1-login-button.png")
    page.get_by_role("button", name="Sign in with Acme SSO").click()
    page.wait_for_url(provider.issuer + "/oauth2/authorize**")
    sign_in_at_the_provider(page, "lea")

    page.wait_for_url(lambda url: urlsplit(url).netloc == urlsplit(live_server.url).netloc)
    expect(page.locator(".account-link")).to_contain_text("lea@corp.example")
    page.screenshot(path=screenshot_dir / "sso-2-signed-in.png")
    assert not User.objects.get(email="lea@corp.example").has_usable_password()


def test_a_required_domain_is_sent_to_the_button_then_signs_in_through_it(page, live_server, provider, sso_on):
    sso_on.SSO_REQUIRED_DOMAINS = ["corp.example"]
    UserFactory(email="ana@corp.example")
    provider.set_user("ana", email="ana@corp.example", email_verified=True)
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Email").fill("ana@corp.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Addresses at corp.example sign in with Acme SSO only")).to_be_visible()
    expect(page.locator(".account-link")).to_have_count(0)

    page.get_by_role("button", name="Sign in with Acme SSO").click()
    sign_in_at_the_provider(page, "ana")
    page.wait_for_url(lambda url: urlsplit(url).netloc == urlsplit(live_server.url).netloc)
    expect(page.locator(".account-link")).to_contain_text("ana@corp.example")
