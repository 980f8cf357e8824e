"""The systematic access sweep, derived from the URLconf itself: every URL pattern of the site is
turned into a concrete URL and requested, so a URL added later without an access rule fails here.

- Console (`projects:*`): anonymous -> login; a stranger gets exactly what a missing project gets
  (404, or 405 for a method the view never takes); a viewer reads but gets 403 on every change;
  GET, POST, PUT and DELETE, plain and htmx; nothing changes in the database.
- Admin (every pattern of every registered model, and the site's own): anonymous and non-staff
  users go to the admin login, staff without permissions get 403 on model pages; nothing changes.
- CSRF: a POST without a token to any non-API URL fails (403) for a logged-in owner or
  superuser, and changes nothing. The API is CSRF-exempt by design because a session cookie
  never authenticates it: a logged-in superuser without a key gets 401 on every operation.
"""

import re
from datetime import date
from functools import partial

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.test.utils import override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from keys.models import ApiKey, KeyUsageDay
from keys.services import api_key_create
from keys_console.mail import send_email
from projects.actors import Actor
from projects.models import Invitation, KeyEvent, Role
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from webhooks import signing
from webhooks.models import Delivery, Endpoint

from .conftest import write_figures

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture(autouse=True, scope="module")
def _figures():
    """Save how many requests the sweep sent and how many URL patterns it covered."""
    yield
    write_figures("access", {"url_patterns": sum(1 for _ in walk()), **REQUESTS})


HX = {"HTTP_HX_REQUEST": "true"}
METHODS = ["GET", "POST", "PUT", "DELETE"]

# Console URLs: the methods each view takes, and what a viewer (read-only member) may do.
# "read": a viewer gets it; "change": a viewer gets 403.
CONSOLE = {
    "detail": ({"GET"}, "read"),  # a redirect to the Questions tab (READS in projects/urls.py: 405 otherwise)
    "questions": ({"GET", "POST"}, {"GET": "read", "POST": "change"}),
    "question_edit": ({"GET", "POST"}, "change"),
    "questions_bulk": ({"POST"}, "change"),
    "question_toggle": ({"GET", "POST"}, "change"),  # GET: the confirmation
    "question_delete": ({"GET", "POST"}, "change"),
    "sample_questions_delete": ({"POST"}, "change"),
    "members": ({"GET", "POST"}, {"GET": "read", "POST": "change"}),
    "member_remove": ({"GET", "POST"}, "change"),
    # "self": what a member does to their own membership (any role may leave; the owner may not)
    "member_leave": ({"GET", "POST"}, {"GET": "read", "POST": "self"}),
    "member_role": ({"POST"}, "change"),
    "invitation_cancel": ({"GET", "POST"}, "change"),  # GET: the confirmation
    "invitation_resend": ({"POST"}, "change"),
    "api_keys": ({"GET"}, "read"),
    "key_new": ({"GET", "POST"}, "change"),
    "key_detail": ({"GET"}, "read"),
    "key_edit": ({"GET", "POST"}, "change"),
    "key_rotate": ({"GET", "POST"}, "change"),
    "key_revoke": ({"GET", "POST"}, "change"),
    "key_delete": ({"GET", "POST"}, "change"),
    "key_disable": ({"GET", "POST"}, "change"),
    "key_enable": ({"GET", "POST"}, "change"),
    "keys_revoke_selected": ({"GET", "POST"}, "change"),
    # the Usage tab (project_usage:): any member reads it
    "usage": ({"GET"}, "read"),
    "usage_csv": ({"GET"}, "read"),
    # the Settings tab (project_settings:): members read the key policy, only the owner changes it
    "settings": ({"GET", "POST"}, {"GET": "read", "POST": "change"}),
    "revoke_out_of_policy": ({"GET", "POST"}, "change"),
    "shorten_expiry": ({"POST"}, "change"),
    "approve": ({"POST"}, "change"),
    "deny": ({"POST"}, "change"),
    # its Webhooks section (webhooks:): owners and admins only, reading included
    "endpoints": ({"GET"}, "change"),
    "endpoint_new": ({"GET", "POST"}, "change"),
    "endpoint_detail": ({"GET"}, "change"),
    "endpoint_rotate": ({"GET", "POST"}, "change"),
    "endpoint_disable": ({"POST"}, "change"),
    "endpoint_enable": ({"POST"}, "change"),
    "endpoint_delete": ({"GET", "POST"}, "change"),
    "endpoint_test": ({"POST"}, "change"),
    "delivery_resend": ({"POST"}, "change"),
    "events": ({"GET"}, "read"),
    "events_csv": ({"GET"}, "read"),
}
NOT_PROJECT_SCOPED = {"list", "invitation", "invitation_open", "invitation_join"}  # tested on their own below
# The invitation link and page explain the invitation to someone logged out (who then logs in or signs up).
PUBLIC = {"invitation", "invitation_open"}
POST_DATA = {
    "text": "Changed?",
    "priority": "1",
    "is_active": "on",
    "email": "new@example.com",
    "role": "admin",
    "name": "sneaky",
    "permissions": ["read"],
    "expiration": "90",
    "grace": "",
}


