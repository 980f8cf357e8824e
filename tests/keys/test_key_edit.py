"""Finding 9: keys can be edited in the console (name, permissions, rate limit), through
`api_key_update`, by owners and admins only, with an event; the API sees the change on the next request."""

import re

import pytest
from django.urls import reverse

from keys.errors import DuplicateKeyName, InvalidKeyRequest, KeyNotActive
from keys.models import ApiKey
from keys.services import api_key_revoke, api_key_update
from projects.actors import Actor
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.conftest import use_record_cache
from tests.factories import ApiKeyFactory
from tests.helpers import HX, KEY_IN_TEXT, page_text

pytestmark = pytest.mark.django_db


def _edit_url(key):
    return reverse("project_keys:key_edit", args=[key.project.slug, key.key_id])


def test_update_changes_name_permissions_and_rate_limit_and_logs_what_changed(unlocked_project, user):
    key = ApiKeyFactory(project=unlocked_project, name="web", permissions=["read"])
    updated = api_key_update(
        key=key,
        actor=Actor(user=user, label=user.email),
        name=" web v2 ",
        permissions=["write", "read"],
        rate_limit_per_minute=30,
    )
    key.refresh_from_db()
    assert (key.name, key.permissions, key.rate_limit_per_minute) == ("web v2", ["read", "write"], 30)
    assert updated.pk == key.pk
    event = KeyEvent.objects.get(key_id=key.key_id, kind=EventKind.UPDATED)
    assert event.actor == user
    assert event.details == {
        "name": {"from": "web", "to": "web v2"},
        "permissions": {"from": ["read"], "to": ["read", "write"]},
        "rate_limit_per_minute": {"from": None, "to": 30},
    }


def test_update_without_changes_logs_nothing(unlocked_project):
    key = ApiKeyFactory(project=unlocked_project, name="web", permissions=["read"])
    api_key_update(key=key, actor=Actor.cli(), name="web", permissions=["read"], rate_limit_per_minute=None)
    assert not KeyEvent.objects.filter(kind=EventKind.UPDATED).exists()


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"name": "  "}, InvalidKeyRequest, "name"),
        ({"name": "x" * 65}, InvalidKeyRequest, "name"),
        ({"permissions": []}, InvalidKeyRequest, "permissions"),
        ({"permissions": ["read", "admin"]}, InvalidKeyRequest, "permissions"),
        ({"rate_limit_per_minute": 0}, InvalidKeyRequest, "rate_limit_per_minute"),
        ({"name": "Other"}, DuplicateKeyName, "name"),
    ],
)
def test_update_refuses_bad_input(unlocked_project, changes, error, field):
    ApiKeyFactory(project=unlocked_project, name="other")
    key = ApiKeyFactory(project=unlocked_project, name="web", permissions=["read"])
    args = {"name": "web", "permissions": ["read"], "rate_limit_per_minute": None, **changes}
    with pytest.raises(error) as caught:
        api_key_update(key=key, actor=Actor.cli(), **args)
    assert caught.value.field == field
    key.refresh_from_db()
    assert key.name == "web" and key.permissions == ["read"]


def test_a_revoked_key_cannot_be_edited(unlocked_project):
    key = ApiKeyFactory(project=unlocked_project)
    api_key_revoke(key=key, actor=Actor.cli())
    with pytest.raises(KeyNotActive):
        api_key_update(key=key, actor=Actor.cli(), name="again", permissions=["read"], rate_limit_per_minute=None)


def test_edit_dialog_shows_current_values_and_what_each_permission_allows(owner_client, unlocked_project):
    key = ApiKeyFactory(project=unlocked_project, name="web", permissions=["read", "write"], rate_limit_per_minute=42)
    response = owner_client.get(_edit_url(key), **HX)
    body, text = response.content.decode(), page_text(response)
    assert response.status_code == 200 and "<html" not in body
    assert text.startswith("Edit “web”")
    assert 'value="web"' in body and 'value="42"' in body
    assert re.search(r'value="read" id="\w+"\s+aria-describedby="\w+_help" checked', body)
    assert re.search(r'value="create" id="\w+"\s+aria-describedby="\w+_help">', body)
    assert "List questions, fetch one, and ask for the next question." in text
    assert "Leave empty for the default of 600 requests a minute." in text
    # the Cancel of the dialog is where focus returns to the row
    assert f'data-focus-on-close="#key-{key.key_id}"' in body


