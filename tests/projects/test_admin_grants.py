"""The admin cannot grant what its user may not hold (issue 19): superuser status, groups,
permissions and other people's passwords are superusers' business; invitations go through
`invitation_create`; membership changes go through the membership services (event, and both
people's account keys invalidated at once); a slug change is logged."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from accounts.models import User
from keys.services import api_key_create
from projects.actors import Actor
from projects.models import Invitation, KeyEvent, Membership, Role
from projects.models.event import EventKind
from tests.api.conftest import bearer
from tests.conftest import use_record_cache
from tests.factories import PASSWORD, MembershipFactory, ProjectFactory, UserFactory
from tests.helpers import page_text

pytestmark = pytest.mark.django_db


def staff_with(*codenames):
    staff = UserFactory(is_staff=True, email="staff@example.com")
    staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return staff


def user_form(user, **overrides):
    form = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": "on",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


# --- users: superuser status, groups, permissions, passwords --------------------------------------


def test_staff_with_change_user_neither_sees_nor_sets_superuser_status_groups_or_permissions(client):
    staff = staff_with("view_user", "change_user")
    other = UserFactory(email="other@example.com")
    group = Group.objects.create(name="Everything")
    group.permissions.set(Permission.objects.all())
    client.force_login(staff)
    for user in (other, staff):
        url = reverse("admin:accounts_user_change", args=[user.pk])
        body = client.get(url).content.decode()
        assert 'name="is_superuser"' not in body and 'name="groups"' not in body
        assert 'name="user_permissions"' not in body
        assert "Superuser status" not in body
        everything = [str(p.pk) for p in Permission.objects.all()]
        response = client.post(
            url,
            user_form(user, is_superuser="on", is_staff="on", groups=[str(group.pk)], user_permissions=everything),
        )
        assert response.status_code == 302, page_text(response)
        user.refresh_from_db()
        assert not user.is_superuser
        assert not user.groups.exists()
    staff.refresh_from_db()
    assert set(staff.user_permissions.values_list("codename", flat=True)) == {"view_user", "change_user"}


def test_staff_with_group_permissions_cannot_grant_through_a_group(client):
    """A group is a bundle of permissions: staff holding add/change/delete_group could otherwise
    put every permission into their own group. They may look; superusers change groups."""
    staff = staff_with("view_group", "add_group", "change_group", "delete_group")
    own = Group.objects.create(name="Support")
    staff.groups.add(own)
    everything = [str(p.pk) for p in Permission.objects.all()]
    client.force_login(staff)
    change = reverse("admin:auth_group_change", args=[own.pk])
    assert client.get(change).status_code == 200  # viewing stays
    assert 'name="permissions"' not in client.get(change).content.decode()
    assert client.post(change, {"name": "Support", "permissions": everything}).status_code == 403
    assert client.post(reverse("admin:auth_group_add"), {"name": "All", "permissions": everything}).status_code == 403
    assert client.post(reverse("admin:auth_group_delete", args=[own.pk]), {"post": "yes"}).status_code == 403
    assert not own.permissions.exists() and Group.objects.count() == 1
    staff = User.objects.get(pk=staff.pk)
    assert not staff.has_perm("accounts.change_user")
    root = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    client.force_login(root)
    assert client.post(change, {"name": "Support", "permissions": everything[:1]}).status_code == 302
    assert own.permissions.count() == 1


def test_staff_cannot_set_someone_elses_password(client):
    staff = staff_with("view_user", "change_user")
    root = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    other = UserFactory(email="other@example.com")
    client.force_login(staff)
    change_page = client.get(reverse("admin:accounts_user_change", args=[other.pk])).content.decode()
    assert "../password/" not in change_page  # no link to a form it may not use
    for user in (root, other):
        url = reverse("admin:auth_user_password_change", args=[user.pk])
        assert client.get(url).status_code == 403
        response = client.post(url, {"password1": "a-long-unusual-pass-42", "password2": "a-long-unusual-pass-42"})
        assert response.status_code == 403
        user.refresh_from_db()
        assert user.check_password(PASSWORD)
    # their own password, yes
    url = reverse("admin:auth_user_password_change", args=[staff.pk])
    assert client.get(url).status_code == 200


def test_staff_cannot_change_a_superusers_account(client):
    """Changing the superuser's address (then resetting its password) would be the same takeover."""
    staff = staff_with("view_user", "change_user", "delete_user")
    root = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    client.force_login(staff)
    url = reverse("admin:accounts_user_change", args=[root.pk])
    client.post(url, user_form(root, email="mine@example.com", is_staff="on"))
    root.refresh_from_db()
    assert root.email == "root@example.com"
    assert client.post(reverse("admin:accounts_user_delete", args=[root.pk]), {"post": "yes"}).status_code == 403
    assert User.objects.filter(pk=root.pk).exists()