# --- the URLconf, walked ------------------------------------------------------------------------
def walk(patterns=None, prefix="", namespaces=()):
    """(namespace:name or None, full route) of every URL pattern of the site."""
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            ns = namespaces + ((p.namespace,) if p.namespace else ())
            yield from walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            name = ":".join(namespaces + (p.name,)) if p.name else ":".join(namespaces) or None
            yield name, prefix + str(p.pattern)


def concrete(route: str, world: dict, slug: str | None = None) -> str:
    """A URL for `route` with its parameters filled from `world`."""
    url = route.replace("^", "").replace("$", "")
    if url.startswith("admin/"):
        m = re.match(r"admin/(\w+)/(\w+)/", url)
        model = (
            apps.get_model(m.group(1), m.group(2))
            if m
            and m.group(1)
            in {
                "accounts",
                "auth",
                "projects",
                "keys",
                "account",
                "mfa",
                "django_tasks_database",
                "socialaccount",
                "webhooks",
            }
            else None
        )
        if "(?P<app_label>" in url:
            url = re.sub(r"\(\?P<app_label>[^)]*\)", "projects", url)
        if "(?P<url>" in url:
            url = re.sub(r"\(\?P<url>\.\*\)", "no-such-page/", url)
        if "<path:content_type_id>" in url:
            url = url.replace("<path:content_type_id>", str(ContentType.objects.get_for_model(world["project"]).pk))
            url = url.replace("<path:object_id>", str(world["project"].pk))
        if model is not None:
            url = url.replace("<path:object_id>", str(world["samples"][model].pk)).replace(
                "<id>", str(world["samples"][model].pk)
            )
    else:
        segment = re.search(r"/(questions|members|invitations|webhooks)/<int:pk>|^projects/(invitations)/<int:pk>", url)
        pk = {
            "questions": world["question"],
            "members": world["member"],
            "invitations": world["invitation"],
            "webhooks": world["endpoint"],
        }
        if segment:
            url = url.replace("<int:pk>", str(pk[segment.group(1) or segment.group(2)].pk))
        url = (
            url.replace("<slug:slug>", slug or world["project"].slug)
            .replace("<projectslug:slug>", slug or world["project"].slug)
            .replace("<slug>", slug or world["project"].slug)
            .replace("<str:key_id>", world["key"].key_id)
            .replace("<str:token>", world["token"])
            .replace("<str:delivery_id>", world["delivery"].pk)
            .replace("<int:question_id>", str(world["question"].pk))
            .replace("<uidb64>", urlsafe_base64_encode(force_bytes(world["owner"].pk)))
            .replace("<token>", default_token_generator.make_token(world["owner"]))
        )
        url = re.sub(r"\(\?P<\w+>[^()]*\)", "x1", url)  # allauth's regex routes (confirm-email, reset key)
        url = re.sub(r"<int:\w+>", "1", url)
    assert "<" not in url and "(" not in url, f"unfilled parameter in {route}"
    return "/" + url


