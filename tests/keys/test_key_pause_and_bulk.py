"""Disable / Enable a key and Revoke selected (issue #32): the services' rules, the console (htmx
and plain posts), the CLI, the admin and the in-process API."""

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts.reauth import LOGGED_IN_AT
from keys.errors import KeyNotActive
from keys.models import ApiKey
from keys.services import (
    api_key_create,
    api_key_disable,
    api_key_enable,
    api_key_revoke,
    api_key_revoke_many,
    api_key_rotate,
)
from projects.actors import Actor
from projects.event_text import sentence
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.factories import UserFactory
from tests.helpers import HX, page_text

pytestmark = pytest.mark.django_db


def bearer(plaintext):
    return {"Authorization": f"Bearer {plaintext}"}


def _key(project, name="Nightly import", **kwargs):
    key, plaintext = api_key_create(project=project, name=name, permissions=["read"], actor=Actor.cli(), **kwargs)
    key.plaintext = plaintext
    return key


def _url(name, project, *args):
    return reverse(f"project_keys:{name}", args=[project.slug, *args])


# --- the services ----------------------------------------------------------------------------------


def test_disable_refuses_the_next_request_and_enable_brings_the_key_back_unchanged(client, unlocked_project):
    key = _key(unlocked_project)
    assert client.get("/api/v1/key", headers=bearer(key.plaintext)).status_code == 200
    before = ApiKey.objects.values().get(pk=key.pk)

    api_key_disable(key=key, actor=Actor.cli())
    refused = client.get("/api/v1/key", headers=bearer(key.plaintext))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "disabled_api_key"
    assert refused["WWW-Authenticate"] == "Bearer"
    assert client.get("/api/v1/questions", headers=bearer(key.plaintext)).json()["error"]["code"] == "disabled_api_key"

    api_key_enable(key=key, actor=Actor.cli())
    assert client.get("/api/v1/key", headers=bearer(key.plaintext)).status_code == 200
    after = ApiKey.objects.values().get(pk=key.pk)
    ignored = {"disabled_at", "disabled_by_id", "last_used_at", "last_used_ip", "last_used_user_agent"}
    assert {k: v for k, v in after.items() if k not in ignored} == {k: v for k, v in before.items() if k not in ignored}
    kinds = list(KeyEvent.objects.filter(key_id=key.key_id).values_list("kind", flat=True))
    assert EventKind.DISABLED in kinds and EventKind.ENABLED in kinds


def test_a_disabled_key_keeps_its_place_among_the_ten(unlocked_project, settings):
    keys = [_key(unlocked_project, name=f"k{i}") for i in range(settings.API_KEY_MAX_ACTIVE_PER_PROJECT)]
    api_key_disable(key=keys[0], actor=Actor.cli())
    assert ApiKey.objects.filter(project=unlocked_project).counted_toward_limit().count() == len(keys)
    with pytest.raises(Exception, match="already has 10 active keys"):
        _key(unlocked_project, name="eleventh")
    # Its name stays taken, too.
    api_key_revoke(key=keys[1], actor=Actor.cli())
    with pytest.raises(Exception, match="already named"):
        _key(unlocked_project, name="k0")


def test_disable_and_enable_refuse_what_they_cannot_do(unlocked_project):
    key = _key(unlocked_project)
    with pytest.raises(KeyNotActive, match="not disabled"):
        api_key_enable(key=key, actor=Actor.cli())
    api_key_disable(key=key, actor=Actor.cli())
    with pytest.raises(KeyNotActive, match="already disabled"):
        api_key_disable(key=key, actor=Actor.cli())
    with pytest.raises(KeyNotActive, match="enable it before rotating"):
        api_key_rotate(key=key, actor=Actor.cli())
    api_key_revoke(key=key, actor=Actor.cli())  # revoking a disabled key works
    with pytest.raises(KeyNotActive, match="revoked"):
        api_key_enable(key=key, actor=Actor.cli())
    other = _key(unlocked_project, name="other")
    api_key_revoke(key=other, actor=Actor.cli())
    with pytest.raises(KeyNotActive):
        api_key_disable(key=other, actor=Actor.cli())


def test_revoked_and_expired_win_over_disabled(client, unlocked_project):
    key = _key(unlocked_project)
    api_key_disable(key=key, actor=Actor.cli())
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/key", headers=bearer(key.plaintext)).json()["error"]["code"] == "expired_api_key"


def test_event_sentences_name_the_pause(unlocked_project):
    key = _key(unlocked_project)
    api_key_disable(key=key, actor=Actor.cli())
    api_key_enable(key=key, actor=Actor.cli())
    texts = [sentence(e) for e in KeyEvent.objects.filter(key_id=key.key_id, kind__in=["disabled", "enabled"])]
    assert any("disabled “Nightly import”" in t for t in texts)
    assert any("enabled “Nightly import”" in t for t in texts)


