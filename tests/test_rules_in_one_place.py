"""Each rule lives in one function, and every door (console, API, admin, CLI) says its sentence
(issue #27). Each test here failed before the rule was moved: a door that judged on its own, or
did not judge at all (`create_api_key --rate-limit 5000000` stored 5,000,000)."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from api import acting
from keys import scope
from keys.errors import InvalidKeyRequest, KeyNotActive
from keys.leaks import MAX_KEYS_PER_REPORT, REPORTED_KEY_MAX_LENGTH, REPORTED_PLACE_MAX_LENGTH, clean_report
from keys.models import ApiKey
from keys.models.api_key import PERMISSION_ORDER, RATE_LIMIT_MESSAGE
from keys.notify import key_recipients
from keys.services import api_key_create, api_key_revoke, api_key_rotate, api_key_update, projects_in_scope
from keys_console.errors import Refused
from projects.actors import Actor
from projects.gate import question_gate
from projects.membership import ONE_OWNER, MembershipRefused, membership_add
from projects.models import Membership, Project, Role
from projects.models.project import MANAGING_ROLES
from projects.services import RESERVED_SLUGS, project_create, slug_problem
from tests.factories import ApiKeyFactory, MembershipFactory, ProjectFactory, QuestionFactory, UserFactory
from tests.helpers import HX, page_text
from tests.keys.test_commands import _manage, cli_env  # noqa: F401  # the CLI as a real process

pytestmark = pytest.mark.django_db
HUGE = 5_000_000


def _actor(user=None) -> Actor:
    return Actor(user=user, label=user.email if user else "test")


def _text(response) -> str:
    return page_text(response).replace("\u2019", "'")


# --- the rate limit's range: create, rotate and edit alike --------------------------------------
def test_create_refuses_a_rate_limit_out_of_range(unlocked_project, user):
    with pytest.raises(InvalidKeyRequest) as caught:
        api_key_create(
            project=unlocked_project, name="x", permissions=["read"], actor=_actor(user), rate_limit_per_minute=HUGE
        )
    assert caught.value.errors == {"rate_limit_per_minute": RATE_LIMIT_MESSAGE}
    assert not ApiKey.objects.exists()


def test_rotation_does_not_copy_a_rate_limit_out_of_range(unlocked_project, user):
    key, _ = api_key_create(project=unlocked_project, name="x", permissions=["read"], actor=_actor(user))
    ApiKey.objects.filter(pk=key.pk).update(rate_limit_per_minute=HUGE)  # stored before the rule held
    with pytest.raises(InvalidKeyRequest) as caught:
        api_key_rotate(key=key, actor=_actor(user))
    assert caught.value.message == RATE_LIMIT_MESSAGE
    assert ApiKey.objects.count() == 1


def test_the_cli_exits_1_with_the_sentence_the_console_shows(cli_env):  # noqa: F811
    done = _manage(cli_env, "create_api_key", "open", "--name", "x", "--permissions", "read", "--rate-limit", str(HUGE))
    assert done.returncode == 1
    assert done.stdout == ""
    assert RATE_LIMIT_MESSAGE in done.stderr and "Traceback" not in done.stderr


def test_console_admin_and_cli_give_the_same_sentence(owner_client, admin_client, unlocked_project, user):
    """One rule, three doors, one sentence: the console's Edit dialog, the admin's key form and
    `create_api_key` all refuse 5,000,000 requests a minute with `RATE_LIMIT_MESSAGE`."""
    key = ApiKeyFactory(project=unlocked_project, name="web", permissions=["read"])
    console = owner_client.post(
        reverse("project_keys:key_edit", args=[unlocked_project.slug, key.key_id]),
        {"name": "web", "permissions": ["read"], "rate_limit_per_minute": str(HUGE)},
        **HX,
    )
    admin = admin_client.post(reverse("admin:keys_apikey_change", args=[key.pk]), {"rate_limit_per_minute": str(HUGE)})
    with pytest.raises(CommandError) as cli:
        call_command(
            "create_api_key",
            unlocked_project.slug,
            "--name=x",
            "--permissions=read",
            f"--rate-limit={HUGE}",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert console.status_code == 422
    assert RATE_LIMIT_MESSAGE in _text(console)
    assert RATE_LIMIT_MESSAGE in _text(admin)
    assert str(cli.value) == RATE_LIMIT_MESSAGE
    key.refresh_from_db()
    assert key.rate_limit_per_minute is None and ApiKey.objects.count() == 1


# --- only an active key can be changed ----------------------------------------------------------
def test_the_admin_and_the_services_refuse_to_change_a_revoked_key_alike(admin_client, unlocked_project, user):
    key, _ = api_key_create(project=unlocked_project, name="x", permissions=["read"], actor=_actor(user))
    api_key_revoke(key=key, actor=_actor(user))
    with pytest.raises(KeyNotActive) as caught:
        api_key_update(key=key, actor=_actor(user), name="x", permissions=["read"], rate_limit_per_minute=5)
    admin = admin_client.post(reverse("admin:keys_apikey_change", args=[key.pk]), {"rate_limit_per_minute": "5"})
    assert caught.value.message == "Only an active key can be changed."
    assert caught.value.message in _text(admin)


# --- the question gate ---------------------------------------------------------------------------
def test_the_gate_is_one_rule_for_the_list_the_console_and_the_api(settings, user, owner_client):
    """Moving the threshold moves every door at once: the project list's badge, the console's
    gate and the API's project record are the same function."""
    settings.API_KEY_REQUIRED_ACTIVE_QUESTIONS = 3
    project = ProjectFactory(owner=user, active_questions=3)
    assert question_gate(project).unlocked
    assert acting.project_gate(project.slug, None)["unlocked"] is True
    assert "Unlocked" in _text(owner_client.get(reverse("projects:list")))
    settings.API_KEY_REQUIRED_ACTIVE_QUESTIONS = 4
    assert not question_gate(project).unlocked
    assert acting.project_gate(project.slug, None)["unlocked"] is False
    assert "Locked" in _text(owner_client.get(reverse("projects:list")))


