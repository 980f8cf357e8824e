"""Which routes ask to Confirm access: every console route, classified once, here.

Each URL pattern of the site (the console's, allauth's, the admin's) has one entry in `ROUTES`,
keyed by its URL name (`"project_keys:key_new"`; an unnamed pattern by its full route,
`"route:admin/(?P<url>.*)$"`):

- `READS`: changes nothing. Only GET, HEAD and OPTIONS reach the view; any other method from a
  logged-in session is answered 405 before it, so a route cannot start changing state while
  classified as reading (a visitor the view turns away anyway still gets its login page).
- `CHANGES`: changes state, never asks (questions, logging in and out, revoking a key: revoking
  stays one click away, for incident response).
- `CONFIRM`: asks to Confirm access before the view runs, for every method (opening the dialog
  asks too, so nobody fills a form only to be asked afterwards).
- `CONFIRM_ON_SUBMIT`: asks on POST/PUT/PATCH/DELETE only (the admin: viewing is free, saving asks).
- `confirm_if(test, why)`: asks on a submit for which `test(request)` is true (inviting: only a
  role above viewer asks).

`guard_urlpatterns` (called once, at the end of keys_console/urls.py) wraps each pattern's view in
its entry's rule; asking is `accounts.reauth.confirm_access_required` (allauth's
reauthentication: the Confirm access page or dialog, then the suspended request goes on).
A pattern missing from `ROUTES` is treated as `CONFIRM_ON_SUBMIT` (closed, not open), and
tests/accounts/test_route_sweep.py fails until it is classified.

The runtime API (namespace `api`) authenticates every request by its key, never by a session:
Confirm access means nothing there; it is listed in `OUTSIDE_THE_CONSOLE` and left untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import wraps

from django.http import HttpRequest, HttpResponseNotAllowed
from django.urls import URLPattern, URLResolver

from .reauth import confirm_access_required

logger = logging.getLogger("accounts")

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Rule:
    label: str
    changes_state: bool
    asks: str = "never"  # "never", "always" (every method), "submit" (unsafe methods only)
    test: Callable[[HttpRequest], bool] | None = None

    def needs_confirm_access(self, request: HttpRequest) -> bool:
        if self.asks == "always":
            return True
        if self.asks == "submit" and request.method not in SAFE_METHODS:
            return self.test is None or self.test(request)
        return False


READS = Rule("reads", changes_state=False)
CHANGES = Rule("changes state, never asks", changes_state=True)
CONFIRM = Rule("Confirm access", changes_state=True, asks="always")
CONFIRM_ON_SUBMIT = Rule("Confirm access on submit", changes_state=True, asks="submit")


def confirm_if(test: Callable[[HttpRequest], bool], why: str) -> Rule:
    return Rule(f"Confirm access when {why}", changes_state=True, asks="submit", test=test)


def _role_above_viewer(request: HttpRequest) -> bool:
    # Anything but "viewer" asks (an unknown role too: the form refuses it after the password).
    return request.POST.get("role", "") != "viewer"


def _admin_action_other_than(*free_actions: str) -> Callable[[HttpRequest], bool]:
    def test(request: HttpRequest) -> bool:
        return request.POST.get("action", "") not in free_actions

    return test


INVITE = confirm_if(_role_above_viewer, "the role is above viewer")

# Namespaces outside the console: no session, so no Confirm access (module docstring).
OUTSIDE_THE_CONSOLE = {"api": "the runtime API: every request authenticated by its key, no session"}

ROUTES: dict[str, Rule] = {
    # --- keys_console ---------------------------------------------------------------------
    "healthz": READS,
    "route:": READS,  # / → the project list
    "report_leak": CHANGES,  # anyone may report a leaked key: it is revoked (never held back)
    # --- accounts: our pages and allauth's ------------------------------------------------
    "account": READS,
    "account_login": CHANGES,
    "account_logout": CHANGES,
    "account_inactive": READS,
    "account_signup": CHANGES,
    "account_reauthenticate": CHANGES,  # Confirm access itself
    "account_request_reauthentication_code": CHANGES,
    "account_confirm_reauthentication_code": CHANGES,
    "account_email": CONFIRM_ON_SUBMIT,  # add, remove, make primary, resend: reading the list is free
    "account_email_verification_sent": READS,
    "account_confirm_email": CHANGES,  # the mailed link is the proof
    "account_change_password": CONFIRM,
    "account_set_password": CONFIRM,
    "account_reset_password": CHANGES,
    "account_reset_password_done": READS,
    "account_reset_password_from_key": CHANGES,  # the mailed token is the proof
    "account_reset_password_from_key_done": READS,
    "account_confirm_login_code": CHANGES,
    "account_sso_reauthenticate": READS,  # Confirm access through single sign-on (accounts/sso.py)
    "openid_connect_login": CHANGES,  # starts a sign-in with the provider (a POST)
    "openid_connect_callback": CHANGES,  # back from the provider: signs in (or confirms access)
    "socialaccount_signup": CHANGES,
    "socialaccount_login_cancelled": READS,
    "socialaccount_login_error": READS,
    "socialaccount_connections": CONFIRM_ON_SUBMIT,  # disconnecting an identity asks
    # allauth's old addresses of the same pages: redirects
    **{f"route:accounts/social/{old}/": READS for old in ("login/cancelled", "login/error", "signup", "connections")},
    "mfa_index": READS,
    "mfa_authenticate": CHANGES,  # the second step of logging in
    "mfa_reauthenticate": CHANGES,  # Confirm access with a 2FA code
    "mfa_activate_totp": CONFIRM,
    "mfa_deactivate_totp": CONFIRM,
    "mfa_view_recovery_codes": CONFIRM,  # shows the codes: allauth asks as well
    "mfa_generate_recovery_codes": CONFIRM,
    "mfa_download_recovery_codes": CONFIRM,
    # --- projects ---------------------------------------------------------------------------
    "projects:list": CHANGES,  # POST creates a project
    "projects:detail": READS,
    "projects:questions": CHANGES,
    "projects:questions_bulk": CHANGES,
    "projects:sample_questions_delete": CHANGES,
    "projects:question_edit": CHANGES,
    "projects:question_toggle": CHANGES,
    "projects:question_delete": CHANGES,
    "projects:members": INVITE,  # inviting a viewer does not ask; an admin does
    "projects:member_remove": CONFIRM,
    "projects:member_leave": CHANGES,  # one's own membership
    "projects:member_role": CONFIRM,
    "projects:invitation_cancel": CHANGES,  # takes access away, like revoking
    "projects:invitation_resend": CONFIRM,  # a new link for the same role (admin included)
    "projects:invitation": CHANGES,  # accepting one's own invitation
    "projects:invitation_join": CHANGES,
    "projects:invitation_open": READS,
    "projects:events": READS,
    "projects:events_csv": READS,
    "project_usage:usage": READS,  # the Usage tab (#31)
    "project_usage:usage_csv": READS,
    # --- keys: a project's API Key tab and the person's Personal API keys ------------------
    **{
        f"{namespace}:{name}": rule
        for namespace in ("project_keys", "account_keys")
        for name, rule in {
            "api_keys": READS,
            "key_new": CONFIRM,
            "key_detail": READS,
            "key_edit": CONFIRM,  # permissions, rate limit, IP addresses, expiry, scope
            "key_rotate": CONFIRM,
            "key_revoke": CHANGES,  # incident response: never held back
            "keys_revoke_selected": CHANGES,  # revoking, several at once
            "key_disable": CHANGES,  # only stops a key, like revoking
            "key_enable": CONFIRM,  # makes a stopped key work again, like generating one
            "key_delete": CHANGES,  # only a dead key can be deleted: nothing left to misuse
        }.items()
    },
    "account_keys:security_log": READS,
    # --- a project's Settings tab: Key policy, approvals (keys/settings_urls.py) -------------
    "project_settings:settings": CONFIRM_ON_SUBMIT,  # reading the policy is free; saving it asks
    "project_settings:revoke_out_of_policy": CONFIRM,
    "project_settings:shorten_expiry": CONFIRM,
    "project_settings:approve": CHANGES,  # a member's own key, capped by their role
    "project_settings:deny": CHANGES,
    # --- Webhooks (webhooks/urls.py): the endpoints, their secrets and deliveries ----------
    **{
        f"webhooks:{name}": CONFIRM
        for name in (
            "endpoints",
            "endpoint_new",
            "endpoint_detail",
            "endpoint_rotate",
            "endpoint_disable",
            "endpoint_enable",
            "endpoint_delete",
            "endpoint_test",
            "delivery_resend",
        )
    },
    # --- the Django admin: every change asks, reading does not -----------------------------
    "admin:index": READS,
    "admin:app_list": READS,
    "admin:login": CHANGES,
    "admin:logout": CHANGES,
    "admin:password_change": CONFIRM_ON_SUBMIT,
    "admin:password_change_done": READS,
    "admin:autocomplete": READS,
    "admin:jsi18n": READS,
    "admin:view_on_site": READS,
    "admin:auth_user_password_change": CONFIRM_ON_SUBMIT,  # UserAdmin's "change password" form
    "route:admin/(?P<url>.*)$": READS,  # the admin's catch-all (a redirect or a 404)
}

# Every model in the admin: adding, changing, deleting and bulk actions ask (on submit); its list,
# history and the object's short URL only read. A model's `changelist` may name actions that do not
# ask (revoking keys). A model added to the admin must be added here (the sweep says so).
ADMIN_MODELS: dict[str, tuple[str, ...]] = {
    "accounts.user": (),
    "auth.group": (),
    "mfa.authenticator": (),
    "account.emailaddress": (),
    "socialaccount.socialaccount": (),
    "projects.project": (),
    "projects.membership": (),
    "projects.invitation": (),
    "projects.question": (),
    "projects.keyevent": (),
    # revoking (and pausing) stays one click and its confirmation page away; Enable asks
    "keys.apikey": ("revoke_selected", "disable_selected"),
    "keys.keyusageday": (),
    "keys.keyapproval": (),  # read-only in the admin (#29): the Settings and API Key tabs change them
    "projects.keypolicy": (),
    "django_tasks_database.dbtaskresult": (),
}


def _admin_routes() -> dict[str, Rule]:
    routes: dict[str, Rule] = {}
    for label, free_actions in ADMIN_MODELS.items():
        app, model = label.split(".")
        base = f"admin:{app}_{model}_"
        routes[base + "changelist"] = (
            confirm_if(_admin_action_other_than(*free_actions), "the action is not " + " or ".join(free_actions))
            if free_actions
            else CONFIRM_ON_SUBMIT
        )
        for view in ("add", "change", "delete"):
            routes[base + view] = CONFIRM_ON_SUBMIT
        routes[base + "history"] = READS
        routes[f"route:admin/{app}/{model}/<path:object_id>/"] = READS  # redirects to the change page
    return routes


ROUTES.update(_admin_routes())


# --- walking the URL patterns ---------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    key: str  # the name ROUTES knows it by
    route: str  # the full route, for messages
    namespace: str
    pattern: URLPattern


def walk(patterns: Iterable[URLPattern | URLResolver], prefix: str = "", namespace: str = "") -> Iterator[Pattern]:
    """Every URL pattern under `patterns` (includes followed), with its key and full route."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        else:
            route = prefix + str(entry.pattern)
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            key = name or f"route:{route}"
            yield Pattern(key=key, route=route, namespace=namespace, pattern=entry)