def console_urls(world, slug=None) -> dict[str, str]:
    return {
        name.split(":", 1)[1]: concrete(route, world, slug)
        for name, route in walk()
        # a project's pages: its tabs (keys, usage, settings with its webhooks) too
        if name
        and name.split(":", 1)[0] in ("projects", "project_keys", "project_usage", "project_settings", "webhooks")
    }


@pytest.fixture
def world(db):
    owner = UserFactory()
    project = ProjectFactory(owner=owner, active_questions=10)
    viewer = MembershipFactory(project=project, role=Role.VIEWER).user
    member = MembershipFactory(project=project, role=Role.VIEWER)  # the one member_remove aims at
    invitation, token = Invitation.objects.issue(project=project, email="invited@example.com", invited_by=owner)
    key, _ = api_key_create(project=project, name="prod", permissions=["read"], actor=Actor.cli())
    usage = KeyUsageDay.objects.create(api_key=key, day=date.today(), success=3)
    group = Group.objects.create(name="auditors")
    question = project.questions.first()
    # A webhook endpoint and one of its deliveries, written directly: no address is resolved here.
    endpoint = Endpoint.objects.create(
        project=project,
        url="https://hooks.example.com/nbq",
        all_events=True,
        event_types=[],
        secret_encrypted=signing.encrypt(signing.new_secret()),
    )
    delivery = Delivery.objects.create(endpoint=endpoint, event_type="webhook.test", body="{}")
    with override_settings(TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}):
        queued = send_email.enqueue(subject="Sample", body="Body", from_email=None, to=["a@example.com"])
    samples = {
        apps.get_model("django_tasks_database", "dbtaskresult"): apps.get_model(
            "django_tasks_database", "dbtaskresult"
        ).objects.get(id=queued.id),
        apps.get_model("accounts", "user"): owner,
        apps.get_model("auth", "group"): group,
        apps.get_model("projects", "project"): project,
        apps.get_model("projects", "membership"): member,
        apps.get_model("projects", "invitation"): invitation,
        apps.get_model("projects", "question"): question,
        ApiKey: key,
        Endpoint: endpoint,
        Delivery: delivery,
        KeyEvent: KeyEvent.objects.filter(key_id=key.key_id).first(),
        KeyUsageDay: usage,
        apps.get_model("account", "emailaddress"): apps.get_model("account", "emailaddress").objects.get(user=owner),
        apps.get_model("mfa", "authenticator"): apps.get_model("mfa", "authenticator").objects.create(
            user=owner, type="totp", data={"secret": "JBSWY3DPEHPK3PXP"}
        ),
        # the key policy's and approvals' admin pages (read-only there); an approval is of a personal key
        apps.get_model("projects", "keypolicy"): apps.get_model("projects", "keypolicy").objects.create(
            project=project
        ),
        apps.get_model("keys", "keyapproval"): apps.get_model("keys", "keyapproval").objects.create(
            key=api_key_create(owner=owner, all_projects=True, name="laptop", permissions=["read"], actor=Actor.cli())[
                0
            ],
            project=project,
        ),
        apps.get_model("socialaccount", "socialaccount"): apps.get_model(
            "socialaccount", "socialaccount"
        ).objects.create(user=owner, provider="sso", uid="owner-at-the-provider"),
    }
    return {
        "owner": owner,
        "viewer": viewer,
        "project": project,
        "member": member,
        "invitation": invitation,
        "token": token,
        "key": key,
        "question": question,
        "endpoint": endpoint,
        "delivery": delivery,
        "samples": samples,
    }


def by_key(pk: str, row: dict) -> str:
    return str(row[pk])


def snapshot() -> dict:
    """Every row of the apps' own models (what any request could change), minus login times."""
    state = {}
    for label in ("accounts", "projects", "auth", "keys", "webhooks"):
        for model in apps.get_app_config(label).get_models():
            rows = [{k: v for k, v in row.items() if k != "last_login"} for row in model._default_manager.values()]
            pk: str = model._meta.pk.attname
            state[model._meta.label] = sorted(rows, key=partial(by_key, pk))
    return state


def logged_in(user, **kwargs) -> Client:
    c = Client(**kwargs)
    c.force_login(user)
    return c


REQUESTS = {"count": 0}