def test_staff_cannot_remove_a_superusers_second_factor(client):
    from allauth.mfa.models import Authenticator

    staff = staff_with("view_authenticator", "delete_authenticator")
    root = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    other = UserFactory(email="other@example.com")
    theirs = Authenticator.objects.create(user=root, type=Authenticator.Type.TOTP, data={"secret": "x"})
    mine = Authenticator.objects.create(user=other, type=Authenticator.Type.TOTP, data={"secret": "y"})
    client.force_login(staff)
    client.post(reverse("admin:mfa_authenticator_delete", args=[theirs.pk]), {"post": "yes"})
    assert Authenticator.objects.filter(pk=theirs.pk).exists()
    client.post(reverse("admin:mfa_authenticator_delete", args=[mine.pk]), {"post": "yes"})
    assert not Authenticator.objects.filter(pk=mine.pk).exists()  # a lost phone: still possible


def test_superuser_still_sees_and_sets_everything(admin_client):
    other = UserFactory(email="other@example.com")
    url = reverse("admin:accounts_user_change", args=[other.pk])
    body = admin_client.get(url).content.decode()
    assert 'name="is_superuser"' in body and 'name="groups"' in body and 'name="user_permissions"' in body
    admin_client.post(url, user_form(other, is_superuser="on", is_staff="on"))
    other.refresh_from_db()
    assert other.is_superuser
    assert admin_client.get(reverse("admin:auth_user_password_change", args=[other.pk])).status_code == 200


# --- invitations --------------------------------------------------------------------------------


@pytest.fixture
def project(db):
    owner = UserFactory(email="owner@example.com")
    return ProjectFactory(owner=owner, name="Trivia", slug="trivia", active_questions=10)


def invite(client, project, email, role):
    return client.post(reverse("admin:projects_invitation_add"), {"project": project.pk, "email": email, "role": role})


def test_admin_invitation_cannot_make_an_owner(client, project, mailoutbox):
    client.force_login(staff_with("add_invitation", "view_invitation", "view_project"))
    page = client.get(reverse("admin:projects_invitation_add")).content.decode()
    assert 'value="owner"' not in page
    response = invite(client, project, "boss@example.com", Role.OWNER)
    assert response.status_code == 200  # the form again, with the error
    assert not Invitation.objects.exists()
    assert not mailoutbox


def test_admin_invitation_goes_through_invitation_create(client, project, mailoutbox):
    staff = staff_with("add_invitation", "view_invitation", "view_project")
    client.force_login(staff)
    response = invite(client, project, "New@Example.com", Role.ADMIN)
    assert response.status_code == 302, page_text(response)
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.invited_by) == ("new@example.com", Role.ADMIN, staff)
    event = KeyEvent.objects.get(kind=EventKind.INVITATION_SENT)
    assert event.subject == "new@example.com" and event.actor_label == "admin: staff@example.com"
    (message,) = mailoutbox
    assert message.to == ["new@example.com"]
    assert "/projects/invitations/" in message.body  # a working link: its token is in the mail only


def test_admin_invitations_keep_the_mail_limits(client, project, mailoutbox, settings):
    settings.INVITATION_MAILS_PER_INVITER_PER_HOUR = 2
    client.force_login(staff_with("add_invitation", "view_invitation", "view_project"))
    statuses = [invite(client, project, f"n{i}@example.com", Role.VIEWER).status_code for i in range(3)]
    assert statuses == [302, 302, 200]
    assert Invitation.objects.count() == 2 and len(mailoutbox) == 2
    assert "too many invitations" in page_text(invite(client, project, "n9@example.com", Role.VIEWER))


def test_admin_invitation_already_pending_is_a_form_error(client, project, mailoutbox):
    client.force_login(staff_with("add_invitation", "view_invitation", "view_project"))
    assert invite(client, project, "a@example.com", Role.VIEWER).status_code == 302
    response = invite(client, project, "a@example.com", Role.VIEWER)
    assert response.status_code == 200 and "already pending" in page_text(response)


def test_admin_cannot_turn_an_invitation_into_an_owner_one(admin_client, project):
    invitation = Invitation.objects.create(project=project, email="inv@example.com", role=Role.VIEWER)
    url = reverse("admin:projects_invitation_change", args=[invitation.pk])
    admin_client.post(url, {"project": project.pk, "email": "inv@example.com", "role": Role.OWNER})
    invitation.refresh_from_db()
    assert invitation.role == Role.VIEWER


def test_admin_invitation_delete_is_a_logged_cancel(admin_client, project):
    invitation = Invitation.objects.create(project=project, email="inv@example.com", role=Role.VIEWER)
    admin_client.post(reverse("admin:projects_invitation_delete", args=[invitation.pk]), {"post": "yes"})
    assert not Invitation.objects.exists()
    assert KeyEvent.objects.filter(kind=EventKind.INVITATION_CANCELLED, subject="inv@example.com").exists()


# --- memberships --------------------------------------------------------------------------------


def membership_form(membership, **overrides):
    form = {"project": membership.project_id, "user": membership.user_id, "role": membership.role}
    form.update(overrides)
    return form


