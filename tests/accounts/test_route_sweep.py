"""The route sweep (issue #27): every URL pattern of the site — the console's, allauth's and the
admin's — declares its rule where it is declared (each app's urls.py; allauth's where accounts/urls.py
includes them; the admin's where keys_console/urls.py includes it; the rules: accounts/sensitive.py),
and the declared rule is what runs.

A route classified as reading answers 405 to anything but GET/HEAD/OPTIONS (so it cannot change
state unnoticed); one classified as asking gets the Confirm access page or dialog first in a session
older than 15 minutes, and goes on after the password (allauth replays a suspended POST)."""

import time

import pytest
from django.http import HttpResponse
from django.test import override_settings
from django.urls import clear_url_caches, get_resolver, path, reverse

from accounts import sensitive
from accounts.reauth import LOGGED_IN_AT
from keys.models import ApiKey
from projects.models import Invitation, Membership, Role
from tests.factories import PASSWORD, MembershipFactory, ProjectFactory, UserFactory

REAUTH = reverse("account_reauthenticate")
LOGIN = reverse("account_login")


def declared(key: str) -> sensitive.Rule:
    """The rule declared for the route `key` ("project_keys:key_new") of the site."""
    return sensitive.declared_rules(get_resolver().url_patterns)[key]


def describe(found: sensitive.Pattern) -> str:
    callback = found.pattern.callback
    view = getattr(callback, "__wrapped__", callback)
    return f"{found.key}  (/{found.route}, {getattr(view, '__module__', '?')}.{getattr(view, '__qualname__', '?')})"


# --- the sweep -------------------------------------------------------------------------------


def test_every_route_of_the_site_is_classified():
    missing = sensitive.unclassified(get_resolver().url_patterns)
    assert not missing, (
        "Routes with no rule declared: wrap the view where the route is declared, in its urls.py "
        "(reads, changes, confirm, confirm_on_submit or classify(view, rule) from accounts/sensitive.py); "
        "allauth's in accounts/urls.py ALLAUTH_ROUTES, the admin site's in keys_console/urls.py "
        "ADMIN_SITE_ROUTES:\n" + "\n".join(describe(found) for found in missing)
    )


def test_the_sweep_walks_the_admin_allauth_and_every_app():
    keys = {found.key for found in sensitive.walk(get_resolver().url_patterns)}
    for expected in (
        "admin:auth_user_password_change",
        "admin:accounts_user_change",
        "admin:mfa_authenticator_delete",
        "account_email",
        "mfa_deactivate_totp",
        "projects:members",
        "project_keys:key_edit",
        "account_keys:key_edit",
        "route:admin/(?P<url>.*)$",
    ):
        assert expected in keys
    assert len(keys) > 100


def test_every_console_view_runs_behind_its_rule_and_the_api_is_left_alone():
    for found in sensitive.walk(get_resolver().url_patterns):
        running = getattr(found.pattern.callback, "confirm_access_rule", None)
        if found.outside_the_console:
            assert found.namespace == "api", found.key
            assert running is None, found.key  # the runtime API: no session, no wrapper, no cost
        else:
            # (an unclassified route is closed: it asks on submit until classified)
            assert running is (sensitive.rule_for(found) or sensitive.CONFIRM_ON_SUBMIT), found.key


def _danger(request, slug):
    return HttpResponse(f"changed {slug}")


def _danger_urlconf(*extra):
    """The site's URLConf plus `extra` patterns, guarded the way keys_console/urls.py is."""
    import types

    from keys_console import urls as site

    module = types.ModuleType("tests.accounts.danger_urls")
    module.urlpatterns = sensitive.guard_urlpatterns([*extra, *site.urlpatterns])
    return module


def _new_unclassified(urlconf) -> list[sensitive.Pattern]:
    """Unclassified in `urlconf` but not in the site (another change under way may have its own)."""
    before = {found.key for found in sensitive.unclassified(get_resolver().url_patterns)}
    return [found for found in sensitive.unclassified(urlconf.urlpatterns) if found.key not in before]


