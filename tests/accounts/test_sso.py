"""Single sign-on (issue #29) against a real OpenID Connect provider process (oidc-provider-mock,
tests/oidc_provider.py) and the console on Django's live server, spoken to over HTTP with
`requests` as a browser would: the login page's button, the provider's sign-in, the callback,
the code exchanged server to server, the ID token checked."""

import base64
import hashlib
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.sessions.backends.db import SessionStore
from django.urls import reverse

from accounts import sso
from accounts.models import User
from accounts.reauth import LOGGED_IN_AT
from keys.models import ApiKey
from projects.models import Membership, Project
from tests.factories import PASSWORD, ProjectFactory, UserFactory
from tests.oidc_provider import OidcProvider

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def provider():
    with OidcProvider() as running:
        yield running


def _apps(provider, name="Acme SSO"):
    return {
        "openid_connect": {
            "OAUTH_PKCE_ENABLED": True,
            "APPS": [
                {
                    "provider_id": "sso",
                    "name": name,
                    "client_id": "nbq-console",
                    "secret": "client-secret-for-tests",
                    "settings": {"server_url": provider.issuer, "oauth_pkce_enabled": True},
                }
            ],
        }
    }


@pytest.fixture
def sso_on(settings, provider):
    settings.SOCIALACCOUNT_PROVIDERS = _apps(provider)
    settings.OIDC_NAME = "Acme SSO"
    settings.OIDC_ALLOW_SIGNUP = True
    settings.SSO_REQUIRED_DOMAINS = []
    return settings


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def start_sign_in(browser: requests.Session, app: str) -> str:
    """Log in page → the button's POST; returns the provider's authorization URL."""
    page = browser.get(app + reverse("account_login"))
    assert "Sign in with Acme SSO" in page.text
    response = browser.post(
        app + sso.login_url(),
        data={"csrfmiddlewaretoken": csrf_from(page.text), "process": "login"},
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text[:1000]
    return response.headers["Location"]


def sign_in(provider, app: str, sub: str, browser: requests.Session | None = None):
    browser = browser or requests.Session()
    authorize = start_sign_in(browser, app)
    back = provider.authorize(authorize, sub)
    done = browser.get(back, allow_redirects=False)
    return browser, authorize, done


def logged_in_as(browser: requests.Session, app: str) -> str | None:
    page = browser.get(app + reverse("account"), allow_redirects=False)
    if page.status_code != 200:
        return None
    found = re.search(r'class="account-link"[^>]*><bdi>([^<]+)</bdi>', page.text)
    return found.group(1) if found else "?"


# --- the button ------------------------------------------------------------------------------


def test_no_button_and_no_route_when_not_configured(client, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {"openid_connect": {"APPS": []}}
    assert "Sign in with" not in client.get(reverse("account_login")).content.decode()
    assert "Sign in with" not in client.get(reverse("account_signup")).content.decode()
    assert client.post(sso.login_url(), {"process": "login"}).status_code == 404


def test_login_and_signup_pages_show_the_button_when_configured(client, sso_on):
    for name in ("account_login", "account_signup"):
        body = client.get(reverse(name)).content.decode()
        assert f'action="{sso.login_url()}"' in body
        assert re.search(r'<button type="submit" class="button">Sign in with Acme SSO</button>', body)


# --- signing in --------------------------------------------------------------------------------


def test_a_new_verified_address_creates_an_account_without_a_password(live_server, provider, sso_on, monkeypatch):
    provider.set_user("new-1", email="newcomer@corp.example", email_verified=True, name="New Comer")
    sent = []  # what the console sends the provider, server to server (the live server runs here)
    real_request = requests.Session.request

    def spy(self, method, url, *args, **kwargs):
        sent.append((method, url, kwargs.get("data")))
        return real_request(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    browser, authorize, done = sign_in(provider, live_server.url, "new-1")

    # The authorization code flow with PKCE, found through the issuer's discovery document.
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(provider.issuer + "/oauth2/authorize?")
    assert query["response_type"] == ["code"] and query["client_id"] == ["nbq-console"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert "openid" in query["scope"][0].split() and "email" in query["scope"][0].split()
    # ... and the code is exchanged with the verifier whose S256 hash was the challenge
    (token_request,) = [data for method, url, data in sent if url == provider.issuer + "/oauth2/token"]
    digest = hashlib.sha256(token_request["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"][0]
    assert token_request["grant_type"] == "authorization_code"
    assert provider.issuer + "/.well-known/openid-configuration" in [url for _, url, _ in sent]  # discovery

    assert done.status_code == 302, done.text[:1000]
    user = User.objects.get(email="newcomer@corp.example")
    assert not user.has_usable_password()
    assert logged_in_as(browser, live_server.url) == "newcomer@corp.example"
    # like an address confirmed by mail: its Sandbox, and it lands there
    assert Membership.objects.filter(user=user, project__name="Sandbox").exists()


def test_a_verified_address_matching_an_account_signs_into_it(live_server, provider, sso_on):
    ana = UserFactory(email="ana@corp.example")
    provider.set_user("ana-sub", email="ana@corp.example", email_verified=True)
    browser, _, done = sign_in(provider, live_server.url, "ana-sub")
    assert done.status_code == 302
    assert logged_in_as(browser, live_server.url) == "ana@corp.example"
    assert User.objects.filter(email="ana@corp.example").count() == 1
    ana.refresh_from_db()
    assert ana.check_password(PASSWORD)  # her confirmed address: her password is left alone
    assert ana.socialaccount_set.get().uid == "ana-sub"  # linked: next time by the provider's id


def test_an_address_the_provider_does_not_call_verified_signs_nobody_in(live_server, provider, sso_on):
    UserFactory(email="victim@corp.example")
    provider.set_user("mallory", email="victim@corp.example", email_verified=False)
    browser, _, done = sign_in(provider, live_server.url, "mallory")
    assert done.status_code == 403
    assert "did not say that your email address is verified" in done.text
    assert logged_in_as(browser, live_server.url) is None

    provider.set_user("nobody", email="nobody@corp.example")  # no email_verified claim at all
    browser, _, done = sign_in(provider, live_server.url, "nobody")
    assert done.status_code == 403 and logged_in_as(browser, live_server.url) is None
    assert not User.objects.filter(email="nobody@corp.example").exists()


def test_no_new_accounts_with_signup_off(live_server, provider, sso_on):
    sso_on.OIDC_ALLOW_SIGNUP = False
    UserFactory(email="known@corp.example")
    provider.set_user("stranger", email="stranger@corp.example", email_verified=True)
    browser, _, done = sign_in(provider, live_server.url, "stranger")
    assert not User.objects.filter(email="stranger@corp.example").exists()
    assert logged_in_as(browser, live_server.url) is None
    provider.set_user("known", email="known@corp.example", email_verified=True)
    browser, _, done = sign_in(provider, live_server.url, "known")
    assert logged_in_as(browser, live_server.url) == "known@corp.example"


# --- SSO_REQUIRED_DOMAINS ------------------------------------------------------------------------


def test_a_required_domain_is_refused_password_login_reset_and_signup(client, sso_on, mailoutbox):
    sso_on.SSO_REQUIRED_DOMAINS = ["corp.example"]
    UserFactory(email="ana@corp.example")
    sentence = "Addresses at corp.example sign in with Acme SSO only: use the “Sign in with Acme SSO” button."

    login = client.post(reverse("account_login"), {"login": "ana@corp.example", "password": PASSWORD})
    assert login.status_code == 200 and sentence in login.content.decode()
    assert "_auth_user_id" not in client.session
    # the same answer with a wrong password (no oracle) and for an address without an account
    for email, password in (("ana@corp.example", "wrong"), ("ghost@corp.example", "whatever")):
        refused = client.post(reverse("account_login"), {"login": email, "password": password})
        assert sentence.replace("corp.example", email.rpartition("@")[2]) in refused.content.decode()

    reset = client.post(reverse("account_reset_password"), {"email": "ana@corp.example"})
    assert sentence in reset.content.decode() and not mailoutbox
    signup = client.post(reverse("account_signup"), {"email": "new@corp.example", "password1": "a-long-passphrase-42"})
    assert sentence in signup.content.decode()
    assert not User.objects.filter(email="new@corp.example").exists()

    # other domains: as before
    UserFactory(email="bob@elsewhere.example")
    assert (
        client.post(reverse("account_login"), {"login": "bob@elsewhere.example", "password": PASSWORD}).status_code
        == 302
    )


def test_a_required_domain_still_signs_in_through_the_provider(live_server, provider, sso_on):
    sso_on.SSO_REQUIRED_DOMAINS = ["corp.example"]
    UserFactory(email="ana@corp.example")
    provider.set_user("ana-2", email="ana@corp.example", email_verified=True)
    browser, _, done = sign_in(provider, live_server.url, "ana-2")
    assert logged_in_as(browser, live_server.url) == "ana@corp.example"


# --- Confirm access through the provider -------------------------------------------------------


def provider_form_action(html: str) -> str:
    found = re.search(r'<form method="post" action="(/accounts/oidc/sso/login/[^"]*)"', html)
    assert found, html[:3000]
    return found.group(1).replace("&amp;", "&")


def go_stale(browser: requests.Session, minutes=16):
    session = SessionStore(session_key=browser.cookies["sessionid"])
    session[LOGGED_IN_AT] = time.time() - minutes * 60
    session.save()


def test_confirm_access_without_a_password_goes_through_the_provider_then_goes_on(live_server, provider, sso_on):
    provider.set_user("sso-only", email="sso-only@corp.example", email_verified=True)
    browser, _, _ = sign_in(provider, live_server.url, "sso-only")
    user = User.objects.get(email="sso-only@corp.example")
    project = ProjectFactory(owner=user, name="Trivia", slug="trivia", active_questions=10)
    go_stale(browser)

    app = live_server.url
    url = reverse("project_keys:key_new", args=[project.slug])
    form_page = browser.get(app + reverse("project_keys:api_keys", args=[project.slug]))
    data = {"csrfmiddlewaretoken": csrf_from(form_page.text), "name": "Nightly", "permissions": "read"}
    data["expiration"] = "30"
    asked = browser.post(app + url, data=data, allow_redirects=False)
    assert asked.status_code == 302 and asked.headers["Location"].startswith(reverse("account_sso_reauthenticate"))
    assert not ApiKey.objects.exists()

    page = browser.get(app + asked.headers["Location"])
    assert "Confirm access" in page.text and "Sign in with Acme SSO" in page.text
    action = provider_form_action(page.text)
    assert "prompt%3Dlogin" in action  # the provider is asked to ask again
    to_provider = browser.post(
        app + action,
        data={"csrfmiddlewaretoken": csrf_from(page.text), "process": "login", "next": url},
        allow_redirects=False,
    )
    assert to_provider.status_code == 302
    back = provider.authorize(to_provider.headers["Location"], "sso-only")
    done = browser.get(back, allow_redirects=False)
    # the suspended POST went on: the key exists and its reveal is this very response
    assert done.status_code == 200, done.text[:1000]
    key = ApiKey.objects.get()
    assert key.name == "Nightly"
    assert re.search(r"nbq_live_[A-Za-z0-9]{32}", done.text)
    # confirmed: the next sensitive action goes straight on
    assert browser.get(app + url, allow_redirects=False).status_code == 200


def test_confirm_access_refuses_someone_else_coming_back_from_the_provider(live_server, provider, sso_on):
    provider.set_user("owner-sub", email="owner@corp.example", email_verified=True)
    provider.set_user("other-sub", email="other@corp.example", email_verified=True)
    browser, _, _ = sign_in(provider, live_server.url, "owner-sub")
    sign_in(provider, live_server.url, "other-sub")  # another account exists at the provider and here
    go_stale(browser)
    app = live_server.url
    page = browser.get(app + reverse("account_sso_reauthenticate") + "?next=/accounts/")
    to_provider = browser.post(
        app + provider_form_action(page.text),
        data={"csrfmiddlewaretoken": csrf_from(page.text), "process": "login", "next": "/accounts/"},
        allow_redirects=False,
    )
    back = provider.authorize(to_provider.headers["Location"], "other-sub")
    done = browser.get(back, allow_redirects=False)
    assert done.status_code == 403
    assert "signed in someone other than owner@corp.example" in done.text
    assert logged_in_as(browser, app) == "owner@corp.example"  # still the owner, still not confirmed
    project = ProjectFactory(owner=User.objects.get(email="owner@corp.example"), active_questions=10)
    again = browser.get(app + reverse("project_keys:key_new", args=[project.slug]), allow_redirects=False)
    assert again.status_code == 302 and again.headers["Location"].startswith(reverse("account_sso_reauthenticate"))


def test_an_account_with_a_password_still_confirms_with_it(client, sso_on):
    user = UserFactory(email="pw@elsewhere.example")
    client.force_login(user)
    session = client.session
    session[LOGGED_IN_AT] = time.time() - 16 * 60
    session.save()
    project = ProjectFactory(owner=user, active_questions=10)
    response = client.get(reverse("project_keys:key_new", args=[project.slug]))
    assert response.url.startswith(reverse("account_reauthenticate"))
    assert Project.objects.count() == 1


# --- configuration from the environment (keys_console/env.py, like every variable) ---------------


def _settings_in_a_fresh_process(**env):
    import os
    import subprocess
    import sys

    from django.conf import settings as django_settings

    base = {k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "SSO_"))}
    code = (
        "import os, json; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'keys_console.settings');"
        "from keys_console import settings as s;"
        "print(json.dumps([s.SOCIALACCOUNT_PROVIDERS, s.OIDC_NAME, s.OIDC_ALLOW_SIGNUP, s.SSO_REQUIRED_DOMAINS,"
        " [str(source) for source in s.SECURE_CSP['form-action']]]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=django_settings.BASE_DIR,
        env={**base, "SECRET_KEY": "x" * 60, "REDIS_URL": "redis://127.0.0.1:1/0", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_single_sign_on_is_configured_from_the_environment():
    import json

    done = _settings_in_a_fresh_process(
        DEBUG="0",
        OIDC_ISSUER_URL="https://login.corp.example/realms/team",
        OIDC_CLIENT_ID="nbq",
        OIDC_CLIENT_SECRET="s3cret",
        OIDC_NAME="Corp SSO",
        OIDC_ALLOW_SIGNUP="0",
        SSO_REQUIRED_DOMAINS="Corp.example, @subsidiary.example",
    )
    assert done.returncode == 0, done.stderr
    providers, name, allow_signup, domains, form_action = json.loads(done.stdout)
    # the button's form is redirected to the provider: the CSP lets it go there, and nowhere else
    assert form_action == ["'self'", "https://login.corp.example"]
    (app,) = providers["openid_connect"]["APPS"]
    assert app["client_id"] == "nbq" and app["name"] == "Corp SSO"
    assert app["settings"] == {"server_url": "https://login.corp.example/realms/team", "oauth_pkce_enabled": True}
    assert (name, allow_signup, domains) == ("Corp SSO", False, ["corp.example", "subsidiary.example"])

    unset = _settings_in_a_fresh_process(DEBUG="0")
    assert unset.returncode == 0, unset.stderr
    assert json.loads(unset.stdout)[0]["openid_connect"]["APPS"] == []
    assert json.loads(unset.stdout)[4] == ["'self'"]


@pytest.mark.parametrize(
    "env, named",
    [
        ({"DEBUG": "0", "OIDC_ISSUER_URL": "http://login.corp.example", "OIDC_CLIENT_ID": "x"}, "OIDC_ISSUER_URL"),
        ({"DEBUG": "0", "OIDC_ISSUER_URL": "https://login.corp.example"}, "OIDC_CLIENT_ID"),
        ({"DEBUG": "0", "SSO_REQUIRED_DOMAINS": "corp.example"}, "OIDC_ISSUER_URL"),
        ({"DEBUG": "0", "OIDC_ALLOW_SIGNUP": "maybe"}, "OIDC_ALLOW_SIGNUP"),
    ],
)
def test_a_half_or_malformed_configuration_stops_the_start_naming_the_variable(env, named):
    done = _settings_in_a_fresh_process(**env)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: ") and named in last, done.stderr
