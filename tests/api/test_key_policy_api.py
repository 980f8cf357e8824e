"""A project's key policy on the runtime API (#29): the allowed permissions cap every key at each
request, a personal key needs approval where the policy asks for it, and a holder without 2FA is
refused where 2FA is required. Run with the record cache off, in local memory and on Redis: a
policy, an approval or a second factor changed between two requests counts on the second."""

import json

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client
from django.urls import reverse

from keys.policy import save_policy
from keys.services import api_key_create, api_key_rotate, api_key_update
from projects.actors import Actor
from projects.models import KeyEvent, Role
from projects.models.event import EventKind
from tests.api.conftest import bearer, error_code
from tests.api.test_live_http import fetch
from tests.conftest import use_record_cache
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

ALL = ["create", "read", "write", "delete", "invite"]


@pytest.fixture(params=["no-cache", "locmem", "redis"])
def record_cache(request, settings):
    return use_record_cache(settings, request.param)


@pytest.fixture
def owner(db):
    return UserFactory(email="ana@example.com")


@pytest.fixture
def team(owner):
    return ProjectFactory(owner=owner, slug="team", name="Team", active_questions=12)


def second_factor(user):
    return Authenticator.objects.create(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})


def policy(project, owner, **rules):
    return save_policy(project=project, actor=Actor(user=owner, label=owner.email), user=owner, **rules)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- allowed permissions ---------------------------------------------------------------------------
def test_a_key_holding_delete_is_refused_a_delete_on_its_next_request_once_delete_is_not_allowed(
    client, record_cache, owner, team
):
    key, plaintext = api_key_create(project=team, name="Nightly", permissions=ALL, actor=Actor.cli())
    question = team.questions.first()
    assert "delete" in client.get("/api/v1/key", headers=bearer(plaintext)).json()["permissions"]  # record cached

    saved = policy(team, owner, allowed_permissions=["create", "read", "write", "invite"])
    assert saved.out_of_policy == 1  # it holds delete: Out of policy, still working

    response = client.delete(f"/api/v1/questions/{question.pk}", headers=bearer(plaintext))
    assert response.status_code == 403 and error_code(response) == "insufficient_permission"
    assert client.get("/api/v1/questions", headers=bearer(plaintext)).status_code == 200  # keeps working
    # GET /key shows the effective permissions
    assert client.get("/api/v1/key", headers=bearer(plaintext)).json()["permissions"] == [
        "create",
        "read",
        "write",
        "invite",
    ]
    policy(team, owner, allowed_permissions=ALL)
    assert client.delete(f"/api/v1/questions/{question.pk}", headers=bearer(plaintext)).status_code == 204


def test_the_cap_holds_for_personal_keys_too(client, record_cache, owner, team):
    member = UserFactory()
    MembershipFactory(project=team, user=member, role=Role.ADMIN)
    _, plaintext = api_key_create(owner=member, all_projects=True, name="mine", permissions=ALL, actor=Actor.cli())
    question = team.questions.first()
    assert client.get("/api/v1/projects/team/key", headers=bearer(plaintext)).json()["permissions"] == ALL
    policy(team, owner, allowed_permissions=["read"])
    response = client.delete(f"/api/v1/projects/team/questions/{question.pk}", headers=bearer(plaintext))
    assert response.status_code == 403 and error_code(response) == "insufficient_permission"
    assert client.get("/api/v1/projects/team/key", headers=bearer(plaintext)).json()["permissions"] == ["read"]


@pytest.mark.django_db(transaction=True)
def test_the_cap_over_real_http(live_server, settings):
    use_record_cache(settings, "redis")
    owner = UserFactory()
    team = ProjectFactory(owner=owner, slug="team-http", active_questions=12)
    _, plaintext = api_key_create(project=team, name="curl", permissions=ALL, actor=Actor.cli())
    question_id = team.questions.first().pk
    base = live_server.url + "/api/v1"
    status, _, body = fetch(base + "/key", {"Authorization": f"Bearer {plaintext}"})
    assert status == 200 and "delete" in json.loads(body)["permissions"]
    policy(team, owner, allowed_permissions=["read", "write"])
    status, _, body = fetch(base + f"/questions/{question_id}", {"Authorization": f"Bearer {plaintext}"}, "DELETE")
    assert status == 403 and json.loads(body)["error"]["code"] == "insufficient_permission"


# --- approval of personal keys -----------------------------------------------------------------------
def test_a_personal_key_needs_approval_then_works_and_deny_brings_the_refusal_back(
    client, record_cache, owner, team, mailoutbox
):
    admin, member = UserFactory(email="adi@example.com"), UserFactory(email="mo@example.com")
    MembershipFactory(project=team, user=admin, role=Role.ADMIN)
    MembershipFactory(project=team, user=member, role=Role.VIEWER)
    elsewhere = ProjectFactory(slug="elsewhere", active_questions=12)
    MembershipFactory(project=elsewhere, user=member, role=Role.VIEWER)
    policy(team, owner, approval_required=True)

    key, plaintext = api_key_create(
        owner=member, all_projects=True, name="mine", permissions=["read"], actor=Actor.cli()
    )
    for _ in range(2):
        response = client.get("/api/v1/projects/team/questions", headers=bearer(plaintext))
        assert response.status_code == 403 and error_code(response) == "key_not_approved"
    # other projects of its scope are unaffected
    assert client.get("/api/v1/projects/elsewhere/questions", headers=bearer(plaintext)).status_code == 200
    # one mail, to the owner and the admin
    asking = [m for m in mailoutbox if "asks to act" in m.subject]
    assert len(asking) == 1 and sorted(asking[0].to) == ["adi@example.com", "ana@example.com"]
    assert key.key_id in asking[0].body and plaintext not in asking[0].body

    # the admin clicks Approve on the API Key tab
    tab = logged_in(admin).get(reverse("project_keys:api_keys", args=["team"]))
    assert "Pending approval" in tab.content.decode() and key.key_id in tab.content.decode()
    approved = logged_in(admin).post(reverse("project_settings:approve", args=["team", key.key_id]))
    assert approved.status_code == 302
    assert client.get("/api/v1/projects/team/questions", headers=bearer(plaintext)).status_code == 200
    # the holder sees it in the key's details
    details = logged_in(member).get(reverse("account_keys:key_detail", args=[key.key_id])).content.decode()
    assert "Approved" in details

    logged_in(admin).post(reverse("project_settings:deny", args=["team", key.key_id]))
    response = client.get("/api/v1/projects/team/questions", headers=bearer(plaintext))
    assert response.status_code == 403 and error_code(response) == "key_not_approved"
    assert "Denied" in logged_in(member).get(reverse("account_keys:key_detail", args=[key.key_id])).content.decode()
    kinds = set(KeyEvent.objects.filter(project=team, key_id=key.key_id).values_list("kind", flat=True))
    assert {EventKind.APPROVAL_REQUESTED, EventKind.KEY_APPROVED, EventKind.KEY_DENIED} <= kinds


