"""The Django admin: every page loads, keys can be revoked in bulk (logged), no secret is shown."""

from datetime import date, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from keys.models import ApiKey, KeyUsageDay
from keys.models.api_key import Status
from keys.services import api_key_create, api_key_rotate
from projects.actors import Actor
from projects.models import Invitation, KeyEvent, Membership
from projects.models.event import EventKind
from tests.factories import ApiKeyFactory, MembershipFactory, ProjectFactory, QuestionFactory
from tests.helpers import KEY_IN_TEXT, page_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(unlocked_project, user):
    actor = Actor(user=user, label=user.email, ip="192.0.2.9")
    key, plaintext = api_key_create(project=unlocked_project, name="web", permissions=["read", "write"], actor=actor)
    new, new_plaintext = api_key_rotate(key=key, actor=actor, grace="1h")
    other, other_plaintext = api_key_create(project=unlocked_project, name="batch", permissions=["read"], actor=actor)
    usage = KeyUsageDay.objects.create(api_key=new, day=date.today(), success=10, client_error=2)
    invitation = Invitation.objects.create(project=unlocked_project, email="inv@example.com", invited_by=user)
    return {
        "keys": [key, new, other],
        "secrets": [plaintext, new_plaintext, other_plaintext],
        "hashes": [k.key_hash for k in (key, new, other)],
        "event": KeyEvent.objects.first(),
        "usage": usage,
        "invitation": invitation,
        "question": QuestionFactory(project=unlocked_project),
        "membership": Membership.objects.filter(project=unlocked_project).first(),
        "project": unlocked_project,
        "user": user,
    }


def _pages(data):
    """(url, description) of every changelist and change page, plus the other key pages."""
    objects = {
        "keys_apikey": data["keys"][1],
        "projects_keyevent": data["event"],
        "projects_project": data["project"],
        "projects_question": data["question"],
        "projects_membership": data["membership"],
        "projects_invitation": data["invitation"],
        "accounts_user": data["user"],
        "keys_keyusageday": data["usage"],
    }
    pages = [reverse("admin:index"), reverse("admin:app_list", args=["projects"])]
    for name, obj in objects.items():
        pages.append(reverse(f"admin:{name}_changelist"))
        pages.append(reverse(f"admin:{name}_change", args=[obj.pk]))
        pages.append(reverse(f"admin:{name}_history", args=[obj.pk]))
    key = data["keys"][0]
    pages += [
        reverse("admin:keys_apikey_delete", args=[key.pk]),
        reverse("admin:keys_apikey_changelist") + "?status=active",
        reverse("admin:keys_apikey_changelist") + "?status=revoked",
        reverse("admin:keys_apikey_changelist") + "?status=expired",
        reverse("admin:keys_apikey_changelist") + f"?q={key.key_id}",
        reverse("admin:keys_apikey_changelist") + f"?project__id__exact={data['project'].pk}",
        reverse("admin:projects_keyevent_changelist") + "?kind=rotated",
        reverse("admin:projects_project_delete", args=[data["project"].pk]),
    ]
    for name in (
        "projects_project",
        "projects_question",
        "projects_membership",
        "projects_invitation",
        "accounts_user",
    ):
        pages.append(reverse(f"admin:{name}_add"))
    return pages


def test_every_admin_page_loads_for_a_superuser(admin_client, data):
    for url in _pages(data):
        response = admin_client.get(url)
        assert response.status_code == 200, url


def test_admin_index_lists_api_keys_and_key_events(admin_client, data):
    text = page_text(admin_client.get(reverse("admin:index")))
    assert "API keys" in text
    assert "Key events" in text


def test_no_admin_page_shows_a_key_or_its_hash(admin_client, data):
    for url in _pages(data):
        body = admin_client.get(url).content.decode()
        assert not KEY_IN_TEXT.search(body), url
        for secret in data["secrets"]:
            assert secret[9:] not in body, url
        for key_hash in data["hashes"]:
            assert key_hash not in body, url
            assert key_hash[:16] not in body, url


def test_searching_by_hash_finds_nothing(admin_client, data):
    response = admin_client.get(reverse("admin:keys_apikey_changelist"), {"q": data["hashes"][0]})
    assert "0 API keys" in page_text(response)


def test_key_change_page_shows_masked_key_and_read_only_secret_fields(admin_client, data):
    key = data["keys"][1]
    response = admin_client.get(reverse("admin:keys_apikey_change", args=[key.pk]))
    body = response.content.decode()
    assert key.masked in page_text(response)
    assert key.key_id in page_text(response)
    assert 'name="key_hash"' not in body and 'name="key_id"' not in body and 'name="last4"' not in body
    assert 'name="rate_limit_per_minute"' in body  # the per-key override is editable


