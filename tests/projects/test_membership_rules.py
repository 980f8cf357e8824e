"""Only members see a project (others get 404); only owners and admins change it; viewers read."""

import re

import pytest
from django.urls import reverse

from keys.models import ApiKey
from keys.models.api_key import Status
from projects.models import Invitation, KeyEvent, Membership, Question, Role
from tests.factories import ApiKeyFactory, MembershipFactory, QuestionFactory, UserFactory
from tests.helpers import HX, page_text
from tests.urls import project_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(unlocked_project):
    """A project with a question, a key, a viewer membership and a pending invitation."""
    key = ApiKeyFactory(project=unlocked_project, name="prod")
    other_member = MembershipFactory(project=unlocked_project, role=Role.VIEWER)
    invitation = Invitation.objects.create(project=unlocked_project, email="invited@example.com")
    return {
        "project": unlocked_project,
        "question": unlocked_project.questions.first(),
        "key": key,
        "member": other_member,
        "invitation": invitation,
    }


def _urls(world):
    slug, q, key = world["project"].slug, world["question"].pk, world["key"].key_id
    r = lambda name, *args: project_url(name, args=[slug, *args])  # noqa: E731
    return {
        "detail": r("detail"),
        "questions": r("questions"),
        "question_edit": r("question_edit", q),
        "question_toggle": r("question_toggle", q),
        "question_delete": r("question_delete", q),
        "members": r("members"),
        "member_remove": r("member_remove", world["member"].pk),
        "invitation_cancel": r("invitation_cancel", world["invitation"].pk),
        "api_keys": r("api_keys"),
        "key_new": r("key_new"),
        "key_detail": r("key_detail", key),
        "key_rotate": r("key_rotate", key),
        "key_revoke": r("key_revoke", key),
        "key_delete": r("key_delete", key),
        "events": r("events"),
    }


GET_PAGES = [
    "detail",
    "questions",
    "question_edit",
    "members",
    "api_keys",
    "key_new",
    "key_detail",
    "key_rotate",
    "key_revoke",
    "key_delete",
    "events",
]
ALL_ACTIONS = [  # every URL that changes something, posted to
    "questions",
    "question_edit",
    "question_toggle",
    "question_delete",
    "members",
    "member_remove",
    "invitation_cancel",
    "key_new",
    "key_rotate",
    "key_revoke",
    "key_delete",
]
READ_PAGES = ["questions", "members", "api_keys", "key_detail", "events"]
CHANGE_GETS = ["question_edit", "key_new", "key_rotate", "key_revoke", "key_delete"]

POST_DATA = {
    "text": "Changed?",
    "priority": "1",
    "is_active": "on",  # questions
    "email": "new@example.com",
    "role": "admin",  # invitations
    "name": "sneaky",
    "permissions": ["read"],
    "expiration": "90",  # keys
    "grace": "",
}


def _snapshot(world):
    """Everything a change could touch."""
    project = world["project"]
    return {
        "questions": sorted(
            Question.objects.filter(project=project).values_list("pk", "text", "priority", "is_active")
        ),
        "keys": sorted(
            ApiKey.objects.filter(project=project).values_list("pk", "name", "state", "stops_at", "revoked_at")
        ),
        "members": sorted(Membership.objects.filter(project=project).values_list("pk", "role")),
        "invitations": sorted(Invitation.objects.filter(project=project).values_list("pk", "email")),
        "events": KeyEvent.objects.filter(project=project).count(),
    }


@pytest.mark.parametrize("name", GET_PAGES)
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_stranger_gets_404_on_every_page(stranger_client, world, name, htmx):
    response = stranger_client.get(_urls(world)[name], **(HX if htmx else {}))
    assert response.status_code == 404
    assert world["project"].name not in response.content.decode()


@pytest.mark.parametrize("name", ALL_ACTIONS)
def test_stranger_gets_404_on_every_action_and_nothing_changes(stranger_client, world, name):
    before = _snapshot(world)
    response = stranger_client.post(_urls(world)[name], POST_DATA)
    assert response.status_code == 404
    assert _snapshot(world) == before


def test_stranger_gets_404_for_unknown_project_too(stranger_client, world):
    """A missing project and someone else's project look the same."""
    assert stranger_client.get(reverse("projects:questions", args=["no-such-project"])).status_code == 404


@pytest.mark.parametrize("name", READ_PAGES)
def test_viewer_sees_read_pages(viewer_client, world, name):
    response = viewer_client.get(_urls(world)[name])
    assert response.status_code == 200
    assert world["project"].name in page_text(response)


@pytest.mark.parametrize("name", CHANGE_GETS)
def test_viewer_gets_403_on_change_dialogs(viewer_client, world, name):
    assert viewer_client.get(_urls(world)[name]).status_code == 403
    assert viewer_client.get(_urls(world)[name], **HX).status_code == 403