def test_a_key_made_before_approval_was_required_asks_on_its_first_call_with_one_mail(
    client, record_cache, owner, team, mailoutbox
):
    member = UserFactory()
    MembershipFactory(project=team, user=member, role=Role.ADMIN)
    key, plaintext = api_key_create(
        owner=member, all_projects=True, name="old", permissions=["read"], actor=Actor.cli()
    )
    assert client.get("/api/v1/projects/team/questions", headers=bearer(plaintext)).status_code == 200
    policy(team, owner, approval_required=True)
    for _ in range(3):
        response = client.get("/api/v1/projects/team/questions", headers=bearer(plaintext))
        assert response.status_code == 403 and error_code(response) == "key_not_approved"
    assert len([m for m in mailoutbox if "asks to act" in m.subject]) == 1
    assert key.approvals.get(project=team).state == "pending"


def test_approval_survives_rotation_but_not_a_scope_change_that_adds_the_project_anew(
    client, record_cache, owner, team
):
    member = UserFactory()
    MembershipFactory(project=team, user=member, role=Role.ADMIN)
    other = ProjectFactory(slug="other", active_questions=12)
    MembershipFactory(project=other, user=member, role=Role.ADMIN)
    policy(team, owner, approval_required=True)
    key, _ = api_key_create(owner=member, projects=[team], name="mine", permissions=["read"], actor=Actor.cli())
    logged_in(owner).post(reverse("project_settings:approve", args=["team", key.key_id]))

    new, plaintext = api_key_rotate(key=key, actor=Actor.cli())
    assert client.get("/api/v1/projects/team/questions", headers=bearer(plaintext)).status_code == 200

    api_key_update(
        key=new,
        actor=Actor.cli(),
        name="mine",
        permissions=["read"],
        rate_limit_per_minute=None,
        all_projects=False,
        projects=[other],
    )
    api_key_update(
        key=new,
        actor=Actor.cli(),
        name="mine",
        permissions=["read"],
        rate_limit_per_minute=None,
        all_projects=False,
        projects=[other, team],
    )
    response = client.get("/api/v1/projects/team/questions", headers=bearer(plaintext))
    assert response.status_code == 403 and error_code(response) == "key_not_approved"


def test_viewers_cannot_approve(owner, team):
    member, viewer = UserFactory(), UserFactory()
    MembershipFactory(project=team, user=member, role=Role.ADMIN)
    MembershipFactory(project=team, user=viewer, role=Role.VIEWER)
    policy(team, owner, approval_required=True)
    key, _ = api_key_create(owner=member, all_projects=True, name="mine", permissions=["read"], actor=Actor.cli())
    assert logged_in(viewer).post(reverse("project_settings:approve", args=["team", key.key_id])).status_code == 403
    assert key.approvals.get(project=team).state == "pending"


# --- two-factor authentication ------------------------------------------------------------------------
def test_two_factor_required_refuses_a_members_personal_key_and_sends_them_to_set_it_up(
    client, record_cache, owner, team
):
    member = UserFactory()
    MembershipFactory(project=team, user=member, role=Role.ADMIN)
    _, plaintext = api_key_create(owner=member, all_projects=True, name="mine", permissions=["read"], actor=Actor.cli())
    assert client.get("/api/v1/projects/team/questions", headers=bearer(plaintext)).status_code == 200
    second_factor(owner)
    policy(team, owner, two_factor_required=True)

    response = client.get("/api/v1/projects/team/questions", headers=bearer(plaintext))
    assert response.status_code == 403 and error_code(response) == "two_factor_required"

    page = logged_in(member).get(reverse("projects:questions", args=["team"]), follow=True)
    assert page.redirect_chain[-1][0] == reverse("mfa_index")
    assert "Team requires two-factor authentication" in page.content.decode()

    second_factor(member)
    assert client.get("/api/v1/projects/team/questions", headers=bearer(plaintext)).status_code == 200
    assert logged_in(member).get(reverse("projects:questions", args=["team"])).status_code == 200


def test_the_owner_needs_two_factor_to_require_it(owner, team):
    from keys.errors import InvalidKeyRequest

    with pytest.raises(InvalidKeyRequest) as refused:
        policy(team, owner, two_factor_required=True)
    assert "two_factor_required" in refused.value.errors
    second_factor(owner)
    assert policy(team, owner, two_factor_required=True).changed == ["two_factor_required"]