def send(client, method, url, htmx=False):
    REQUESTS["count"] += 1
    extra = HX if htmx else {}
    if method == "GET":
        return client.get(url, **extra)
    if method == "POST":
        return client.post(url, POST_DATA, **extra)
    return client.generic(method, url, **extra)


# --- completeness -------------------------------------------------------------------------------
def test_every_console_url_has_an_access_rule(world):
    names = set(console_urls(world))
    assert names == set(CONSOLE) | NOT_PROJECT_SCOPED, (
        f"new console URL(s) without a rule here: {names - set(CONSOLE) - NOT_PROJECT_SCOPED}; "
        f"rules for URLs that are gone: {set(CONSOLE) - names}"
    )


# --- console ------------------------------------------------------------------------------------
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_anonymous_is_sent_to_login_everywhere(client, world, htmx):
    before, wrong = snapshot(), []
    for name, url in console_urls(world).items():
        for method in METHODS:
            r = send(client, method, url, htmx)
            if name in PUBLIC:
                continue  # explained to anyone holding the link (test_invitation_link_… below)
            if r.status_code != 302 or not r["Location"].startswith("/accounts/login/"):
                wrong.append((name, method, r.status_code))
    assert not wrong, wrong
    assert snapshot() == before


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_stranger_sees_what_a_missing_project_shows(world, htmx):
    stranger = logged_in(UserFactory())
    before, wrong = snapshot(), []
    real, missing = console_urls(world), console_urls(world, slug="no-such-project")
    for name in CONSOLE:
        methods = CONSOLE[name][0]
        for method in METHODS:
            r = send(stranger, method, real[name], htmx)
            expected = 404 if method in methods else 405
            ghost = send(stranger, method, missing[name], htmx)
            if r.status_code != expected or ghost.status_code != expected:
                wrong.append((name, method, r.status_code, ghost.status_code))
            elif world["project"].name.encode() in r.content:
                wrong.append((name, method, "project name leaked"))
    assert not wrong, wrong
    assert snapshot() == before


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_viewer_reads_but_every_change_is_403(world, htmx):
    viewer = logged_in(world["viewer"])
    before, wrong = snapshot(), []
    for name, url in console_urls(world).items():
        if name in NOT_PROJECT_SCOPED:
            continue
        methods, rule = CONSOLE[name]
        for method in METHODS:
            kind = rule.get(method, "change") if isinstance(rule, dict) else rule
            if kind == "self":
                continue  # the viewer would really leave: tests/projects/test_audit_log.py covers it
            r = send(viewer, method, url, htmx)
            if method not in methods:
                expected = {405}
            elif kind == "read":
                expected = {200, 302}
            else:
                expected = {403}
            if r.status_code not in expected:
                wrong.append((name, method, r.status_code))
    assert not wrong, wrong
    assert snapshot() == before


def test_invitation_link_of_someone_else_does_not_let_anyone_in(world):
    urls = console_urls(world)
    users = (world["viewer"], UserFactory())
    before = snapshot()
    for user in users:
        c = logged_in(user)
        assert c.get(urls["invitation_open"]).status_code == 302
        assert c.get(urls["invitation"]).status_code == 410
        assert c.post(urls["invitation"]).status_code == 410
        assert c.post(urls["invitation_join"]).status_code == 404
    assert snapshot() == before


def test_a_strangers_project_list_does_not_show_the_project(world):
    response = logged_in(UserFactory()).get(console_urls(world)["list"])
    assert response.status_code == 200
    assert world["project"].name.encode() not in response.content


# --- admin --------------------------------------------------------------------------------------
def admin_urls(world) -> list[tuple[str | None, str]]:
    return [
        (name, concrete(route, world)) for name, route in walk() if route.startswith("admin/") and name != "admin:login"
    ]