@pytest.mark.parametrize("name", ALL_ACTIONS)
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_viewer_gets_403_on_every_change_and_nothing_changes(viewer_client, world, name, htmx):
    before = _snapshot(world)
    response = viewer_client.post(_urls(world)[name], POST_DATA, **(HX if htmx else {}))
    assert response.status_code == 403
    assert _snapshot(world) == before


def test_viewer_sees_keys_but_no_key_actions(viewer_client, world):
    response = viewer_client.get(_urls(world)["api_keys"])
    text = page_text(response)
    assert "prod" in text
    assert world["key"].masked in text
    body = response.content.decode()
    for action in ("Generate a key", "Rotate", "Revoke", "Delete", "Disable", "Enable", "Revoke selected"):
        # (the Status filter's options name "Revoked" keys: an action is a link or a button)
        assert f">{action}</a>" not in body and f">{action}</button>" not in body, action
    assert "Generate a key" not in text and "More actions" not in text


def test_viewer_sees_members_without_invite_form(viewer_client, world):
    text = page_text(viewer_client.get(_urls(world)["members"]))
    assert "Invite someone" not in text
    assert "Remove" not in text


@pytest.mark.parametrize("name", GET_PAGES)
def test_anonymous_is_sent_to_login(client, world, name):
    response = client.get(_urls(world)[name])
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


@pytest.mark.parametrize("client_fixture", ["owner_client", "admin_member_client"])
def test_owners_and_admins_can_change(request, world, client_fixture):
    c = request.getfixturevalue(client_fixture)
    urls = _urls(world)
    assert c.post(urls["question_toggle"]).status_code == 302
    assert c.post(urls["key_revoke"]).status_code == 302
    world["key"].refresh_from_db()
    assert world["key"].status == Status.REVOKED
    assert c.post(urls["member_remove"]).status_code == 302
    assert not Membership.objects.filter(pk=world["member"].pk).exists()


def test_owner_cannot_be_removed(admin_member_client, world, user):
    owner = Membership.objects.get(project=world["project"], user=user)
    url = reverse("projects:member_remove", args=[world["project"].slug, owner.pk])
    assert admin_member_client.post(url).status_code == 403
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_membership_of_another_project_cannot_be_removed(owner_client, world):
    elsewhere = MembershipFactory()
    url = reverse("projects:member_remove", args=[world["project"].slug, elsewhere.pk])
    assert owner_client.post(url).status_code == 404
    assert Membership.objects.filter(pk=elsewhere.pk).exists()


# --- invitations ----------------------------------------------------------------------------


def test_invite_sends_mail_and_accepting_adds_membership(owner_client, world, client, mailoutbox):
    project = world["project"]
    response = owner_client.post(_urls(world)["members"], {"email": "Joiner@Example.com", "role": "admin"})
    assert response.status_code == 302
    invitation = Invitation.objects.get(project=project, email="joiner@example.com")
    assert len(mailoutbox) == 1
    link = re.search(r"https?://[^/\s]+(/projects/invitations/\S+/)", mailoutbox[0].body).group(1)

    joiner = UserFactory(email="joiner@example.com")
    client.force_login(joiner)
    response = client.get(link)
    assert response.status_code == 302  # the token leaves the address bar at once
    accept = response.url
    assert accept == reverse("projects:invitation")
    assert client.get(accept).status_code == 200
    response = client.post(accept)
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=joiner).role == Role.ADMIN
    invitation.refresh_from_db()
    assert invitation.status == "accepted"
    # used once: a second attempt is refused
    client.get(link)
    assert client.post(accept).status_code == 410


def test_invitation_for_another_email_is_refused(world, client):
    invitation, token = Invitation.objects.issue(project=world["project"], email="invited2@example.com")
    client.force_login(UserFactory(email="wrong@example.com"))
    client.get(reverse("projects:invitation_open", args=[token]))
    response = client.post(reverse("projects:invitation"))
    assert response.status_code == 410
    assert "This invitation is for invited2@example.com" in page_text(response)
    assert not Membership.objects.filter(project=world["project"], user__email="wrong@example.com").exists()


def test_inviting_an_existing_member_is_refused(owner_client, world):
    response = owner_client.post(_urls(world)["members"], {"email": world["member"].user.email, "role": "viewer"})
    assert response.status_code == 422
    assert "This person is already a member." in page_text(response)


def test_owner_cannot_be_invited_as_owner(owner_client, world):
    response = owner_client.post(_urls(world)["members"], {"email": "boss@example.com", "role": "owner"})
    assert response.status_code == 422
    assert not Invitation.objects.filter(email="boss@example.com").exists()


def test_question_ids_of_other_projects_are_404_for_members(owner_client, world):
    other = QuestionFactory()
    url = reverse("projects:question_edit", args=[world["project"].slug, other.pk])
    assert owner_client.get(url).status_code == 404
