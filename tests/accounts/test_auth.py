"""Accounts on django-allauth: sign-up with a confirmed address, log in / out, password change and
reset, rate limits on failed logins, redirects and session fixation."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from tests.factories import PASSWORD, UserFactory
from tests.helpers import page_text

pytestmark = pytest.mark.django_db

LOGIN = reverse("account_login")
SIGNUP = reverse("account_signup")
PROJECTS = reverse("projects:list")
GOOD_PASSWORD = "a-long-unusual-passphrase-42"
TOO_MANY = "Too many failed login attempts"


def _logged_in_user_id(client):
    return client.session.get(SESSION_KEY)


def _signup(client, email, password=GOOD_PASSWORD, **extra):
    return client.post(SIGNUP, {"email": email, "password1": password, **extra})


def _link(message, path_start="/accounts/"):
    match = re.search(r"https?://[^/\s]+(" + re.escape(path_start) + r"\S+)", message.body)
    assert match, message.body
    return match.group(1)


# --- sign-up --------------------------------------------------------------------------------


def test_signup_sends_a_confirmation_and_logs_in_only_after_it(client, mailoutbox):
    response = _signup(client, "New.Person@Example.com")
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    user = User.objects.get()
    assert user.email == "new.person@example.com"
    assert user.check_password(GOOD_PASSWORD)
    assert not user.is_staff and not user.is_superuser
    assert _logged_in_user_id(client) is None  # not before the address is confirmed
    assert not EmailAddress.objects.get(user=user).verified

    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["new.person@example.com"]
    link = _link(mailoutbox[0], "/accounts/confirm-email/")
    # Opening the link confirms (no second click) and logs in the session that signed up.
    response = client.get(link)
    assert response.status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    assert str(_logged_in_user_id(client)) == str(user.pk)


def test_unconfirmed_account_cannot_log_in(client, mailoutbox):
    _signup(client, "later@example.com")
    mailoutbox.clear()
    client.cookies.clear()
    response = client.post(LOGIN, {"login": "later@example.com", "password": GOOD_PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert _logged_in_user_id(client) is None


def test_signup_does_not_reveal_an_existing_account(client, user, mailoutbox):
    """Sign-up with a taken address answers exactly like a new one; the owner gets a mail."""
    fresh = _signup(client, "someone-new@example.com")
    client.cookies.clear()
    taken = _signup(client, user.email.upper())
    assert taken.status_code == fresh.status_code == 302
    assert taken.url == fresh.url
    assert "already" not in page_text(client.get(taken.url)).lower()
    assert User.objects.filter(email=user.email).count() == 1
    assert _logged_in_user_id(client) is None
    assert [m.to for m in mailoutbox] == [["someone-new@example.com"], [user.email]]


def test_signup_asks_the_password_once(client):
    body = client.get(SIGNUP).content.decode()
    assert body.count('type="password"') == 1
    assert 'name="password2"' not in body
    assert _signup(client, "once@example.com").status_code == 302
    assert User.objects.get().check_password(GOOD_PASSWORD)


@pytest.mark.parametrize(
    ("password1", "message"),
    [
        ("password", "This password is too common."),
        ("abc", "This password is too short."),
        ("83749201583", "This password is entirely numeric."),
    ],
    ids=["common", "short", "numeric"],
)
def test_signup_refuses_bad_passwords(client, password1, message):
    response = client.post(SIGNUP, {"email": "someone@example.com", "password1": password1})
    assert response.status_code == 200
    assert message in page_text(response)
    assert not User.objects.exists()


def test_signup_page_redirects_a_logged_in_user(owner_client):
    assert owner_client.get(SIGNUP).url == PROJECTS


def test_signup_is_rate_limited_per_address(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "signup": "3/m/ip"}
    statuses = [_signup(client, f"p{i}@example.com").status_code for i in range(4)]
    assert statuses == [302, 302, 302, 429]


# --- log in / out ---------------------------------------------------------------------------


def test_login_page_has_email_password_and_log_in_button(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    body = response.content.decode()
    assert re.search(r'<label for="id_login">Email:?</label>', body)
    assert re.search(r'<label for="id_password">Password:?</label>', body)
    assert re.search(r'<button type="submit"[^>]*>Log in</button>', body)
    assert 'type="email"' in body and 'type="password"' in body
    assert "Sign In" not in body  # allauth's wording is replaced by the console's


def test_login_with_email_and_password(client, user):
    response = client.post(LOGIN, {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == PROJECTS
    assert str(_logged_in_user_id(client)) == str(user.pk)


def test_login_email_is_case_insensitive(client, user):
    response = client.post(LOGIN, {"login": user.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    assert str(_logged_in_user_id(client)) == str(user.pk)


def test_login_with_wrong_password_shows_clear_error(client, user):
    response = client.post(LOGIN, {"login": user.email, "password": "wrong"})
    assert response.status_code == 200
    assert "The email address and/or password you specified are not correct." in page_text(response)
    assert _logged_in_user_id(client) is None


def test_login_is_limited_per_account_from_any_address(client, user):
    """5 failures for one account lock it for a while, whatever address the guesses come from."""
    for i in range(5):
        guesser = client.__class__(REMOTE_ADDR=f"10.0.0.{i + 1}")
        assert TOO_MANY not in page_text(guesser.post(LOGIN, {"login": user.email, "password": "wrong"}))
    response = client.post(LOGIN, {"login": user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert TOO_MANY in page_text(response)
    assert _logged_in_user_id(client) is None


def test_login_is_limited_per_client_address(client, user):
    """10 failures a minute from one address (on any accounts) block that address."""
    for i in range(10):
        client.post(LOGIN, {"login": f"nobody{i}@example.com", "password": "wrong"})
    response = client.post(LOGIN, {"login": user.email, "password": PASSWORD})
    assert TOO_MANY in page_text(response)
    other = client.__class__(REMOTE_ADDR="10.9.8.7")
    assert other.post(LOGIN, {"login": user.email, "password": PASSWORD}).status_code == 302


def test_admin_login_goes_through_the_throttled_login(client, user):
    """/admin/login/ is no longer Django's own unthrottled form."""
    user.is_staff = user.is_superuser = True
    user.save()
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response.url.startswith(LOGIN + "?next=")
    # Guessing through the admin URL lands on the same limits: POSTs are redirected too.
    for _ in range(5):
        client.post("/admin/login/", {"username": user.email, "password": "wrong"})
        client.post(LOGIN + "?next=/admin/", {"login": user.email, "password": "wrong"})
    response = client.post(LOGIN + "?next=/admin/", {"login": user.email, "password": PASSWORD})
    assert TOO_MANY in page_text(response)
    assert _logged_in_user_id(client) is None
    assert client.get("/admin/").status_code == 302