# --- an account key's reach, its scope label and the role cap ------------------------------------
def test_a_deactivated_holder_reaches_nothing_in_the_api_and_in_the_event_log(user):
    project = ProjectFactory(owner=user, active_questions=10)
    sandbox = ProjectFactory(owner=user, is_sandbox=True, active_questions=10)
    key, _ = api_key_create(owner=user, all_projects=True, name="mine", permissions=["read"], actor=_actor(user))
    assert list(projects_in_scope(key)) == [project]  # never the Sandbox
    assert set(acting.load_access(key)["projects"]) == {project.slug}
    assert sandbox.slug not in acting.load_access(key)["projects"]
    user.is_active = False
    user.save()
    # Before: the API dropped a deactivated holder, the event log's copies did not.
    assert list(projects_in_scope(key)) == []
    assert acting.load_access(key)["projects"] == {}


def test_the_scope_label_is_the_same_for_the_api_and_the_services(user):
    a, b = ProjectFactory(owner=user, slug="bbb"), ProjectFactory(owner=user, slug="aaa")
    key, _ = api_key_create(owner=user, projects=[a, b], name="two", permissions=["read"], actor=_actor(user))
    assert scope.scope_label(key) == acting.load_access(key)["scope"] == ["aaa", "bbb"]


def test_the_role_cap_is_one_list(unlocked_project):
    admin = MembershipFactory(project=unlocked_project, role=Role.ADMIN).user
    viewer = MembershipFactory(project=unlocked_project, role=Role.VIEWER).user
    key = ApiKeyFactory(project=unlocked_project)
    assert set(MANAGING_ROLES) == {r for r in Role if Membership(role=r).can_manage}
    assert {r: set(scope.role_permissions(r)) for r in Role} == {
        Role.OWNER: set(PERMISSION_ORDER),
        Role.ADMIN: set(PERMISSION_ORDER),
        Role.VIEWER: {"read"},
    }
    recipients = key_recipients(key)
    assert admin.email in recipients and viewer.email not in recipients


