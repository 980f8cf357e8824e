"""Rotating SECRET_KEY with SECRET_KEY_FALLBACKS (docs/operations.md): a session and a password-reset
link made under the old key still work once the new key signs and the old one is a fallback;
without the fallback they do not (which is what changing SECRET_KEY alone used to do)."""

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.urls import reverse

from keys_console.env import env_list

pytestmark = pytest.mark.django_db

OLD = "old-secret-key-" + "o" * 50
NEW = "new-secret-key-" + "n" * 50


def test_the_variable_is_read_as_a_comma_separated_list():
    assert env_list("SECRET_KEY_FALLBACKS", [], environ={}) == []
    assert env_list("SECRET_KEY_FALLBACKS", [], environ={"SECRET_KEY_FALLBACKS": f"{OLD}, {NEW}"}) == [OLD, NEW]


@pytest.fixture
def old_key(settings):
    settings.SECRET_KEY = OLD
    settings.SECRET_KEY_FALLBACKS = []
    return settings


def signed_in(client) -> bool:
    response = client.get(reverse("projects:list"))
    return response.status_code == 200


@pytest.mark.parametrize("fallbacks", [[OLD], []])
def test_a_session_made_under_the_old_key(client, user, old_key, fallbacks):
    client.force_login(user)
    assert signed_in(client)
    old_key.SECRET_KEY, old_key.SECRET_KEY_FALLBACKS = NEW, fallbacks
    assert signed_in(client) is bool(fallbacks)


@pytest.mark.parametrize("fallbacks", [[OLD], []])
def test_a_password_reset_link_made_under_the_old_key(client, user, old_key, fallbacks):
    token = default_token_generator.make_token(user)
    link = reverse("account_reset_password_from_key", kwargs={"uidb36": user_pk_to_url_str(user), "key": token})
    old_key.SECRET_KEY, old_key.SECRET_KEY_FALLBACKS = NEW, fallbacks
    assert default_token_generator.check_token(user, token) is bool(fallbacks)
    response = client.get(link, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    if fallbacks:
        assert 'name="password1"' in page  # the form to choose a new password
    else:
        assert 'name="password1"' not in page  # "bad token": ask for a new link
