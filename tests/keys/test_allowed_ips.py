"""Allowed IP addresses per key: validated by the services, set in Generate, Edit and the CLI, shown
in Details, copied by rotation, logged."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from keys.errors import InvalidKeyRequest
from keys.models import ApiKey
from keys.services import api_key_create, api_key_rotate, api_key_update, clean_allowed_ips, clean_key_request
from projects.actors import Actor
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.factories import ApiKeyFactory
from tests.helpers import HX, page_text

pytestmark = pytest.mark.django_db


def test_addresses_and_ranges_ipv4_and_ipv6_normalised():
    text = " 203.0.113.7\n10.0.0.0/8, 2001:DB8::/32\n\n10.0.0.0/8\n::1 "
    assert clean_allowed_ips(text) == ["203.0.113.7/32", "10.0.0.0/8", "2001:db8::/32", "::1/128"]
    assert clean_allowed_ips("") == [] and clean_allowed_ips(None) == []


@pytest.mark.parametrize(
    "text,message",
    [
        ("10.0.0.1/8", "did you mean 10.0.0.0/8?"),
        ("300.1.1.1", "“300.1.1.1” is not an IP address or range"),
        ("example.com", "“example.com” is not an IP address or range"),
        ("10.0.0.0/33", "“10.0.0.0/33” is not an IP address or range"),
    ],
)
def test_bad_entries_are_named(text, message):
    with pytest.raises(InvalidKeyRequest) as err:
        clean_key_request(name="k", permissions=["read"], expiry_rule="30", allowed_ips=text)
    assert err.value.errors == {"allowed_ips": err.value.errors["allowed_ips"]}
    assert message in err.value.errors["allowed_ips"]


def test_every_field_error_at_once():
    with pytest.raises(InvalidKeyRequest) as err:
        clean_key_request(name="", permissions=["read"], expiry_rule="30", allowed_ips="nope")
    assert set(err.value.errors) == {"name", "allowed_ips"}


def test_create_rotate_update_keep_and_log_the_networks(unlocked_project, user):
    actor = Actor(user=user, label=user.email)
    key, _ = api_key_create(
        project=unlocked_project, name="server", permissions=["read"], actor=actor, allowed_ips="10.0.0.0/8"
    )
    assert key.allowed_ips == ["10.0.0.0/8"]
    created = KeyEvent.objects.get(kind=EventKind.CREATED, key_id=key.key_id)
    assert created.details["allowed_ips"] == ["10.0.0.0/8"]
    new, _ = api_key_rotate(key=key, actor=actor)
    assert new.allowed_ips == ["10.0.0.0/8"]
    api_key_update(
        key=new, actor=actor, name="server", permissions=["read"], rate_limit_per_minute=None, allowed_ips=""
    )
    new.refresh_from_db()
    assert new.allowed_ips == []
    changed = KeyEvent.objects.get(kind=EventKind.UPDATED, key_id=new.key_id)
    assert changed.details == {"allowed_ips": {"from": ["10.0.0.0/8"], "to": []}}
    from projects.event_text import details_text

    assert details_text(changed) == "allowed IP addresses: 10.0.0.0/8 → anywhere"


def test_update_without_allowed_ips_leaves_them(unlocked_project, user):
    key = ApiKeyFactory(project=unlocked_project, allowed_ips=["10.0.0.0/8"])
    api_key_update(key=key, actor=Actor.cli(), name="renamed", permissions=["read"], rate_limit_per_minute=None)
    key.refresh_from_db()
    assert key.allowed_ips == ["10.0.0.0/8"]


def _url(name, project, *args):
    return reverse(f"project_keys:{name}", args=[project.slug, *args])


def test_generate_dialog_field_and_its_errors(owner_client, unlocked_project):
    dialog = owner_client.get(_url("key_new", unlocked_project), **HX)
    assert "Allowed IP addresses" in page_text(dialog) and 'name="allowed_ips"' in dialog.content.decode()
    data = {"name": "server", "permissions": ["read"], "expiration": "30", "allowed_ips": "10.0.0.1/8"}
    refused = owner_client.post(_url("key_new", unlocked_project), data, **HX)
    assert refused.status_code == 422 and "did you mean 10.0.0.0/8?" in page_text(refused)
    assert not ApiKey.objects.exists()
    data["allowed_ips"] = "10.0.0.0/8\n2001:db8::/32"
    made = owner_client.post(_url("key_new", unlocked_project), data, **HX)
    assert made.status_code == 200
    assert ApiKey.objects.get().allowed_ips == ["10.0.0.0/8", "2001:db8::/32"]


def test_edit_dialog_shows_and_changes_them_and_details_show_them(owner_client, unlocked_project):
    key = ApiKeyFactory(project=unlocked_project, name="web", allowed_ips=["10.0.0.0/8"])
    dialog = owner_client.get(_url("key_edit", unlocked_project, key.key_id), **HX)
    assert "10.0.0.0/8</textarea>" in dialog.content.decode()
    data = {"name": "web", "permissions": ["read"], "rate_limit_per_minute": "", "allowed_ips": "bogus"}
    refused = owner_client.post(_url("key_edit", unlocked_project, key.key_id), data, **HX)
    assert refused.status_code == 422 and "“bogus” is not an IP address or range" in page_text(refused)
    data["allowed_ips"] = "10.0.0.0/8\n127.0.0.1"
    assert owner_client.post(_url("key_edit", unlocked_project, key.key_id), data, **HX).status_code == 200
    key.refresh_from_db()
    assert key.allowed_ips == ["10.0.0.0/8", "127.0.0.1/32"]
    details = owner_client.get(_url("key_detail", unlocked_project, key.key_id), **HX)
    assert "Allowed IP addresses" in page_text(details) and "127.0.0.1/32" in page_text(details)


def test_cli_allowed_ips(unlocked_project):
    out, err = StringIO(), StringIO()
    call_command(
        "create_api_key",
        unlocked_project.slug,
        "--name=server",
        "--permissions=read",
        "--allowed-ips=10.0.0.0/8,2001:db8::/32",
        stdout=out,
        stderr=err,
    )
    assert ApiKey.objects.get().allowed_ips == ["10.0.0.0/8", "2001:db8::/32"]
    with pytest.raises(CommandError, match="did you mean 10.0.0.0/8"):
        call_command(
            "create_api_key",
            unlocked_project.slug,
            "--name=other",
            "--permissions=read",
            "--allowed-ips=10.0.0.1/8",
            stdout=StringIO(),
            stderr=StringIO(),
        )