def test_moving_a_membership_to_another_user_is_logged_and_stops_the_old_members_key_at_once(
    admin_client, project, settings
):
    use_record_cache(settings, "locmem")
    old = UserFactory(email="old@example.com")
    new = UserFactory(email="new@example.com")
    membership = MembershipFactory(project=project, user=old, role=Role.ADMIN)
    key, plaintext = api_key_create(
        owner=old, name="laptop", permissions=["read"], actor=Actor.cli(), projects=[project]
    )
    from django.test import Client

    api = Client()
    path = f"/api/v1/projects/{project.slug}/questions"
    assert api.get(path, headers=bearer(plaintext)).status_code == 200  # the record is now cached

    url = reverse("admin:projects_membership_change", args=[membership.pk])
    response = admin_client.post(url, membership_form(membership, user=new.pk))
    assert response.status_code == 302, page_text(response)
    membership.refresh_from_db()
    assert membership.user == new
    assert api.get(path, headers=bearer(plaintext)).status_code == 404  # not ~10 s later: now
    events = {(e.kind, e.subject) for e in KeyEvent.objects.filter(project=project)}
    assert (EventKind.MEMBER_REMOVED, "old@example.com") in events
    assert (EventKind.MEMBER_ADDED, "new@example.com") in events


def test_moving_a_membership_in_the_project_inline_is_logged_too(admin_client, project):
    old = UserFactory(email="old@example.com")
    new = UserFactory(email="new@example.com")
    membership = MembershipFactory(project=project, user=old, role=Role.VIEWER)
    owner_membership = Membership.objects.get(project=project, role=Role.OWNER)
    rows = [owner_membership, membership]
    form = {
        "name": project.name,
        "slug": project.slug,
        "memberships-TOTAL_FORMS": str(len(rows)),
        "memberships-INITIAL_FORMS": str(len(rows)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        form |= {
            f"memberships-{i}-id": str(row.pk),
            f"memberships-{i}-project": str(project.pk),
            f"memberships-{i}-user": str(new.pk if row is membership else row.user_id),
            f"memberships-{i}-role": row.role,
        }
    response = admin_client.post(reverse("admin:projects_project_change", args=[project.pk]), form)
    assert response.status_code == 302, page_text(response)
    membership.refresh_from_db()
    assert membership.user == new
    events = {(e.kind, e.subject) for e in KeyEvent.objects.filter(project=project)}
    assert (EventKind.MEMBER_REMOVED, "old@example.com") in events
    assert (EventKind.MEMBER_ADDED, "new@example.com") in events


def test_admin_role_changes_follow_the_membership_rules(admin_client, project):
    member = MembershipFactory(project=project, role=Role.VIEWER)
    url = reverse("admin:projects_membership_change", args=[member.pk])
    response = admin_client.post(url, membership_form(member, role=Role.OWNER))
    assert response.status_code == 200  # refused with a message on the form
    member.refresh_from_db()
    assert member.role == Role.VIEWER
    owner = Membership.objects.get(project=project, role=Role.OWNER)
    response = admin_client.post(
        reverse("admin:projects_membership_change", args=[owner.pk]), membership_form(owner, role=Role.VIEWER)
    )
    assert response.status_code == 200
    owner.refresh_from_db()
    assert owner.role == Role.OWNER
    response = admin_client.post(url, membership_form(member, role=Role.ADMIN))
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.role == Role.ADMIN
    assert KeyEvent.objects.filter(kind=EventKind.MEMBER_ROLE_CHANGED, subject=member.user.email).count() == 1


def test_admin_cannot_add_a_second_owner(admin_client, project):
    newcomer = UserFactory()
    response = admin_client.post(
        reverse("admin:projects_membership_add"), {"project": project.pk, "user": newcomer.pk, "role": Role.OWNER}
    )
    assert response.status_code == 200
    assert not Membership.objects.filter(user=newcomer).exists()


def test_admin_membership_delete_is_logged(admin_client, project):
    member = MembershipFactory(project=project, role=Role.VIEWER)
    admin_client.post(reverse("admin:projects_membership_delete", args=[member.pk]), {"post": "yes"})
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert KeyEvent.objects.filter(kind=EventKind.MEMBER_REMOVED, subject=member.user.email).exists()


# --- the project's address -----------------------------------------------------------------------


def test_slug_change_in_the_admin_writes_an_event(admin_client, project):
    owner_membership = Membership.objects.get(project=project, role=Role.OWNER)
    form = {
        "name": project.name,
        "slug": "quiz",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "1",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": str(owner_membership.pk),
        "memberships-0-project": str(project.pk),
        "memberships-0-user": str(owner_membership.user_id),
        "memberships-0-role": Role.OWNER,
    }
    response = admin_client.post(reverse("admin:projects_project_change", args=[project.pk]), form)
    assert response.status_code == 302, page_text(response)
    event = KeyEvent.objects.get(project=project, kind=EventKind.PROJECT_RENAMED)
    assert event.details == {"old_slug": "trivia", "slug": "quiz"}
    from projects.event_text import sentence

    assert sentence(event) == "admin: admin@example.com changed the project's address from “trivia” to “quiz”"
