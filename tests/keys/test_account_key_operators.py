"""Operators and account keys: create_api_key --account, revoke_api_key of either kind, the admin."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from keys import keygen
from keys.models import ApiKey
from keys.models.api_key import Status
from keys.services import api_key_create
from projects.actors import Actor
from projects.models import KeyEvent, Role
from projects.models.event import EventKind
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.helpers import KEY_IN_TEXT, page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def person():
    user = UserFactory(email="ops@example.com")
    for slug in ("demo", "other"):
        MembershipFactory(
            project=ProjectFactory(slug=slug, name=slug.title(), active_questions=10), user=user, role=Role.ADMIN
        )
    return user


def _create(*args):
    out, err = StringIO(), StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize("projects, all_projects, scope", [("demo,other", False, ["demo", "other"]), ("all", True, [])])
def test_create_account_key_prints_one_key(person, projects, all_projects, scope):
    out, err = _create(
        "--account",
        "OPS@example.com",
        "--projects",
        projects,
        "--name",
        "cron",
        "--permissions",
        "read",
        "--expires-days",
        "30",
    )
    (line,) = out.splitlines()
    assert keygen.is_well_formed(line) and KEY_IN_TEXT.fullmatch(line)
    key = ApiKey.objects.get(owner=person)
    assert (key.project, key.all_projects, key.expiry_rule) == (None, all_projects, "30")
    assert sorted(key.scope_projects.values_list("slug", flat=True)) == scope
    assert line not in err and key.key_id in err
    assert KeyEvent.objects.filter(account=person, kind=EventKind.CREATED, actor_label="cli").count() == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["--account", "nobody@example.com", "--projects", "all"], "No account"),
        (["--account", "ops@example.com", "--projects", "demo,nope"], "“nope”"),
        (["--account", "ops@example.com", "--projects", ""], "--projects"),
        (["demo", "--account", "ops@example.com", "--projects", "all"], "not a project slug"),
        (["--projects", "demo"], "Name a project"),
    ],
)
def test_create_account_key_errors(person, args, message):
    with pytest.raises(CommandError, match=message):
        _create(*args, "--name", "cron", "--permissions", "read")
    assert not ApiKey.objects.exists()


def test_an_account_key_cannot_reach_a_project_of_someone_else(person):
    ProjectFactory(slug="secret")
    with pytest.raises(CommandError, match="member of"):
        _create("--account", "ops@example.com", "--projects", "demo,secret", "--name", "x", "--permissions", "read")


def test_revoke_api_key_revokes_an_account_key(person):
    key, _ = api_key_create(owner=person, all_projects=True, name="k", permissions=["read"], actor=Actor.cli())
    out = StringIO()
    call_command("revoke_api_key", key.key_id, stdout=out, stderr=StringIO())
    key.refresh_from_db()
    assert key.status == Status.REVOKED
    assert "ops@example.com" in out.getvalue()
    assert KeyEvent.objects.filter(account=person, kind=EventKind.REVOKED).count() == 1
    assert KeyEvent.objects.filter(account=None, kind=EventKind.REVOKED).count() == 2  # demo and other


def test_admin_lists_account_keys_with_owner_and_scope_and_revokes_them(admin_client, person):
    demo = person.memberships.get(project__slug="demo").project
    scoped, _ = api_key_create(owner=person, projects=[demo], name="scoped", permissions=["read"], actor=Actor.cli())
    every, _ = api_key_create(owner=person, all_projects=True, name="every", permissions=["read"], actor=Actor.cli())
    changelist = reverse("admin:keys_apikey_changelist")
    text = page_text(admin_client.get(changelist + "?kind=account"))
    assert "ops@example.com" in text and "All their projects" in text and "demo" in text
    assert page_text(admin_client.get(reverse("admin:keys_apikey_change", args=[scoped.pk])))
    selected = {"action": "revoke_selected", "_selected_action": [str(scoped.pk), str(every.pk)]}
    confirmation = page_text(admin_client.post(changelist, selected))
    assert scoped.key_id in confirmation and every.key_id in confirmation
    response = admin_client.post(changelist, {**selected, "post": "yes"}, follow=True)
    assert "Revoked 2 key(s)." in page_text(response)
    assert {k.status for k in ApiKey.objects.filter(owner=person)} == {Status.REVOKED}
