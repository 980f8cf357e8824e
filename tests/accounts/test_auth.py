"""Sign-up, log in / out, password change and reset, throttling, redirects and session fixation."""

import re

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.urls import reverse

from accounts.models import User
from tests.factories import PASSWORD, UserFactory
from tests.projects.helpers import page_text

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")
SIGNUP = reverse("accounts:signup")
PROJECTS = reverse("projects:list")
GOOD_PASSWORD = "a-long-unusual-passphrase-42"


def _logged_in_user_id(client):
    return client.session.get(SESSION_KEY)


# --- sign-up --------------------------------------------------------------------------------


def test_signup_creates_account_and_logs_in(client):
    response = client.post(SIGNUP, {"email": "New.Person@Example.com", "first_name": "New", "last_name": "Person",
                                    "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD})
    assert response.status_code == 302
    assert response.url == PROJECTS
    user = User.objects.get()
    assert user.email == "new.person@example.com"
    assert user.check_password(GOOD_PASSWORD)
    assert not user.is_staff and not user.is_superuser
    assert str(_logged_in_user_id(client)) == str(user.pk)
    # and the new account can log in again later
    client.logout()
    assert client.login(email="new.person@example.com", password=GOOD_PASSWORD)


def test_signup_with_existing_email_is_refused_case_insensitively(client, user):
    response = client.post(SIGNUP, {"email": user.email.upper(), "password1": GOOD_PASSWORD,
                                    "password2": GOOD_PASSWORD})
    assert response.status_code == 200
    assert "An account with this email already exists" in page_text(response)
    assert User.objects.count() == 1
    assert _logged_in_user_id(client) is None


@pytest.mark.parametrize(
    ("password1", "password2", "message"),
    [
        (GOOD_PASSWORD, GOOD_PASSWORD + "x", "The two passwords do not match."),
        ("password", "password", "This password is too common."),
        ("abc", "abc", "This password is too short."),
        ("83749201583", "83749201583", "This password is entirely numeric."),
    ],
    ids=["mismatch", "common", "short", "numeric"],
)
def test_signup_refuses_bad_passwords(client, password1, password2, message):
    response = client.post(SIGNUP, {"email": "someone@example.com", "password1": password1, "password2": password2})
    assert response.status_code == 200
    assert message in page_text(response)
    assert not User.objects.exists()


def test_signup_page_redirects_a_logged_in_user(owner_client):
    assert owner_client.get(SIGNUP).url == PROJECTS


# --- log in / out ---------------------------------------------------------------------------


def test_login_page_has_email_password_and_log_in_button(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    body = response.content.decode()
    assert re.search(r'<label for="id_username">Email:?</label>', body)
    assert re.search(r'<label for="id_password">Password:?</label>', body)
    assert re.search(r'<button type="submit"[^>]*>Log in</button>', body)
    assert 'type="email"' in body and 'type="password"' in body


def test_login_with_email_and_password(client, user):
    response = client.post(LOGIN, {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == PROJECTS
    assert str(_logged_in_user_id(client)) == str(user.pk)


def test_login_email_is_case_insensitive(client, user):
    response = client.post(LOGIN, {"username": user.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    assert str(_logged_in_user_id(client)) == str(user.pk)


def test_login_with_wrong_password_shows_clear_error(client, user):
    response = client.post(LOGIN, {"username": user.email, "password": "wrong"})
    assert response.status_code == 200
    assert "That email and password do not match an account." in page_text(response)
    assert _logged_in_user_id(client) is None


def test_login_is_throttled_after_repeated_failures(client, user, settings):
    settings.LOGIN_THROTTLE_ATTEMPTS = 3
    for _ in range(3):
        response = client.post(LOGIN, {"username": user.email, "password": "wrong"})
        assert "Too many failed attempts" not in page_text(response)
    # Now even the right password is refused for this email and address.
    response = client.post(LOGIN, {"username": user.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "Too many failed attempts. Wait a few minutes and try again." in page_text(response)
    assert _logged_in_user_id(client) is None
    # Another address is not affected.
    other = client.__class__(REMOTE_ADDR="10.9.8.7")
    assert other.post(LOGIN, {"username": user.email, "password": PASSWORD}).status_code == 302


def test_successful_login_resets_the_failure_count(client, user, settings):
    settings.LOGIN_THROTTLE_ATTEMPTS = 3
    for _ in range(2):
        client.post(LOGIN, {"username": user.email, "password": "wrong"})
    assert client.post(LOGIN, {"username": user.email, "password": PASSWORD}).status_code == 302
    client.logout()
    for _ in range(2):
        client.post(LOGIN, {"username": user.email, "password": "wrong"})
    assert client.post(LOGIN, {"username": user.email, "password": PASSWORD}).status_code == 302


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/", "https://evil.example/projects/", "http:evil.example"],
)
def test_login_next_refuses_open_redirect(client, user, next_url):
    response = client.post(LOGIN + "?next=" + next_url, {"username": user.email, "password": PASSWORD,
                                                          "next": next_url})
    assert response.status_code == 302
    assert response.url == PROJECTS
    assert "evil" not in response.url


def test_login_next_to_a_local_page_is_followed(client, user):
    target = reverse("accounts:password_change")
    response = client.post(LOGIN, {"username": user.email, "password": PASSWORD, "next": target})
    assert response.url == target


def test_session_key_changes_on_login(client, user):
    """No session fixation: the anonymous session's key is not the logged-in session's key."""
    session = client.session
    session["probe"] = "before login"
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    before = session.session_key

    response = client.post(LOGIN, {"username": user.email, "password": PASSWORD})
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
    response = owner_client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response.url == LOGIN
    assert _logged_in_user_id(owner_client) is None
    assert owner_client.get(PROJECTS).status_code == 302
    # GET does not log out (CSRF-safe logout).
    assert owner_client.get(reverse("accounts:logout")).status_code == 405


# --- passwords ------------------------------------------------------------------------------


def test_password_change(owner_client, user):
    url = reverse("accounts:password_change")
    assert owner_client.get(url).status_code == 200
    response = owner_client.post(url, {"old_password": PASSWORD, "new_password1": GOOD_PASSWORD,
                                       "new_password2": GOOD_PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("accounts:password_change_done")
    user.refresh_from_db()
    assert user.check_password(GOOD_PASSWORD)
    # still logged in (session hash updated)
    assert owner_client.get(PROJECTS).status_code == 200


def test_password_change_with_wrong_old_password_changes_nothing(owner_client, user):
    response = owner_client.post(reverse("accounts:password_change"), {
        "old_password": "nope", "new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD})
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in page_text(response)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_password_reset_sends_a_working_link(client, user, mailoutbox):
    response = client.post(reverse("accounts:password_reset"), {"email": user.email})
    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_done")
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [user.email]
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/\S+/)", message.body).group(1)

    # The confirm view moves the token into the session and redirects to a token-free URL.
    response = client.get(link)
    assert response.status_code == 302
    response = client.post(response.url, {"new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_complete")
    user.refresh_from_db()
    assert user.check_password(GOOD_PASSWORD)


def test_password_reset_for_unknown_email_sends_nothing_and_reveals_nothing(client, mailoutbox):
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.com"}, follow=True)
    assert response.status_code == 200
    assert "If an account exists for that address" in page_text(response)
    assert mailoutbox == []


def test_user_manager_normalises_email():
    user = User.objects.create_user(email="Mixed@Example.COM", password=GOOD_PASSWORD)
    assert user.email == "mixed@example.com"
    assert User.objects.get_by_natural_key("MIXED@example.com") == user
    with pytest.raises(ValueError):
        User.objects.create_user(email="", password=GOOD_PASSWORD)


def test_factory_users_can_log_in(client):
    user = UserFactory()
    assert client.login(email=user.email, password=PASSWORD)
