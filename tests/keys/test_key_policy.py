"""Key policy (#29) in the key services, the console and the CLI: the maximum lifetime, required
allowed IP addresses, allowed permissions, Out of policy keys, and the policy's event log lines."""

from datetime import timedelta
from io import StringIO

import pytest
from allauth.mfa.models import Authenticator
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from keys.errors import InvalidKeyRequest
from keys.models import ApiKey
from keys.models.api_key import ExpiryRule, Status
from keys.policy import (
    PolicyRefused,
    out_of_policy_keys,
    out_of_policy_personal_keys,
    personal_key_policy_reasons,
    reached_policies,
    save_policy,
)
from keys.scope import account_key_reach, account_keys_reaching
from keys.services import api_key_create, api_key_rotate, api_key_update
from projects.actors import Actor
from projects.models import KeyEvent, Role
from projects.models.event import EventKind
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(db):
    return UserFactory(email="ana@example.com")


@pytest.fixture
def demo(owner):
    return ProjectFactory(owner=owner, slug="demo", name="Demo", active_questions=12)


def policy(project, owner, **rules):
    return save_policy(project=project, actor=Actor(user=owner, label=owner.email), user=owner, **rules)


def test_a_maximum_lifetime_refuses_longer_keys_naming_the_policy(owner, demo):
    policy(demo, owner, max_lifetime_days=30)
    for rule in (ExpiryRule.DAYS_90, ExpiryRule.NEVER, ExpiryRule.YEAR):
        with pytest.raises(InvalidKeyRequest) as refused:
            api_key_create(project=demo, name=f"k{rule}", permissions=["read"], expiry_rule=rule, actor=Actor.cli())
        assert refused.value.errors["expiration"].startswith("The key policy of Demo allows keys of at most 30 days")
    with pytest.raises(InvalidKeyRequest):
        api_key_create(
            project=demo,
            name="date",
            permissions=["read"],
            expiry_rule=ExpiryRule.DATE,
            expires_on=(timezone.now() + timedelta(days=45)).date(),
            actor=Actor.cli(),
        )
    key, _ = api_key_create(project=demo, name="ok", permissions=["read"], expiry_rule="30", actor=Actor.cli())
    assert key.expires_at is not None


def test_a_personal_key_answers_to_every_project_its_scope_reaches(owner, demo):
    member = UserFactory()
    MembershipFactory(project=demo, user=member, role=Role.ADMIN)
    other = ProjectFactory(active_questions=12)
    MembershipFactory(project=other, user=member, role=Role.ADMIN)
    policy(demo, owner, max_lifetime_days=7)
    with pytest.raises(InvalidKeyRequest, match="Demo allows keys of at most 7 days"):
        api_key_create(owner=member, all_projects=True, name="all", permissions=["read"], actor=Actor.cli())
    key, _ = api_key_create(owner=member, projects=[other], name="other", permissions=["read"], actor=Actor.cli())
    with pytest.raises(InvalidKeyRequest, match="Demo allows keys of at most 7 days"):  # a new scope reaching Demo
        api_key_update(
            key=key,
            actor=Actor.cli(),
            name="other",
            permissions=["read"],
            rate_limit_per_minute=None,
            all_projects=False,
            projects=[other, demo],
        )


def test_rotation_gives_the_successor_at_most_the_maximum(owner, demo):
    key, _ = api_key_create(project=demo, name="long", permissions=["read"], expiry_rule="365", actor=Actor.cli())
    policy(demo, owner, max_lifetime_days=60)
    new, _ = api_key_rotate(key=key, actor=Actor.cli())
    assert new.expiry_rule == "60" and new.expires_at <= timezone.now() + timedelta(days=60)


def test_the_rotate_dialog_says_the_successor_is_shortened_before_anyone_rotates(client, owner, demo):
    """#29: a maximum lifetime set since the key was made caps its successor; the Rotate dialog says
    so (the policy, its maximum, the new key's date), and what it says is what rotating does."""
    never, _ = api_key_create(project=demo, name="never", permissions=["read"], expiry_rule="never", actor=Actor.cli())
    short, _ = api_key_create(project=demo, name="short", permissions=["read"], expiry_rule="7", actor=Actor.cli())
    policy(demo, owner, max_lifetime_days=30)
    client.force_login(owner)

    def dialog(key):
        return client.get(reverse("project_keys:key_rotate", args=[demo.slug, key.key_id])).content.decode()

    page = dialog(never)
    expected = (timezone.now() + timedelta(days=30)).date().isoformat()
    assert "The key policy of <bdi>Demo</bdi> allows keys of at most 30 days" in page
    assert f">{expected}</time>; this key never expires." in page
    assert "rotate-policy" not in dialog(short)  # 7 days is within the policy: nothing is shortened
    new, _ = api_key_rotate(key=never, actor=Actor.cli())
    assert new.expiry_rule == "30" and new.expires_at.date().isoformat() == expected