def outside_the_console(found: Pattern) -> bool:
    return found.namespace.split(":")[0] in OUTSIDE_THE_CONSOLE


def rule_for(found: Pattern) -> Rule | None:
    return ROUTES.get(found.key)


def unclassified(patterns: Iterable[URLPattern | URLResolver]) -> list[Pattern]:
    return [found for found in walk(patterns) if not outside_the_console(found) and rule_for(found) is None]


# --- applying the rules ---------------------------------------------------------------------


def guarded(view: Callable, rule: Rule, key: str) -> Callable:
    """`view`, behind `rule`. A visitor the view turns away anyway (not logged in; in the admin,
    not active staff) meets the view's own answer first — the login page — as before: the rule is
    about the sessions that reach the view."""
    confirmed = confirm_access_required(view)
    admin = key.startswith(("admin:", "route:admin/"))

    @wraps(view)
    def guarded_view(request: HttpRequest, *args, **kwargs):
        user = request.user
        if user.is_authenticated and (not admin or (user.is_active and user.is_staff)):
            if not rule.changes_state and request.method not in SAFE_METHODS:
                return HttpResponseNotAllowed(SAFE_METHODS)
            if rule.needs_confirm_access(request):
                return confirmed(request, *args, **kwargs)
        return view(request, *args, **kwargs)

    guarded_view.confirm_access_rule = rule  # type: ignore[attr-defined]
    guarded_view.confirm_access_key = key  # type: ignore[attr-defined]
    return guarded_view


def guard_urlpatterns(patterns: list) -> list:
    """Wrap every console pattern's view in its rule (once; the patterns are changed in place)."""
    for found in walk(patterns):
        if outside_the_console(found):
            continue
        callback = found.pattern.callback
        if hasattr(callback, "confirm_access_rule"):
            continue
        rule = rule_for(found)
        if rule is None:
            logger.warning(
                "Route %s (/%s) is not classified in accounts/sensitive.py: it asks to Confirm access on submit",
                found.key,
                found.route,
            )
            rule = CONFIRM_ON_SUBMIT
        found.pattern.callback = guarded(callback, rule, found.key)
    return patterns