def test_the_sweep_fails_on_a_new_unclassified_route():
    """A route added without a classification is found, named with its path and view."""
    urlconf = _danger_urlconf(path("projects/<slug:slug>/danger/", _danger, name="danger"))
    missing = _new_unclassified(urlconf)
    assert [found.key for found in missing] == ["danger"]
    assert "/projects/<slug:slug>/danger/" in describe(missing[0])
    assert "test_route_sweep._danger" in describe(missing[0])
    # ... and so does the sweep's own test, run against that URLConf
    with override_settings(ROOT_URLCONF=urlconf):
        clear_url_caches()
        try:
            with pytest.raises(AssertionError, match="danger"):
                test_every_route_of_the_site_is_classified()
        finally:
            clear_url_caches()
    clear_url_caches()


def test_once_classified_the_new_route_passes():
    urlconf = _danger_urlconf(path("projects/<slug:slug>/danger/", sensitive.changes(_danger), name="danger"))
    assert _new_unclassified(urlconf) == []
    assert sensitive.declared_rules(urlconf.urlpatterns)["danger"] is sensitive.CHANGES


def test_every_entry_of_the_allauth_and_admin_tables_names_a_route():
    """The tables of routes declared by others (allauth's, the admin site's) hold no stale entry."""
    from django.contrib import admin
    from django.urls import include

    from accounts.urls import ALLAUTH_ROUTES
    from keys_console.urls import ADMIN_SITE_ROUTES

    allauth = {found.key for found in sensitive.walk(include("allauth.urls")[0].urlpatterns)}
    assert set(ALLAUTH_ROUTES) <= allauth
    assert set(ADMIN_SITE_ROUTES) <= {found.key for found in sensitive.walk(admin.site.urls[0])}


def test_a_model_newly_registered_in_the_admin_is_classified_by_the_admins_url_names(caplog):
    """No list of admin models to edit: each registered model's pages get their rule from the
    admin's own URL names, and its ModelAdmin names the bulk actions that do not ask."""
    from django.contrib import admin
    from django.contrib.auth.models import Group

    from keys.admin import ApiKeyAdmin

    site = admin.AdminSite(name="probe")
    site.register(Group)
    site.register(ApiKey, ApiKeyAdmin)
    patterns = sensitive.guard_admin(site, {"index": sensitive.READS})[0]
    rules = sensitive.declared_rules(patterns)
    for view in ("changelist", "add", "change", "delete"):
        assert rules[f"auth_group_{view}"] is sensitive.CONFIRM_ON_SUBMIT
    assert rules["auth_group_history"] is sensitive.READS
    assert rules["route:auth/group/<path:object_id>/"] is sensitive.READS
    assert rules["index"] is sensitive.READS
    free = rules["keys_apikey_changelist"]
    assert not free.needs_confirm_access(FakeRequest("POST", {"action": "revoke_selected"}))
    assert free.needs_confirm_access(FakeRequest("POST", {"action": "enable_selected"}))
    # a page of the site left out of its table is closed (asks on submit), named in the log and by the sweep
    assert "probe:logout" in caplog.text
    closed = {found.key: found for found in sensitive.unclassified(patterns)}
    assert "logout" in closed and "auth_group_add" not in closed
    logout = closed["logout"].pattern.callback
    assert logout.confirm_access_rule is sensitive.CONFIRM_ON_SUBMIT and logout.confirm_access_staff_only


def test_a_route_declares_one_rule():
    view = sensitive.reads(_danger)
    with pytest.raises(ValueError, match="classified already"):
        sensitive.confirm(view)