def test_rate_limit_override_can_be_set_in_the_admin(admin_client, data):
    key = data["keys"][1]
    response = admin_client.post(reverse("admin:keys_apikey_change", args=[key.pk]), {"rate_limit_per_minute": "5"})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.rate_limit == 5
    assert key.key_hash == data["hashes"][1]


def test_keys_cannot_be_added_and_events_cannot_be_edited(admin_client, data):
    assert admin_client.get(reverse("admin:keys_apikey_add")).status_code == 403
    assert admin_client.get(reverse("admin:projects_keyevent_add")).status_code == 403
    event = data["event"]
    response = admin_client.post(
        reverse("admin:projects_keyevent_change", args=[event.pk]), {"key_name": "tampered", "kind": "deleted"}
    )
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.key_name != "tampered"


def test_revoke_action_revokes_and_logs(admin_client, data, admin_user):
    changelist = reverse("admin:keys_apikey_changelist")
    response = admin_client.get(changelist)
    actions = response.context["action_form"].fields["action"].choices
    labels = {value: str(label) for value, label in actions}
    assert "Revoke" in labels["revoke_selected"]

    old, new, other = data["keys"]  # old is inside its grace period
    already = ApiKeyFactory(project=data["project"], state="revoked", revoked_at=timezone.now() - timedelta(days=1))
    selected = {"action": "revoke_selected", "_selected_action": [str(k.pk) for k in (old, new, other, already)]}
    # First a confirmation page listing the keys; nothing is revoked yet.
    response = admin_client.post(changelist, selected)
    assert response.status_code == 200
    text = page_text(response)
    assert "Revoke API keys?" in text
    for key in (old, new, other, already):
        assert key.key_id in text
    assert not KeyEvent.objects.filter(kind=EventKind.REVOKED).exists()
    response = admin_client.post(changelist, {**selected, "post": "yes"}, follow=True)
    assert response.status_code == 200
    assert "Revoked 3 key(s). 1 were already revoked." in page_text(response)
    for key in (old, new, other, already):
        key.refresh_from_db()
        assert key.status == Status.REVOKED
    events = KeyEvent.objects.filter(kind=EventKind.REVOKED)
    assert {e.key_id for e in events} == {old.key_id, new.key_id, other.key_id}
    assert {e.actor_label for e in events} == {f"admin: {admin_user.email}"}
    assert {e.actor for e in events} == {admin_user}


