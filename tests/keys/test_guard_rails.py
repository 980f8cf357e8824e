"""Guard rails on the key pages: revoking a key whose predecessor is still rotating warns and offers
to revoke both; names are isolated for direction; the name field shows its limit; the locked tab
says "N active (10 needed)"."""

import re

import pytest

from keys.models.api_key import Status
from keys.services import api_key_create, api_key_revoke_with_predecessor, api_key_rotate, rotating_predecessor
from projects.actors import Actor
from projects.models import KeyEvent
from projects.models.event import EventKind
from tests.factories import ProjectFactory
from tests.helpers import HX, page_text
from tests.urls import project_url

pytestmark = pytest.mark.django_db

ACTOR = Actor.cli()


def _url(name, project, *args):
    return project_url(name, args=[project.slug, *args])


@pytest.fixture
def lineage(unlocked_project):
    """An old key rotating out (24 h grace) and its successor."""
    old, _ = api_key_create(project=unlocked_project, name="web", permissions=["read"], actor=ACTOR)
    new, _ = api_key_rotate(key=old, actor=ACTOR, grace="24h")
    old.refresh_from_db()
    return old, new


def test_revoking_with_the_predecessor_stops_both_and_logs_both(lineage):
    old, new = lineage
    assert rotating_predecessor(new) == old
    revoked = api_key_revoke_with_predecessor(key=new, actor=ACTOR)
    assert [k.pk for k in revoked] == [new.pk, old.pk]
    old.refresh_from_db(), new.refresh_from_db()
    assert old.status == Status.REVOKED and new.status == Status.REVOKED
    events = KeyEvent.objects.filter(kind=EventKind.REVOKED).order_by("pk")
    assert [(e.key_id, e.details) for e in events] == [
        (new.key_id, {"with_predecessor": old.key_id}),
        (old.key_id, {"reason": "revoked_with_its_successor", "successor": new.key_id}),
    ]


def test_revoking_with_the_predecessor_leaves_a_stopped_predecessor_alone(unlocked_project):
    old, _ = api_key_create(project=unlocked_project, name="web", permissions=["read"], actor=ACTOR)
    new, _ = api_key_rotate(key=old, actor=ACTOR)  # no grace: the old key stopped at once
    assert rotating_predecessor(new) is None
    assert [k.pk for k in api_key_revoke_with_predecessor(key=new, actor=ACTOR)] == [new.pk]
    assert KeyEvent.objects.filter(kind=EventKind.REVOKED, key_id=new.key_id).count() == 1


def test_revoke_confirmation_warns_and_offers_both(owner_client, unlocked_project, lineage):
    old, new = lineage
    dialog = owner_client.get(_url("key_revoke", unlocked_project, new.key_id), **HX)
    text = page_text(dialog)
    assert "Its predecessor is still rotating." in text and old.key_id in text
    html = dialog.content.decode()
    assert ">Revoke key</button>" in html
    both = '<button type="submit" class="danger" name="also" value="predecessor">Revoke both keys</button>'
    assert both in html
    assert re.search(r'<a class="button"[^>]*data-close-modal autofocus>Cancel</a>', html)  # focus on Cancel


def test_revoke_confirmation_of_a_key_without_rotating_predecessor_has_no_warning(owner_client, unlocked_project):
    key, _ = api_key_create(project=unlocked_project, name="solo", permissions=["read"], actor=ACTOR)
    text = page_text(owner_client.get(_url("key_revoke", unlocked_project, key.key_id), **HX))
    assert "predecessor" not in text and "Revoke both keys" not in text


def test_revoke_both_from_the_console(owner_client, unlocked_project, lineage):
    old, new = lineage
    response = owner_client.post(_url("key_revoke", unlocked_project, new.key_id), {"also": "predecessor"})
    assert response.status_code == 302
    old.refresh_from_db(), new.refresh_from_db()
    assert old.status == Status.REVOKED and new.status == Status.REVOKED
    page = page_text(owner_client.get(response.url))
    assert "and the key it replaced" in page


def test_revoke_key_alone_still_revokes_only_the_successor(owner_client, unlocked_project, lineage):
    old, new = lineage
    owner_client.post(_url("key_revoke", unlocked_project, new.key_id))
    old.refresh_from_db(), new.refresh_from_db()
    assert new.status == Status.REVOKED and old.status == Status.ROTATING


def test_names_are_isolated_for_direction(owner_client, unlocked_project):
    name = "مفتاح (إنتاج)!"
    key, _ = api_key_create(project=unlocked_project, name=name, permissions=["read"], actor=ACTOR)
    page = owner_client.get(_url("api_keys", unlocked_project)).content.decode()
    assert f"<bdi>{name}</bdi>" in page
    dialog = owner_client.get(_url("key_revoke", unlocked_project, key.key_id), **HX).content.decode()
    assert f"Revoke “<bdi>{name}</bdi>”?" in dialog
    hostile, _ = api_key_create(project=unlocked_project, name="<i>x</i>", permissions=["read"], actor=ACTOR)
    dialog = owner_client.get(_url("key_revoke", unlocked_project, hostile.key_id), **HX).content.decode()
    assert "<bdi>&lt;i&gt;x&lt;/i&gt;</bdi>" in dialog and "<i>x</i>" not in dialog


def test_the_name_field_shows_its_limit(owner_client, unlocked_project):
    dialog = owner_client.get(_url("key_new", unlocked_project), **HX)
    html = dialog.content.decode()
    field = re.search(r'<input[^>]*name="name"[^>]*>', html).group(0)
    assert 'maxlength="64"' in field and 'dir="auto"' in field
    assert "64 characters at most." in page_text(dialog)
    assert 'data-char-count="id_name"' in html


def test_the_locked_tab_says_how_many_are_active_and_needed(owner_client, user):
    from tests.factories import MembershipFactory

    project = ProjectFactory(active_questions=3)
    MembershipFactory(project=project, user=user, role="admin")
    text = page_text(owner_client.get(_url("api_keys", project)))
    assert "Questions: 3 active (10 needed)." in text
    assert "10 active questions" in text