def test_revoke_many_logs_one_event_per_key_and_skips_dead_ones(client, unlocked_project):
    keys = [_key(unlocked_project, name=f"bulk {i}") for i in range(3)]
    dead = _key(unlocked_project, name="already")
    api_key_revoke(key=dead, actor=Actor.cli())
    revoked = api_key_revoke_many(keys=[*keys, dead], actor=Actor.cli())
    assert sorted(k.pk for k in revoked) == sorted(k.pk for k in keys)
    for key in keys:
        assert KeyEvent.objects.filter(key_id=key.key_id, kind=EventKind.REVOKED).count() == 1
        assert client.get("/api/v1/key", headers=bearer(key.plaintext)).json()["error"]["code"] == "revoked_api_key"
    assert KeyEvent.objects.filter(key_id=dead.key_id, kind=EventKind.REVOKED).count() == 1


# --- the console ------------------------------------------------------------------------------------


def test_disable_and_enable_from_the_console_with_htmx(owner_client, unlocked_project):
    key = _key(unlocked_project)
    listing = page_text(owner_client.get(_url("api_keys", unlocked_project)))
    assert "Disable" in listing and "Enable" not in listing
    dialog = owner_client.get(_url("key_disable", unlocked_project, key.key_id), **HX)
    assert dialog.status_code == 200
    assert "Disable “Nightly import”?" in page_text(dialog)
    assert "Disable key" in page_text(dialog) and "Cancel" in page_text(dialog)
    done = owner_client.post(_url("key_disable", unlocked_project, key.key_id), **HX)
    assert done.status_code == 200
    text = page_text(done)
    assert "was disabled" in text and "Disabled" in text
    assert f'data-focus-next="#key-{key.key_id}"' in done.content.decode()
    key.refresh_from_db()
    assert key.is_disabled
    listing = owner_client.get(_url("api_keys", unlocked_project)).content.decode()
    assert 'class="badge badge-disabled">Disabled<' in listing
    assert _url("key_enable", unlocked_project, key.key_id) in listing
    assert _url("key_rotate", unlocked_project, key.key_id) not in listing  # enable before rotating
    done = owner_client.post(_url("key_enable", unlocked_project, key.key_id), **HX)
    assert "was enabled" in page_text(done)
    key.refresh_from_db()
    assert not key.is_disabled


def test_disable_without_javascript_is_a_page_then_a_redirect(owner_client, unlocked_project):
    key = _key(unlocked_project)
    page = owner_client.get(_url("key_disable", unlocked_project, key.key_id))
    assert "<html" in page.content.decode() and "Disable key" in page_text(page)
    done = owner_client.post(_url("key_disable", unlocked_project, key.key_id))
    assert done.status_code == 302 and done["Location"] == _url("api_keys", unlocked_project)
    assert "was disabled" in page_text(owner_client.get(done["Location"]))


def test_viewers_cannot_disable_or_revoke_in_bulk(viewer_client, unlocked_project):
    key = _key(unlocked_project)
    assert viewer_client.post(_url("key_disable", unlocked_project, key.key_id)).status_code == 403
    assert viewer_client.post(_url("keys_revoke_selected", unlocked_project), {"key": [key.key_id]}).status_code == 403
    listing = viewer_client.get(_url("api_keys", unlocked_project)).content.decode()
    assert "Revoke selected" not in listing and 'form="bulk-revoke"' not in listing
    key.refresh_from_db()
    assert not key.is_disabled and key.authenticates


def test_enable_asks_for_confirm_access_and_disable_and_bulk_revoke_do_not(owner_client, unlocked_project):
    key, other = _key(unlocked_project), _key(unlocked_project, name="other")
    session = owner_client.session
    session[LOGGED_IN_AT] = time.time() - 16 * 60  # a stale login
    session.save()
    disable = owner_client.post(_url("key_disable", unlocked_project, key.key_id))
    assert disable.status_code == 302 and disable["Location"] == _url("api_keys", unlocked_project)
    key.refresh_from_db()
    assert key.is_disabled
    enable = owner_client.post(_url("key_enable", unlocked_project, key.key_id))
    assert enable.status_code == 302 and enable["Location"].startswith(reverse("account_reauthenticate"))
    key.refresh_from_db()
    assert key.is_disabled, "enable went through without Confirm access"
    bulk = owner_client.post(_url("keys_revoke_selected", unlocked_project), {"key": [other.key_id]})
    assert bulk.status_code == 302 and bulk["Location"] == _url("api_keys", unlocked_project)
    other.refresh_from_db()
    assert other.state == "revoked"