@pytest.mark.django_db
def test_an_unclassified_route_is_closed_until_classified(client):
    """At run time an unclassified route is not open: a submit asks to Confirm access."""
    urlconf = _danger_urlconf(path("projects/<slug:slug>/danger/", _danger, name="danger"))
    user = UserFactory()
    with override_settings(ROOT_URLCONF=urlconf):
        clear_url_caches()
        try:
            client.force_login(user)
            go_stale(client)
            url = "/projects/demo/danger/"
            assert client.get(url).content == b"changed demo"
            response = client.post(url)
            assert response.status_code == 302 and response.url.startswith(REAUTH)
        finally:
            clear_url_caches()
    clear_url_caches()


# --- what the rules say, for the actions issue #27 names -------------------------------------


ASK_ALWAYS = [
    f"{namespace}:{name}"
    for namespace in ("project_keys", "account_keys")
    for name in ("key_new", "key_rotate", "key_edit")
] + [
    "projects:member_role",
    "projects:member_remove",
    "account_change_password",
    "account_set_password",
    "mfa_activate_totp",
    "mfa_deactivate_totp",
    "mfa_generate_recovery_codes",
]
ADMIN_MODELS = [
    "accounts_user",
    "auth_group",
    "mfa_authenticator",
    "account_emailaddress",
    "projects_membership",
    "projects_project",
    "projects_invitation",
    "keys_apikey",
]
ASK_ON_SUBMIT = (
    ["account_email", "admin:password_change", "admin:auth_user_password_change"]
    + [f"admin:{model}_{view}" for model in ADMIN_MODELS for view in ("add", "change", "delete")]
    + [f"admin:{model}_changelist" for model in ADMIN_MODELS]
)
NEVER_ASK = [
    "project_keys:key_revoke",
    "account_keys:key_revoke",
    "projects:questions",
    "account_login",
    "account_logout",
    "account_reauthenticate",
    "report_leak",
]


class FakeRequest:
    def __init__(self, method, data=None):
        self.method = method
        self.POST = data or {}


@pytest.mark.parametrize("name", ASK_ALWAYS)
def test_sensitive_actions_ask_even_to_open_their_form(name):
    rule = declared(name)
    assert rule.needs_confirm_access(FakeRequest("GET")) and rule.needs_confirm_access(FakeRequest("POST"))


@pytest.mark.parametrize("name", ASK_ON_SUBMIT)
def test_sensitive_submits_ask(name):
    rule = declared(name)
    assert rule.needs_confirm_access(FakeRequest("POST")) and not rule.needs_confirm_access(FakeRequest("GET"))


@pytest.mark.parametrize("name", NEVER_ASK)
def test_revoking_and_everyday_changes_never_ask(name):
    rule = declared(name)
    assert rule.changes_state
    assert not rule.needs_confirm_access(FakeRequest("GET")) and not rule.needs_confirm_access(FakeRequest("POST"))


def test_inviting_asks_for_any_role_above_viewer():
    rule = declared("projects:members")
    assert not rule.needs_confirm_access(FakeRequest("GET"))
    assert not rule.needs_confirm_access(FakeRequest("POST", {"role": "viewer"}))
    for role in ("admin", "owner", "", "Viewer"):
        assert rule.needs_confirm_access(FakeRequest("POST", {"role": role})), role


def test_the_admin_revoke_action_is_never_held_back_but_other_bulk_actions_are():
    rule = declared("admin:keys_apikey_changelist")
    assert not rule.needs_confirm_access(FakeRequest("POST", {"action": "revoke_selected"}))
    assert not rule.needs_confirm_access(FakeRequest("POST", {"action": "disable_selected"}))
    assert rule.needs_confirm_access(FakeRequest("POST", {"action": "delete_selected"}))
    assert rule.needs_confirm_access(FakeRequest("POST", {"action": "enable_selected"}))
    assert not rule.needs_confirm_access(FakeRequest("GET"))


# --- the rules at work (a stale session: the login stamp moved back; force_login counts as fresh) ---


def go_stale(client, minutes=16):
    session = client.session
    session[LOGGED_IN_AT] = time.time() - minutes * 60
    session.save()