def test_allowed_permissions_and_required_ips_for_project_keys(owner, demo):
    policy(demo, owner, allowed_permissions=["read", "create"], require_allowed_ips=True)
    with pytest.raises(InvalidKeyRequest) as refused:
        api_key_create(project=demo, name="k", permissions=["read", "delete"], actor=Actor.cli())
    assert "allows only these permissions: create, read" in refused.value.errors["permissions"]
    assert "requires allowed IP addresses" in refused.value.errors["allowed_ips"]
    key, _ = api_key_create(project=demo, name="k", permissions=["read"], allowed_ips="10.0.0.0/8", actor=Actor.cli())
    with pytest.raises(InvalidKeyRequest):
        api_key_update(key=key, actor=Actor.cli(), name="k", permissions=["read", "write"], rate_limit_per_minute=None)


def test_a_personal_key_that_breaks_a_policy_it_reaches_says_so_to_its_holder(client, owner, demo):
    member = UserFactory(email="bo@example.com")
    MembershipFactory(project=demo, user=member, role=Role.ADMIN)
    other = ProjectFactory(name="Other", active_questions=12)
    MembershipFactory(project=other, user=member, role=Role.ADMIN)
    made = {"owner": member, "permissions": ["read", "delete"], "expiry_rule": ExpiryRule.NEVER, "actor": Actor.cli()}
    everywhere, _ = api_key_create(all_projects=True, name="everywhere", **made)
    elsewhere, _ = api_key_create(projects=[other], name="elsewhere", **made)
    policy(demo, owner, max_lifetime_days=30, allowed_permissions=["read"], require_allowed_ips=True)

    policies = reached_policies(owner=member, all_projects=True)
    assert personal_key_policy_reasons(everywhere, policies) == [  # no IP addresses rule: project keys only
        "in Demo: never expires (the maximum key lifetime is 30 days)",
        "in Demo: holds delete, which the policy does not allow (not usable)",
    ]
    assert personal_key_policy_reasons(elsewhere, policies) == []  # Demo is outside its scope
    assert out_of_policy_keys(demo) == []  # the project's own list and its Revoke are for project keys

    client.force_login(member)
    page = client.get(reverse("account_keys:api_keys")).content.decode()
    assert page.count(">Out of policy</span>") == 1
    assert 'title="In Demo: never expires (the maximum key lifetime is 30 days); in Demo: holds delete' in page
    details = client.get(reverse("account_keys:key_detail", args=[everywhere.key_id])).content.decode()
    assert "<dt>Out of policy</dt>" in details and "rotate it to get a key within every maximum lifetime" in details
    assert (
        "<dt>Out of policy</dt>"
        not in client.get(reverse("account_keys:key_detail", args=[elsewhere.key_id])).content.decode()
    )

    # The project's owner sees them too (Settings), read-only: the holder's to rotate or revoke.
    assert [k.name for k in out_of_policy_personal_keys(demo)] == ["everywhere"]
    client.force_login(owner)
    settings_page = client.get(reverse("project_settings:settings", args=["demo"])).content.decode()
    assert "Members' personal keys" in settings_page
    assert f"<code>{everywhere.key_id}</code> of bo@example.com" in settings_page
    assert elsewhere.key_id not in settings_page

    successor, _ = api_key_rotate(key=everywhere, actor=Actor.cli())  # what the page tells its holder to do
    assert not any("expires" in reason for reason in personal_key_policy_reasons(successor, policies))
    member.is_active = False  # a deactivated holder's keys reach nothing (keys/scope.py)
    member.save()
    api_key_update(
        key=successor, actor=Actor.cli(), name="still", permissions=["read", "delete"], rate_limit_per_minute=None
    )
    assert out_of_policy_personal_keys(demo) == []
    for key in (everywhere, elsewhere, successor):  # the reach rule from either side, holder active or not
        member.is_active = not member.is_active
        member.save()
        for project in (demo, other):
            by_key = account_key_reach(key).filter(project=project).exists()
            assert (key in account_keys_reaching(project, ApiKey.objects.all())) == by_key


def test_saving_counts_out_of_policy_keys_logs_each_rule_and_only_the_owner_may(owner, demo):
    api_key_create(project=demo, name="ninety", permissions=["read", "delete"], actor=Actor.cli())
    saved = policy(demo, owner, max_lifetime_days=30, allowed_permissions=["read"])
    assert saved.out_of_policy == 1 and set(saved.changed) == {"max_lifetime_days", "allowed_permissions"}
    [key] = out_of_policy_keys(demo)
    assert any("maximum key lifetime" in r for r in key.policy_reasons)
    sentences = [e.sentence for e in KeyEvent.objects.filter(project=demo, kind=EventKind.POLICY_CHANGED)]
    assert "ana@example.com set the maximum key lifetime to 30 days" in sentences
    assert "ana@example.com set the allowed permissions to read" in sentences
    admin = UserFactory()
    MembershipFactory(project=demo, user=admin, role=Role.ADMIN)
    with pytest.raises(PolicyRefused):
        save_policy(project=demo, actor=Actor.cli(), user=admin, max_lifetime_days=7)