def test_admin_delete_goes_through_the_service(admin_client, data, admin_user):
    key = data["keys"][2]
    response = admin_client.post(reverse("admin:keys_apikey_delete", args=[key.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not ApiKey.objects.filter(pk=key.pk).exists()
    event = KeyEvent.objects.get(kind=EventKind.DELETED)
    assert (event.key_id, event.key_name, event.actor_label) == (key.key_id, "batch", f"admin: {admin_user.email}")
    assert LogEntry.objects.filter(object_id=str(key.pk)).exists()


def test_admin_bulk_delete_goes_through_the_service(admin_client, data):
    keys = data["keys"]
    response = admin_client.post(
        reverse("admin:keys_apikey_changelist"),
        {"action": "delete_selected", "_selected_action": [str(k.pk) for k in keys], "post": "yes"},
    )
    assert response.status_code == 302
    assert not ApiKey.objects.exists()
    assert set(KeyEvent.objects.filter(kind=EventKind.DELETED).values_list("key_id", flat=True)) == {
        k.key_id for k in keys
    }


def test_project_changelist_counts(admin_client, data):
    ProjectFactory(name="Empty one")
    body = admin_client.get(reverse("admin:projects_project_changelist")).content.decode()
    assert '<td class="field-active_questions">11</td>' in body
    assert '<td class="field-key_count">3</td>' in body


def test_staff_without_superuser_sees_nothing_it_may_not(client, data):
    from tests.factories import UserFactory

    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("admin:keys_apikey_changelist")).status_code == 403


@pytest.mark.parametrize(
    "name",
    [
        "admin:index",
        "admin:keys_apikey_changelist",
        "admin:projects_keyevent_changelist",
        "admin:accounts_user_changelist",
    ],
)
def test_non_staff_user_is_sent_to_admin_login(owner_client, data, name):
    response = owner_client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_non_staff_cannot_run_the_revoke_action(owner_client, data):
    key = data["keys"][2]
    response = owner_client.post(
        reverse("admin:keys_apikey_changelist"), {"action": "revoke_selected", "_selected_action": [str(key.pk)]}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.status == Status.ACTIVE


def test_membership_admin_uses_autocomplete(admin_client, data):
    MembershipFactory.create_batch(3)
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "projects", "model_name": "membership", "field_name": "user", "term": "user"},
    )
    assert response.status_code == 200
    assert response.json()["results"]


# --- findings 1 and 2 of the trust review ------------------------------------------------------


def _staff_with(*codenames):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    staff = UserFactory(is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return staff


def test_view_only_staff_cannot_revoke_keys(client, data):
    client.force_login(_staff_with("view_apikey"))
    changelist = reverse("admin:keys_apikey_changelist")
    response = client.get(changelist)
    assert response.status_code == 200
    action_form = response.context["action_form"]
    assert action_form is None or "revoke_selected" not in dict(action_form.fields["action"].choices)
    keys = data["keys"]
    for extra in ({}, {"post": "yes"}):
        client.post(changelist, {"action": "revoke_selected", "_selected_action": [str(k.pk) for k in keys], **extra})
    assert not KeyEvent.objects.filter(kind=EventKind.REVOKED).exists()
    for key in keys[1:]:
        key.refresh_from_db()
        assert key.status == Status.ACTIVE


def test_staff_allowed_to_change_keys_can_revoke(client, data):
    client.force_login(_staff_with("view_apikey", "change_apikey"))
    changelist = reverse("admin:keys_apikey_changelist")
    assert "revoke_selected" in dict(client.get(changelist).context["action_form"].fields["action"].choices)
    key = data["keys"][2]
    client.post(changelist, {"action": "revoke_selected", "_selected_action": [str(key.pk)], "post": "yes"})
    key.refresh_from_db()
    assert key.status == Status.REVOKED


def test_view_only_staff_cannot_deactivate_questions(client, data):
    client.force_login(_staff_with("view_question"))
    question = data["question"]
    response = client.post(
        reverse("admin:projects_question_changelist"), {"action": "deactivate", "_selected_action": [str(question.pk)]}
    )
    assert response.status_code in (200, 302)
    question.refresh_from_db()
    assert question.is_active


def test_view_on_site_does_not_lead_to_an_invitation_link(admin_client, data):
    from django.contrib.contenttypes.models import ContentType

    invitation = data["invitation"]
    ct = ContentType.objects.get_for_model(Invitation)
    response = admin_client.get(f"/admin/r/{ct.pk}/{invitation.pk}/")
    assert response.status_code == 404
    body = admin_client.get(reverse("admin:projects_invitation_change", args=[invitation.pk])).content.decode()
    assert invitation.token_hash not in body
    assert "/projects/invitations/" not in body


@pytest.mark.parametrize(
    ("changelist", "lookup"),
    [
        ("admin:projects_invitation_changelist", "token_hash__startswith"),
        ("admin:projects_invitation_changelist", "token_hash"),
        ("admin:projects_invitation_changelist", "token_hash__startswith"),
        ("admin:keys_apikey_changelist", "key_hash__startswith"),
        ("admin:keys_apikey_changelist", "rotated_from__key_hash__startswith"),
        ("admin:keys_keyusageday_changelist", "api_key__key_hash__startswith"),
        ("admin:projects_project_changelist", "api_keys__key_hash__startswith"),
        ("admin:accounts_user_changelist", "password__startswith"),
    ],
)
def test_no_admin_filter_on_a_secret_hash(admin_client, data, changelist, lookup):
    """A prefix filter on a hash is an oracle: the admin refuses it (400) for every prefix."""
    value = data["hashes"][0][:1] if "key_hash" in lookup else (data["invitation"].token_hash[:1])
    response = admin_client.get(reverse(changelist), {lookup: value})
    assert response.status_code == 400


def test_ordering_by_a_hash_is_not_offered(admin_client, data):
    # `?o=N` orders by the N-th list column; no column is a hash, so no index orders by one.
    response = admin_client.get(reverse("admin:keys_apikey_changelist"))
    columns = [getattr(f, "__name__", f) for f in response.context["cl"].list_display]
    assert "key_hash" not in columns


def test_key_events_are_append_only_for_superusers_too(admin_client, data):
    event = data["event"]
    assert admin_client.get(reverse("admin:projects_keyevent_delete", args=[event.pk])).status_code == 403
    admin_client.post(
        reverse("admin:projects_keyevent_changelist"),
        {"action": "delete_selected", "_selected_action": [str(event.pk)], "post": "yes"},
    )
    assert KeyEvent.objects.filter(pk=event.pk).exists()


def test_authenticator_secrets_are_not_shown_in_the_admin(admin_client, admin_user):
    from allauth.mfa.models import Authenticator

    auth = Authenticator.objects.create(
        user=admin_user, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"}
    )
    for url in (
        reverse("admin:mfa_authenticator_changelist"),
        reverse("admin:mfa_authenticator_change", args=[auth.pk]),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert "JBSWY3DPEHPK3PXP" not in response.content.decode()
    assert admin_client.get(reverse("admin:mfa_authenticator_changelist"), {"data__icontains": "J"}).status_code == 400