def test_admin_login_of_a_non_staff_user_is_refused(client, user):
    client.force_login(user)
    assert client.get("/admin/login/").status_code == 403


def test_password_reset_is_rate_limited(client, user, mailoutbox):
    url = reverse("account_reset_password")
    statuses = [client.post(url, {"email": user.email}).status_code for _ in range(4)]
    assert statuses[:3] == [302] * 3  # three an hour to one address (tests/accounts/test_password_reset_limit.py)
    assert statuses[3] == 429
    assert len(mailoutbox) == 3


def test_successful_login_does_not_wipe_earlier_failures(client, user):
    """allauth rolls back only its own attempt: a right password between guesses does not reset them."""
    for _ in range(4):
        client.post(LOGIN, {"login": user.email, "password": "wrong"})
    assert client.post(LOGIN, {"login": user.email, "password": PASSWORD}).status_code == 302
    client.post(reverse("account_logout"))
    client.post(LOGIN, {"login": user.email, "password": "wrong"})
    assert TOO_MANY in page_text(client.post(LOGIN, {"login": user.email, "password": PASSWORD}))


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/", "https://evil.example/projects/", "http:evil.example"],
)
def test_login_next_refuses_open_redirect(client, user, next_url):
    response = client.post(LOGIN + "?next=" + next_url, {"login": user.email, "password": PASSWORD, "next": next_url})
    assert response.status_code == 302
    assert response.url == PROJECTS
    assert "evil" not in response.url


def test_login_next_to_a_local_page_is_followed(client, user):
    target = reverse("account_change_password")
    response = client.post(LOGIN, {"login": user.email, "password": PASSWORD, "next": target})
    assert response.url == target


