"""Finding 4 on PostgreSQL: its case-insensitive comparison folds `ſ` (long s) into `s`, so a
lookup with `email__iexact` found `alice@site.com` for `alice@ſite.com`, while the throttle keyed
on Python's `lower()` (which keeps `ſ`) gave that spelling a fresh bucket."""

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from accounts.models import User
from tests.factories import PASSWORD, UserFactory
from tests.helpers import page_text

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

LOGIN = reverse("account_login")


def test_long_s_spelling_neither_logs_in_nor_gets_a_fresh_bucket(client):
    alice = UserFactory(email="alice@site.com")
    spoof = "alice@\u017fite.com"
    # The premise: PostgreSQL itself treats the two spellings as equal ignoring case.
    assert User.objects.filter(email__iexact=spoof).get() == alice

    for _ in range(5):
        client.post(LOGIN, {"login": alice.email, "password": "wrong"})
    assert "Too many failed login attempts" in page_text(
        client.post(LOGIN, {"login": alice.email, "password": PASSWORD})
    )

    other = client.__class__(REMOTE_ADDR="10.1.2.3")
    response = other.post(LOGIN, {"login": spoof, "password": PASSWORD})
    assert response.status_code == 200
    assert other.session.get(SESSION_KEY) is None
    # and not through Django's own authenticate() either (the admin, client.login, scripts)
    assert not other.login(email=spoof, password=PASSWORD)


def test_long_s_spelling_does_not_log_in_even_without_failures(client):
    UserFactory(email="bob@site.com")
    response = client.post(LOGIN, {"login": "bob@\u017fite.com", "password": PASSWORD})
    assert response.status_code == 200
    assert client.session.get(SESSION_KEY) is None
    assert client.post(LOGIN, {"login": "BOB@site.com", "password": PASSWORD}).status_code == 302