@pytest.mark.django_db
def test_a_reading_route_refuses_other_methods(client):
    owner = UserFactory()
    project = ProjectFactory(owner=owner)
    client.force_login(owner)
    url = reverse("projects:events", args=[project.slug])
    assert client.get(url).status_code == 200
    response = client.post(url)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, OPTIONS"


@pytest.fixture
def owner(db):
    return UserFactory(email="owner@example.com")


@pytest.fixture
def project(owner):
    return ProjectFactory(owner=owner, name="Trivia", slug="trivia", active_questions=10)


# Finding 1: POST /projects/<slug>/members/ with role=admin sent the invitation at once.


@pytest.mark.django_db
def test_finding_1_inviting_an_admin_in_a_stale_session_asks_first_then_goes_on(client, owner, project, mailoutbox):
    client.force_login(owner)
    go_stale(client, minutes=30)
    url = reverse("projects:members", args=[project.slug])
    response = client.post(url, {"email": "new-admin@example.net", "role": "admin"})
    assert response.status_code == 302 and response.url.startswith(REAUTH + "?next=")
    assert not Invitation.objects.exists()
    assert not mailoutbox
    done = client.post(response.url, {"password": PASSWORD, "next": url})
    assert done.status_code == 302 and done.url.startswith(url)
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role) == ("new-admin@example.net", Role.ADMIN)


@pytest.mark.django_db
def test_inviting_a_viewer_in_a_stale_session_is_sent_at_once(client, owner, project):
    client.force_login(owner)
    go_stale(client, minutes=30)
    url = reverse("projects:members", args=[project.slug])
    response = client.post(url, {"email": "reader@example.net", "role": "viewer"})
    assert response.status_code == 302 and response.url.startswith(url)
    assert Invitation.objects.get().role == Role.VIEWER
    assert client.get(url).status_code == 200  # the Members tab itself never asks


@pytest.mark.django_db
def test_removing_a_member_in_a_stale_session_asks_first(client, owner, project):
    member = MembershipFactory(project=project, role=Role.ADMIN)
    client.force_login(owner)
    go_stale(client)
    url = reverse("projects:member_remove", args=[project.slug, member.pk])
    assert client.get(url).url.startswith(REAUTH)
    response = client.post(url)
    assert response.status_code == 302 and response.url.startswith(REAUTH)
    assert Membership.objects.filter(pk=member.pk).exists()
    client.post(response.url, {"password": PASSWORD, "next": url})
    assert not Membership.objects.filter(pk=member.pk).exists()


@pytest.mark.django_db
def test_editing_a_keys_ip_addresses_in_a_stale_session_asks_first(client, owner, project):
    from keys.services import api_key_create
    from projects.actors import Actor

    key, _ = api_key_create(project=project, name="web", permissions=["read"], actor=Actor.cli())
    client.force_login(owner)
    go_stale(client)
    url = reverse("project_keys:key_edit", args=[project.slug, key.key_id])
    form = {"name": "web", "permissions": ["read"], "allowed_ips": "10.0.0.0/8", "rate_limit": ""}
    response = client.post(url, form)
    assert response.status_code == 302 and response.url.startswith(REAUTH)
    key.refresh_from_db()
    assert not key.allowed_ips
    client.post(response.url, {"password": PASSWORD, "next": url})
    key.refresh_from_db()
    assert key.allowed_ips


@pytest.mark.django_db
def test_revoking_in_a_stale_session_is_never_held_back(client, owner, project):
    from keys.services import api_key_create
    from projects.actors import Actor

    key, _ = api_key_create(project=project, name="web", permissions=["read"], actor=Actor.cli())
    client.force_login(owner)
    go_stale(client, minutes=120)
    response = client.post(reverse("project_keys:key_revoke", args=[project.slug, key.key_id]))
    assert not (response.status_code == 302 and response.url.startswith(REAUTH))
    key.refresh_from_db()
    assert key.revoked_at is not None


# Finding 2: the admin needed no Confirm access.


@pytest.fixture
def superuser(db):
    return UserFactory(email="root@example.com", is_staff=True, is_superuser=True)