def test_session_key_changes_on_login(client, user):
    """No session fixation: the anonymous session's key is not the logged-in session's key."""
    session = client.session
    session["probe"] = "before login"
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    before = session.session_key

    response = client.post(LOGIN, {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert str(client.session[SESSION_KEY]) == str(user.pk)


def test_console_requires_login(client):
    response = client.get(PROJECTS)
    assert response.status_code == 302
    assert response.url.startswith(LOGIN + "?next=")


def test_logout_is_a_post_and_ends_the_session(owner_client):
    assert owner_client.get(PROJECTS).status_code == 200
    # GET only asks (CSRF-safe logout).
    assert "Log out of NBQ Keys Console?" in page_text(owner_client.get(reverse("account_logout")))
    assert owner_client.get(PROJECTS).status_code == 200
    response = owner_client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert response.url == LOGIN
    assert _logged_in_user_id(owner_client) is None
    assert owner_client.get(PROJECTS).status_code == 302


def test_account_page_links_password_and_two_factor(owner_client):
    text = page_text(owner_client.get(reverse("account")))
    assert "Change password" in text and "Two-factor authentication" in text


# --- passwords ------------------------------------------------------------------------------


def test_password_change(client, user):
    client.post(LOGIN, {"login": user.email, "password": PASSWORD})
    url = reverse("account_change_password")
    assert client.get(url).status_code == 200
    response = client.post(url, {"oldpassword": PASSWORD, "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(GOOD_PASSWORD)
    assert client.get(PROJECTS).status_code == 200  # still logged in (session hash updated)


def test_password_change_with_wrong_old_password_changes_nothing(owner_client, user):
    response = owner_client.post(
        reverse("account_change_password"),
        {"oldpassword": "nope", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
    )
    assert response.status_code == 200
    assert "Please type your current password." in page_text(response)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_reset_sends_a_working_link(client, user, mailoutbox):
    response = client.post(reverse("account_reset_password"), {"email": user.email})
    assert response.status_code == 302
    assert response.url == reverse("account_reset_password_done")
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [user.email]
    link = _link(message, "/accounts/password/reset/key/")

    # The key moves into the session and the page is served from a token-free URL.
    response = client.get(link)
    assert response.status_code == 302
    assert "set-password" in response.url
    response = client.post(response.url, {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(GOOD_PASSWORD)


def test_password_reset_for_unknown_email_reveals_nothing(client, mailoutbox):
    response = client.post(reverse("account_reset_password"), {"email": "nobody@example.com"}, follow=True)
    assert response.status_code == 200
    known = UserFactory()
    other = client.__class__().post(reverse("account_reset_password"), {"email": known.email}, follow=True)
    assert page_text(response) == page_text(other)


# --- users and confirmed addresses ------------------------------------------------------------


def test_user_manager_normalises_email():
    user = User.objects.create_user(email="Mixed@Example.COM", password=GOOD_PASSWORD)
    assert user.email == "mixed@example.com"
    assert User.objects.get_by_natural_key("MIXED@example.com") == user
    with pytest.raises(ValueError):
        User.objects.create_user(email="", password=GOOD_PASSWORD)


def test_createsuperuser_account_is_confirmed_and_can_log_in(client, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", GOOD_PASSWORD)
    call_command("createsuperuser", "--noinput", "--email", "Root@Example.com", verbosity=0)
    user = User.objects.get(email="root@example.com")
    assert EmailAddress.objects.get(user=user).verified
    assert client.post(LOGIN, {"login": "root@example.com", "password": GOOD_PASSWORD}).status_code == 302
    assert str(_logged_in_user_id(client)) == str(user.pk)


def test_factory_users_can_log_in(client):
    user = UserFactory()
    assert client.login(email=user.email, password=PASSWORD)


@pytest.mark.parametrize("url", [LOGIN, SIGNUP, reverse("account_reset_password")])
def test_account_pages_point_aria_describedby_at_real_ids(client, url):
    body = client.get(url).content.decode()
    for ids in re.findall(r'aria-describedby="([^"]+)"', body):
        for target in ids.split():
            assert f'id="{target}"' in body, target


def test_failed_logins_from_one_ipv6_64_share_one_budget(client, user):
    """allauth counts an IPv6 client per /64 (ALLAUTH_RATE_LIMIT_IPV6_PREFIX, set explicitly)."""
    for i in range(1, 11):
        client.post(LOGIN, {"login": f"nobody{i}@example.com", "password": "wrong"}, REMOTE_ADDR=f"2001:db8:1:2::{i:x}")
    response = client.post(LOGIN, {"login": user.email, "password": PASSWORD}, REMOTE_ADDR="2001:db8:1:2::99")
    assert TOO_MANY in page_text(response)
    other = client.__class__(REMOTE_ADDR="2001:db8:1:3::1")
    assert other.post(LOGIN, {"login": user.email, "password": PASSWORD}).status_code == 302


def test_confirmation_link_opened_elsewhere_confirms_but_logs_no_one_in(client, mailoutbox):
    """A mail scanner (or another browser) opening the link confirms the address, which did get
    the mail; only the browser session that signed up is logged in by it."""
    from django.test import Client

    _signup(client, "scanned@example.com")
    link = _link(mailoutbox[0], "/accounts/confirm-email/")
    scanner = Client()
    scanner.get(link)
    assert EmailAddress.objects.get(email="scanned@example.com").verified
    assert _logged_in_user_id(scanner) is None
    assert _logged_in_user_id(client) is None
