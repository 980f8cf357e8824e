"""`createsuperuser` (keys_console/management/commands/createsuperuser.py) fails where Django's
printed "skipped" or made an admin without a password, so provisioning stops where it should."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_without_a_terminal_it_fails_instead_of_skipping():
    with pytest.raises(CommandError, match="there is none"):
        call_command("createsuperuser", stdin=io.StringIO(), stdout=io.StringIO())
    assert not User.objects.filter(is_superuser=True).exists()


def test_noinput_without_a_password_fails(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "admin@example.com")
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="DJANGO_SUPERUSER_PASSWORD"):
        call_command("createsuperuser", interactive=False, stdout=io.StringIO())
    assert not User.objects.filter(email="admin@example.com").exists()


def test_noinput_without_an_email_fails(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_EMAIL", raising=False)
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-enough-password-42")
    with pytest.raises(CommandError, match="--email"):
        call_command("createsuperuser", interactive=False, stdout=io.StringIO())


def test_noinput_with_both_makes_an_admin_who_can_log_in(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "admin@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-enough-password-42")
    call_command("createsuperuser", interactive=False, stdout=io.StringIO())
    admin = User.objects.get(email="admin@example.com")
    assert admin.is_superuser and admin.check_password("a-long-enough-password-42")