def test_revoke_selected_names_the_keys_once_then_revokes_them(owner_client, unlocked_project):
    keys = [_key(unlocked_project, name=f"bulk {i}") for i in range(3)]
    kept = _key(unlocked_project, name="kept")
    listing = owner_client.get(_url("api_keys", unlocked_project)).content.decode()
    assert "Revoke selected" in listing
    for key in [*keys, kept]:
        assert f'value="{key.key_id}" form="bulk-revoke"' in listing
    chosen = [k.key_id for k in keys]
    confirm = owner_client.get(_url("keys_revoke_selected", unlocked_project), {"key": chosen}, **HX)
    text = page_text(confirm)
    assert "Revoke 3 keys?" in text and "Revoke 3 keys" in text
    for key in keys:
        assert key.name in text and key.key_id in text
    assert "kept" not in text
    assert not KeyEvent.objects.filter(kind=EventKind.REVOKED).exists()  # nothing before the POST

    done = owner_client.post(_url("keys_revoke_selected", unlocked_project), {"key": chosen}, **HX)
    assert done.status_code == 200
    assert "3 keys revoked" in page_text(done)
    assert KeyEvent.objects.filter(project=unlocked_project, kind=EventKind.REVOKED).count() == 3
    for key in keys:
        key.refresh_from_db()
        assert key.state == "revoked"
    kept.refresh_from_db()
    assert kept.authenticates


def test_revoke_selected_without_javascript_and_with_nothing_chosen(owner_client, unlocked_project):
    keys = [_key(unlocked_project, name=f"bulk {i}") for i in range(2)]
    page = owner_client.get(_url("keys_revoke_selected", unlocked_project), {"key": [k.key_id for k in keys]})
    assert "<html" in page.content.decode() and "Revoke 2 keys?" in page_text(page)
    done = owner_client.post(_url("keys_revoke_selected", unlocked_project), {"key": [k.key_id for k in keys]})
    assert done.status_code == 302
    assert "2 keys revoked" in page_text(owner_client.get(done["Location"]))
    empty = owner_client.get(_url("keys_revoke_selected", unlocked_project))
    assert "Choose at least one working key" in page_text(empty)
    post_empty = owner_client.post(_url("keys_revoke_selected", unlocked_project), {"key": ["key_nope"]})
    assert post_empty.status_code == 422


def test_revoke_selected_only_touches_the_projects_own_keys(owner_client, unlocked_project):
    from tests.factories import ProjectFactory

    other_project = ProjectFactory(owner=UserFactory(), active_questions=10)
    foreign = _key(other_project, name="not yours")
    owner_client.post(_url("keys_revoke_selected", unlocked_project), {"key": [foreign.key_id]})
    foreign.refresh_from_db()
    assert foreign.authenticates


# --- the CLI and the admin ----------------------------------------------------------------------


def test_cli_disable_and_enable(unlocked_project, client):
    key = _key(unlocked_project)
    out = StringIO()
    call_command("disable_api_key", key.key_id, stdout=out, stderr=StringIO())
    assert f"Disabled {key.key_id}" in out.getvalue()
    assert client.get("/api/v1/key", headers=bearer(key.plaintext)).json()["error"]["code"] == "disabled_api_key"
    with pytest.raises(CommandError, match="already disabled"):
        call_command("disable_api_key", key.key_id, stdout=StringIO(), stderr=StringIO())
    call_command("enable_api_key", key.key_id, stdout=out, stderr=StringIO())
    assert f"Enabled {key.key_id}" in out.getvalue()
    assert client.get("/api/v1/key", headers=bearer(key.plaintext)).status_code == 200
    assert KeyEvent.objects.get(key_id=key.key_id, kind=EventKind.DISABLED).actor_label == "cli"
    with pytest.raises(CommandError, match="No API key"):
        call_command("enable_api_key", "key_nope", stdout=StringIO(), stderr=StringIO())


def test_admin_disable_and_enable_actions(client, unlocked_project):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    key = _key(unlocked_project)
    url = reverse("admin:keys_apikey_changelist")
    done = client.post(url, {"action": "disable_selected", "_selected_action": [key.pk]}, follow=True)
    assert "Disabled 1 key(s)." in page_text(done)
    key.refresh_from_db()
    assert key.is_disabled
    assert KeyEvent.objects.get(key_id=key.key_id, kind=EventKind.DISABLED).actor_label.startswith("admin: ")
    client.post(url, {"action": "enable_selected", "_selected_action": [key.pk]}, follow=True)
    key.refresh_from_db()
    assert not key.is_disabled


def test_openapi_document_names_disabled_api_key(client):
    document = client.get("/api/v1/openapi.json").json()
    assert "disabled_api_key" in document["info"]["description"]


def test_a_personal_key_is_paused_the_same_way(client, unlocked_project, user):
    key, plaintext = api_key_create(
        owner=user, projects=[unlocked_project], name="laptop", permissions=["read"], actor=Actor.cli()
    )
    url = f"/api/v1/projects/{unlocked_project.slug}/questions"
    assert client.get(url, headers=bearer(plaintext)).status_code == 200
    api_key_disable(key=key, actor=Actor.cli())
    refused = client.get(url, headers=bearer(plaintext))
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "disabled_api_key"
    # Logged in the holder's Security log and in the project the key reaches.
    assert KeyEvent.objects.filter(key_id=key.key_id, kind=EventKind.DISABLED, account=user).exists()
    assert KeyEvent.objects.filter(key_id=key.key_id, kind=EventKind.DISABLED, project=unlocked_project).exists()
    api_key_enable(key=key, actor=Actor.cli())
    assert client.get(url, headers=bearer(plaintext)).status_code == 200