def test_settings_tab_owner_saves_admin_reads_and_out_of_policy_keys_are_revoked_once(client, owner, demo):
    api_key_create(project=demo, name="ninety", permissions=["read"], actor=Actor.cli())
    client.force_login(owner)
    url = reverse("project_settings:settings", args=["demo"])
    response = client.post(
        url, {"max_lifetime_days": "30", "allowed_permissions": ["create", "read", "write", "delete", "invite"]}
    )
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "1 existing key is now Out of policy" in page and "Revoke out-of-policy keys" in page
    assert "Out of policy" in client.get(reverse("project_keys:api_keys", args=["demo"])).content.decode()

    admin = UserFactory()
    MembershipFactory(project=demo, user=admin, role=Role.ADMIN)
    client.force_login(admin)
    read = client.get(url).content.decode()
    assert "Save policy" not in read and "Only the project's owner can change them." in read
    assert client.post(url, {"max_lifetime_days": ""}).status_code == 403

    client.force_login(owner)
    revoke = reverse("project_settings:revoke_out_of_policy", args=["demo"])
    assert "Revoke out-of-policy keys" in client.get(revoke).content.decode()  # the one confirmation
    assert client.post(revoke).status_code == 302
    assert ApiKey.objects.get(name="ninety").status == Status.REVOKED
    event = KeyEvent.objects.get(project=demo, kind=EventKind.REVOKED)
    assert event.details["reason"] == "out_of_key_policy"


def test_shortening_brings_longer_keys_down_to_the_maximum(client, owner, demo):
    key, _ = api_key_create(project=demo, name="year", permissions=["read"], expiry_rule="365", actor=Actor.cli())
    policy(demo, owner, max_lifetime_days=30)
    client.force_login(owner)
    assert client.post(reverse("project_settings:shorten_expiry", args=["demo"])).status_code == 302
    key.refresh_from_db()
    assert key.expires_at <= timezone.now() + timedelta(days=30)
    assert not out_of_policy_keys(demo)
    assert KeyEvent.objects.filter(project=demo, key_id=key.key_id, kind=EventKind.UPDATED).count() == 1


def test_generate_dialog_offers_nothing_longer_than_the_maximum(client, owner, demo):
    policy(demo, owner, max_lifetime_days=30, allowed_permissions=["read", "write"])
    client.force_login(owner)
    dialog = client.get(reverse("project_keys:key_new", args=["demo"])).content.decode()
    for absent in ('value="60"', 'value="90"', 'value="365"', 'value="never"', 'value="delete"'):
        assert absent not in dialog, absent
    assert 'value="30"' in dialog and 'value="7"' in dialog
    assert "The key policy of Demo allows keys of at most 30 days." in dialog


def test_cli_refuses_a_longer_key_naming_the_policy(owner, demo):
    policy(demo, owner, max_lifetime_days=30)
    with pytest.raises(CommandError, match="key policy of Demo allows keys of at most 30 days"):
        call_command(
            "create_api_key",
            "demo",
            "--name",
            "x",
            "--permissions",
            "read",
            "--expires-days",
            "90",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    out = StringIO()
    call_command(
        "create_api_key",
        "demo",
        "--name",
        "x",
        "--permissions",
        "read",
        "--expires-days",
        "30",
        stdout=out,
        stderr=StringIO(),
    )
    assert out.getvalue().startswith("nbq_live_")


def test_owner_without_two_factor_cannot_require_it_from_the_settings_tab(client, owner, demo):
    client.force_login(owner)
    url = reverse("project_settings:settings", args=["demo"])
    response = client.post(url, {"allowed_permissions": ["read"], "two_factor_required": "on"})
    assert response.status_code == 422 and "Turn on two-factor authentication" in response.content.decode()
    Authenticator.objects.create(user=owner, type=Authenticator.Type.TOTP, data={"secret": "x"})
    assert client.post(url, {"allowed_permissions": ["read"], "two_factor_required": "on"}).status_code == 302


def test_the_admin_lists_policies_and_approvals_read_only(admin_client, owner, demo):
    policy(demo, owner, max_lifetime_days=90, approval_required=True)
    member = UserFactory()
    MembershipFactory(project=demo, user=member, role=Role.ADMIN)
    key, _ = api_key_create(owner=member, all_projects=True, name="mine", permissions=["read"], actor=Actor.cli())
    page = admin_client.get(reverse("admin:projects_keypolicy_changelist"))
    assert page.status_code == 200 and "90 days" in page.content.decode()
    assert key.key_id in admin_client.get(reverse("admin:keys_keyapproval_changelist")).content.decode()
    assert admin_client.get(reverse("admin:projects_keypolicy_add")).status_code == 403