def test_edit_with_htmx_saves_and_swaps_the_row(owner_client, unlocked_project, user):
    key = ApiKeyFactory(project=unlocked_project, name="web", permissions=["read"])
    response = owner_client.post(
        _edit_url(key), {"name": "web v2", "permissions": ["read", "delete"], "rate_limit_per_minute": "5"}, **HX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert '<section id="keys-panel" class="keys-panel" hx-swap-oob="true">' in body
    assert f"Key “web v2” ({key.key_id}) was saved." in page_text(response)
    assert f'data-focus-next="#key-{key.key_id}"' in body
    key.refresh_from_db()
    assert (key.name, key.permissions, key.rate_limit_per_minute) == ("web v2", ["read", "delete"], 5)
    assert not KEY_IN_TEXT.search(body)


def test_edit_without_javascript_redirects_with_a_message(owner_client, unlocked_project):
    key = ApiKeyFactory(project=unlocked_project, name="web", permissions=["read"])
    page = owner_client.get(_edit_url(key))
    assert re.search(r"<dialog[^>]* open>", page.content.decode()) and 'id="keys-panel"' in page.content.decode()
    response = owner_client.post(
        _edit_url(key), {"name": "renamed", "permissions": ["read"], "rate_limit_per_minute": ""}, follow=True
    )
    assert response.redirect_chain[-1][0].endswith(f"/projects/{unlocked_project.slug}/keys/")
    assert f"Key “renamed” ({key.key_id}) was saved." in page_text(response)


@pytest.mark.parametrize(
    "data",
    [
        {"name": "", "permissions": ["read"]},
        {"name": "web", "permissions": []},
        {"name": "web", "permissions": ["read"], "rate_limit_per_minute": "lots"},
        {"name": "web", "permissions": ["read"], "rate_limit_per_minute": "-1"},
    ],
)
def test_edit_errors_stay_in_the_dialog(owner_client, unlocked_project, data):
    key = ApiKeyFactory(project=unlocked_project, name="web", permissions=["read"], rate_limit_per_minute=9)
    response = owner_client.post(_edit_url(key), data, **HX)
    assert response.status_code == 422
    assert 'role="alert"' in response.content.decode() and "<dialog" in response.content.decode()
    key.refresh_from_db()
    assert (key.name, key.permissions, key.rate_limit_per_minute) == ("web", ["read"], 9)


def test_viewers_cannot_edit(viewer_client, unlocked_project):
    key = ApiKeyFactory(project=unlocked_project, name="web", permissions=["read"])
    assert viewer_client.get(_edit_url(key), **HX).status_code == 403
    assert viewer_client.post(_edit_url(key), {"name": "x", "permissions": ["delete"]}, **HX).status_code == 403
    key.refresh_from_db()
    assert key.name == "web"
    assert (
        ">Edit<"
        not in viewer_client.get(reverse("project_keys:api_keys", args=[unlocked_project.slug])).content.decode()
    )


def test_admins_can_edit(admin_member_client, unlocked_project):
    key = ApiKeyFactory(project=unlocked_project, name="web", permissions=["read"])
    response = admin_member_client.post(_edit_url(key), {"name": "by admin", "permissions": ["read"]}, **HX)
    assert response.status_code == 200
    key.refresh_from_db()
    assert key.name == "by admin"


@pytest.fixture(params=["locmem", "redis"])
def record_cache(request, settings):
    return use_record_cache(settings, request.param)


def test_an_edit_reaches_the_api_on_the_next_request(owner_client, client, unlocked_project, record_cache):
    key = ApiKeyFactory(project=unlocked_project, name="web", permissions=["read"])
    auth = {"Authorization": f"Bearer {key.plaintext}"}
    first = client.get("/api/v1/questions", headers=auth)
    assert first.status_code == 200 and first["X-RateLimit-Limit"] == "600"
    assert client.get("/api/v1/key", headers=auth).json()["name"] == "web"  # the record is cached now

    response = owner_client.post(
        _edit_url(key), {"name": "renamed", "permissions": ["write"], "rate_limit_per_minute": "7"}, **HX
    )
    assert response.status_code == 200

    refused = client.get("/api/v1/questions", headers=auth)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_permission"
    about = client.get("/api/v1/key", headers=auth)
    assert about.json()["name"] == "renamed" and about.json()["permissions"] == ["write"]
    assert about["X-RateLimit-Limit"] == "7"
    assert ApiKey.objects.get(pk=key.pk).permissions == ["write"]