@pytest.mark.django_db
def test_finding_2_admin_password_change_in_a_stale_session_asks_first_then_goes_on(client, superuser):
    victim = UserFactory(email="victim@example.com")
    client.force_login(superuser)
    go_stale(client, minutes=30)
    url = reverse("admin:auth_user_password_change", args=[victim.pk])
    assert client.get(url).status_code == 200  # the form opens; saving asks
    new = "a-long-unusual-passphrase-42"
    form = {"password1": new, "password2": new, "usable_password": "true"}
    response = client.post(url, form)
    assert response.status_code == 302 and response.url.startswith(REAUTH + "?next=")
    victim.refresh_from_db()
    assert victim.check_password(PASSWORD)
    page = client.get(response.url)
    assert "Confirm access" in page.content.decode()
    done = client.post(response.url, {"password": PASSWORD, "next": url})
    assert done.status_code == 302 and not done.url.startswith(REAUTH)
    victim.refresh_from_db()
    assert victim.check_password(new)


@pytest.mark.django_db
def test_finding_2_staff_changing_their_own_email_in_the_admin_asks_first(client, superuser):
    client.force_login(superuser)
    go_stale(client)
    url = reverse("admin:accounts_user_change", args=[superuser.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"email": "attacker@example.net", "is_active": "on"})
    assert response.status_code == 302 and response.url.startswith(REAUTH)
    superuser.refresh_from_db()
    assert superuser.email == "root@example.com"


@pytest.mark.django_db
def test_finding_2_deleting_an_authenticator_in_the_admin_asks_first(client, superuser):
    from allauth.mfa.models import Authenticator

    # (someone else's: with one of their own, Confirm access would ask for a code as well)
    colleague = UserFactory(email="colleague@example.com")
    authenticator = Authenticator.objects.create(
        user=colleague, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "00" * 20}
    )
    client.force_login(superuser)
    go_stale(client)
    url = reverse("admin:mfa_authenticator_delete", args=[authenticator.pk])
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 302 and response.url.startswith(REAUTH)
    assert Authenticator.objects.filter(pk=authenticator.pk).exists()
    client.post(response.url, {"password": PASSWORD, "next": url})
    assert not Authenticator.objects.filter(pk=authenticator.pk).exists()


@pytest.mark.django_db
def test_admin_changes_to_groups_memberships_and_keys_ask_in_a_stale_session(client, superuser, project):
    from django.contrib.auth.models import Group

    from keys.services import api_key_create
    from projects.actors import Actor

    key, _ = api_key_create(project=project, name="web", permissions=["read"], actor=Actor.cli())
    membership = Membership.objects.get(project=project)
    client.force_login(superuser)
    go_stale(client)
    for url, data in (
        (reverse("admin:auth_group_add"), {"name": "auditors"}),
        (reverse("admin:projects_membership_delete", args=[membership.pk]), {"post": "yes"}),
        (reverse("admin:keys_apikey_change", args=[key.pk]), {"name": "renamed"}),
        (reverse("admin:keys_apikey_changelist"), {"action": "delete_selected", "_selected_action": [key.pk]}),
    ):
        response = client.post(url, data)
        assert response.status_code == 302 and response.url.startswith(REAUTH), url
    assert not Group.objects.exists()
    assert Membership.objects.filter(pk=membership.pk).exists()
    key.refresh_from_db()
    assert key.name == "web"


@pytest.mark.django_db
def test_the_admin_revoke_action_in_a_stale_session_is_not_held_back(client, superuser, project):
    from keys.services import api_key_create
    from projects.actors import Actor

    key, _ = api_key_create(project=project, name="web", permissions=["read"], actor=Actor.cli())
    client.force_login(superuser)
    go_stale(client, minutes=120)
    url = reverse("admin:keys_apikey_changelist")
    response = client.post(url, {"action": "revoke_selected", "_selected_action": [key.pk], "post": "yes"})
    assert not (response.status_code == 302 and response.url.startswith(REAUTH))
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