# --- leak reports: one set of limits for the console's form and the API's schema -----------------
@pytest.mark.parametrize(
    "keys,url,field",
    [
        (["nbq_live_x"] * (MAX_KEYS_PER_REPORT + 1), "", "keys"),
        (["k" * (REPORTED_KEY_MAX_LENGTH + 1)], "", "keys"),
        (["nbq_live_x"], "x" * (REPORTED_PLACE_MAX_LENGTH + 1), "url"),
    ],
)
def test_a_report_over_the_limits_is_refused_by_the_form_and_the_api(client, keys, url, field):
    with pytest.raises(Refused) as caught:
        clean_report(keys, url)
    assert caught.value.field == field
    form = client.post(reverse("report_leak"), {"keys": "\n".join(keys), "url": url})
    api = Client().post("/api/v1/leaked-keys", json.dumps({"keys": keys, "url": url}), content_type="application/json")
    assert form.status_code == 400 and caught.value.message in _text(form)
    assert api.status_code == 400 and api.json()["error"]["code"] == "invalid_request"


def test_a_report_within_the_limits_is_taken_by_both(client):
    keys = ["nbq_live_x"] * MAX_KEYS_PER_REPORT
    assert clean_report("\n".join(keys), "x" * REPORTED_PLACE_MAX_LENGTH)[0] == keys
    api = Client().post("/api/v1/leaked-keys", json.dumps({"keys": keys}), content_type="application/json")
    assert api.status_code == 202


# --- one owner per project, reserved slugs: in the services, shown by the admin ------------------
def test_one_owner_per_project_in_the_service_and_the_admin(admin_client, unlocked_project):
    newcomer = UserFactory()
    with pytest.raises(MembershipRefused) as caught:
        membership_add(project=unlocked_project, user=newcomer, role=Role.OWNER, actor=_actor())
    assert caught.value.message == ONE_OWNER
    admin = admin_client.post(
        reverse("admin:projects_membership_add"),
        {"project": unlocked_project.pk, "user": newcomer.pk, "role": Role.OWNER},
    )
    assert ONE_OWNER in _text(admin)
    assert unlocked_project.memberships.filter(role=Role.OWNER).count() == 1


@pytest.mark.parametrize("slug", sorted(RESERVED_SLUGS))
def test_reserved_slugs_in_the_service_and_the_admin(admin_client, user, slug):
    assert project_create(name=slug, owner=user).slug == f"{slug}-2"
    admin = admin_client.post(reverse("admin:projects_project_add"), {"name": "X", "slug": slug, **_no_members()})
    assert slug_problem(slug) in _text(admin).replace("\u201c", "“")
    assert not Project.objects.filter(slug=slug).exists()


def _no_members() -> dict:
    return {
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }


# --- one error type, one translation per door -----------------------------------------------------
def test_every_refusal_is_one_type():
    from api.errors import ApiError
    from keys.errors import KeyRuleError
    from keys.leaks import ReportThrottled
    from projects.errors import RuleError
    from projects.invitations import InvitationRefused
    from projects.models.project import RoleChangeRefused
    from projects.questions import BulkAddRejected

    kinds = [ApiError, KeyRuleError, ReportThrottled, RuleError, InvitationRefused, RoleChangeRefused]
    assert all(issubclass(kind, Refused) for kind in [*kinds, MembershipRefused, BulkAddRejected])


def test_the_api_answers_a_rule_refusal_through_its_one_handler(unlocked_project):
    """An invitation refused by its rule (a key may invite viewers only) reaches the client as the
    rule's own code, status and sentence; no endpoint translates it by hand any more."""
    key, plaintext = api_key_create(
        project=unlocked_project, name="inviter", permissions=["invite"], actor=_actor(unlocked_project.created_by)
    )
    QuestionFactory(project=unlocked_project)
    response = Client().post(
        "/api/v1/invitations",
        json.dumps({"email": "ada@example.com", "role": "admin"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {plaintext}",
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_permission"
    assert response.json()["error"]["message"] == "An API key may invite viewers only; admins are made in the console."