@pytest.mark.parametrize("who", ["anonymous", "non-staff member"])
def test_every_admin_page_sends_non_staff_to_the_admin_login(world, who):
    c = Client() if who == "anonymous" else logged_in(world["owner"])
    before, wrong = snapshot(), []
    urls = admin_urls(world)
    assert len(urls) > 60
    for name, url in urls:
        for method in ("GET", "POST"):
            REQUESTS["count"] += 1
            r = (
                c.get(url)
                if method == "GET"
                else c.post(
                    url, {"action": "revoke_selected", "_selected_action": [str(world["key"].pk)], "post": "yes"}
                )
            )
            # (admin logout sends a non-staff user to the admin index, which sends them to the login)
            target = "/admin/" if name == "admin:logout" else "/admin/login/"
            if r.status_code != 302 or not r["Location"].startswith(target):
                wrong.append((name, url, method, r.status_code))
    assert not wrong, wrong
    assert snapshot() == before


def test_staff_without_permissions_gets_403_on_every_model_page(world):
    staff = UserFactory(is_staff=True)
    c = logged_in(staff)
    before, wrong, tried = snapshot(), [], 0
    for name, url in admin_urls(world):
        if not re.match(r"/admin/(accounts|auth|projects|account|mfa|keys|webhooks)/\w+/", url):
            continue  # the site's own pages (index, password change, ...) are the staff user's
        for method in ("GET", "POST"):
            r = c.get(url) if method == "GET" else c.post(url, {"post": "yes"})
            tried += 1
            REQUESTS["count"] += 1
            # `<object_id>/` (no name) only redirects to the change page, which is refused
            redirect_to_change = r.status_code == 302 and r["Location"].endswith("/change/")
            # a page that only reads (history; `<object_id>/`) answers a POST with 405 before any
            # permission check (READS, where keys_console/urls.py includes the admin): nothing
            # changes either way (snapshot)
            read_only_post = method == "POST" and r.status_code == 405 and (name or "").endswith(("_history", "admin"))
            ok = r.status_code == 403 or (name == "admin" and redirect_to_change) or read_only_post
            if not ok:
                wrong.append((name, url, method, r.status_code))
    assert tried > 100
    assert not wrong, wrong
    assert snapshot() == before


# --- CSRF ---------------------------------------------------------------------------------------
def test_every_post_without_a_csrf_token_fails(world):
    superuser = UserFactory(is_staff=True, is_superuser=True)
    owner = logged_in(world["owner"], enforce_csrf_checks=True)
    admin = logged_in(superuser, enforce_csrf_checks=True)
    anonymous = Client(enforce_csrf_checks=True)
    before, wrong, tried = snapshot(), [], 0
    for name, route in walk():
        if route.startswith("api/") or name == "healthz":
            continue  # the API takes no cookie; /healthz takes GET only (405) and changes nothing
        url = concrete(route, world)
        clients = [admin] if route.startswith("admin/") else [owner, anonymous]
        for c in clients:
            for data in (POST_DATA, {"action": "revoke_selected", "_selected_action": [str(world["key"].pk)]}):
                r = c.post(url, data)
                tried += 1
                REQUESTS["count"] += 1
                if r.status_code != 403 or b"CSRF" not in r.content:
                    wrong.append((name, url, r.status_code))
    assert tried > 100
    assert not wrong, wrong
    assert snapshot() == before


def test_a_session_never_authenticates_the_api(world):
    """Why the API may be CSRF-exempt: only a key authenticates it, never a cookie."""
    c = logged_in(UserFactory(is_staff=True, is_superuser=True))
    before, wrong = snapshot(), []
    for name, route in walk():
        if not route.startswith("api/v1/") or name in {"api:openapi-json", "api:openapi-view"}:
            continue
        url = concrete(route, world)
        # The leak reports take no key from anyone (a session adds nothing): an empty report is a 400,
        # an unsigned GitHub report a 401 `invalid_signature`; nothing changes either way (snapshot).
        public = {"api:report_leaked": {400, 405}, "api:github_secret_scanning": {401, 405}}
        for method in METHODS + ["PATCH"]:
            REQUESTS["count"] += 1
            r = c.generic(method, url, b"{}", content_type="application/json")
            if name in public:
                if r.status_code not in public[name]:
                    wrong.append((name, method, r.status_code))
            elif r.status_code not in {401, 404, 405}:
                wrong.append((name, method, r.status_code))
            elif r.status_code == 401 and r.json()["error"]["code"] != "missing_api_key":
                wrong.append((name, method, r.json()))
    assert not wrong, wrong
    assert snapshot() == before
