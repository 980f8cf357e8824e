"""Which routes ask to Confirm access: each route declares its rule where it is declared.

The rules:

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

Where a rule is declared:

- An app's own route, in its urls.py, around the view: `path("new/", confirm(keys.key_new),
  name="key_new")` (`reads`, `changes`, `confirm`, `confirm_on_submit`, or `classify(view, rule)`
  for any other rule). The same view under two routes declares once per route.
- Routes a third party declares (allauth's), where they are included, by their URL name in a
  table: `path("", classify_included(include("allauth.urls"), {"account_login": CHANGES, ...}))`
  (accounts/urls.py). A key is a route's name, or `"route:<its route>"` for an unnamed one,
  relative to the include (`walk()` keys them so).
- The admin's, where `admin.site.urls` is included (keys_console/urls.py): `guard_admin(site,
  site_routes)`. Every registered model's pages are derived from the admin's own URL names: its
  list (`<app>_<model>_changelist`), history and the object's short URL read; adding, changing,
  deleting and the list's bulk actions ask on submit, except the actions its ModelAdmin names in
  `actions_without_confirm_access` (keys' ApiKeyAdmin: revoking). So a model registered later is
  covered without a list to edit. The site's own pages (index, login, ...) are in `site_routes`.
- Routes outside the console (the runtime API: no session, so no Confirm access) are marked where
  they are included, `outside_the_console(path("api/v1/", api.urls))`, and left untouched.

Asking is `accounts.reauth.confirm_access_required` (allauth's reauthentication: the Confirm
access page or dialog, then the suspended request goes on). `guard_urlpatterns` (called once, at
the end of keys_console/urls.py) closes whatever was not declared: such a route asks on submit
(`CONFIRM_ON_SUBMIT`, with a warning in the log), and tests/accounts/test_route_sweep.py, which
walks every pattern of the site, fails naming it until its rule is declared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.apps import apps
from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponseNotAllowed
from django.urls import URLPattern, URLResolver

from .reauth import confirm_access_required

logger = logging.getLogger("accounts")

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

# What a ModelAdmin may set: the names of its bulk actions that do not ask (revoking keys).
FREE_ADMIN_ACTIONS = "actions_without_confirm_access"


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


def _admin_action_other_than(*free_actions: str) -> Callable[[HttpRequest], bool]:
    def test(request: HttpRequest) -> bool:
        return request.POST.get("action", "") not in free_actions

    return test


# --- applying a rule to a view ----------------------------------------------------------------


def guarded(view: Callable, rule: Rule, *, staff_only: bool = False, declared: bool = True) -> Callable:
    """`view`, behind `rule`. A visitor the view turns away anyway (not logged in; in the admin,
    `staff_only`, not active staff) meets the view's own answer first — the login page — as
    before: the rule is about the sessions that reach the view. `declared` is False for the closed
    default given to a route nobody classified (the sweep reports those)."""
    confirmed = confirm_access_required(view)

    @wraps(view)
    def guarded_view(request: HttpRequest, *args, **kwargs):
        user = request.user
        if user.is_authenticated and (not staff_only or (user.is_active and user.is_staff)):
            if not rule.changes_state and request.method not in SAFE_METHODS:
                return HttpResponseNotAllowed(SAFE_METHODS)
            if rule.needs_confirm_access(request):
                return confirmed(request, *args, **kwargs)
        return view(request, *args, **kwargs)

    guarded_view.confirm_access_rule = rule  # type: ignore[attr-defined]
    guarded_view.confirm_access_declared = declared  # type: ignore[attr-defined]
    guarded_view.confirm_access_staff_only = staff_only  # type: ignore[attr-defined]
    return guarded_view


def classify(view: Callable, rule: Rule) -> Callable:
    """`view` behind `rule`: the declaration at the route, `path("…", classify(view, RULE), …)`."""
    if is_classified(view):
        raise ValueError(f"{view!r} is classified already: declare one rule per route")
    return guarded(view, rule)


def reads(view: Callable) -> Callable:
    return classify(view, READS)


def changes(view: Callable) -> Callable:
    return classify(view, CHANGES)


def confirm(view: Callable) -> Callable:
    return classify(view, CONFIRM)


def confirm_on_submit(view: Callable) -> Callable:
    return classify(view, CONFIRM_ON_SUBMIT)


def is_classified(view: Callable) -> bool:
    return hasattr(view, "confirm_access_rule")


# --- walking the URL patterns ---------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    key: str  # its URL name ("project_keys:key_new"), or "route:<its route>" when unnamed
    route: str  # the full route, for messages
    namespace: str
    pattern: URLPattern
    outside_the_console: bool = False  # under an include marked by outside_the_console()


def walk(
    patterns: Iterable[URLPattern | URLResolver], prefix: str = "", namespace: str = "", outside: bool = False
) -> Iterator[Pattern]:
    """Every URL pattern under `patterns` (includes followed), with its key and full route."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            inside = outside or getattr(entry, "confirm_access_outside", False)
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), inner, inside)
        else:
            route = prefix + str(entry.pattern)
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            key = name or f"route:{route}"
            yield Pattern(key=key, route=route, namespace=namespace, pattern=entry, outside_the_console=outside)


def rule_for(found: Pattern) -> Rule | None:
    """The rule declared for the route (None: outside the console, or nobody classified it)."""
    callback = found.pattern.callback
    if found.outside_the_console or not getattr(callback, "confirm_access_declared", False):
        return None
    return callback.confirm_access_rule  # type: ignore[attr-defined]


def declared_rules(patterns: Iterable[URLPattern | URLResolver]) -> dict[str, Rule]:
    """Every declared route under `patterns`, by key, with its rule."""
    return {found.key: rule for found in walk(patterns) if (rule := rule_for(found)) is not None}


def unclassified(patterns: Iterable[URLPattern | URLResolver]) -> list[Pattern]:
    return [found for found in walk(patterns) if not found.outside_the_console and rule_for(found) is None]


# --- declaring where routes are included ------------------------------------------------------


def outside_the_console(included: URLResolver) -> URLResolver:
    """Mark an include (`path("api/v1/", api.urls)`) as outside the console: its views are left
    untouched (no session there, so no Confirm access; no wrapper, no cost)."""
    included.confirm_access_outside = True  # type: ignore[attr-defined]
    return included


def _included_patterns(included: Any) -> list:
    """The patterns of `include(...)`'s or `admin.site.urls`' (module or list, app name, namespace)."""
    module = included[0]
    return list(getattr(module, "urlpatterns", module))


def _wrap(found: Pattern, rule: Rule, *, staff_only: bool = False, declared: bool = True) -> None:
    found.pattern.callback = guarded(found.pattern.callback, rule, staff_only=staff_only, declared=declared)


def classify_included(included: Any, rules: Mapping[str, Rule]) -> Any:
    """`include(...)` (routes another package declares), each of its patterns behind the rule
    `rules` names for its key (relative to the include); returned for `path()`. A pattern not in
    `rules` is left to `guard_urlpatterns` (closed until classified)."""
    for found in walk(_included_patterns(included)):
        if found.key in rules and not is_classified(found.pattern.callback):
            _wrap(found, rules[found.key])
    return included


def admin_model_routes(site: AdminSite) -> dict[str, Rule]:
    """The pages of every model registered with `site`, by the admin's own URL names."""
    routes: dict[str, Rule] = {}
    for model in apps.get_models():
        if not site.is_registered(model):
            continue
        app, name = model._meta.app_label, model._meta.model_name
        free_actions = tuple(getattr(site.get_model_admin(model), FREE_ADMIN_ACTIONS, ()))
        base = f"{app}_{name}_"
        routes[base + "changelist"] = (
            confirm_if(_admin_action_other_than(*free_actions), "the action is not " + " or ".join(free_actions))
            if free_actions
            else CONFIRM_ON_SUBMIT
        )
        for view in ("add", "change", "delete"):
            routes[base + view] = CONFIRM_ON_SUBMIT
        routes[base + "history"] = READS
        routes[f"route:{app}/{name}/<path:object_id>/"] = READS  # redirects to the change page
    return routes


def guard_admin(site: AdminSite, site_routes: Mapping[str, Rule]) -> Any:
    """`site.urls`, every pattern behind its rule: the site's own pages from `site_routes` (keys
    relative to the site: `"index"`, `"route:(?P<url>.*)$"`), every registered model's pages
    from `admin_model_routes`. The rules apply to active staff (anyone else gets the admin's
    login page first, as before); a pattern in neither asks on submit, with a warning."""
    included = site.urls
    routes = {**admin_model_routes(site), **site_routes}
    for found in walk(_included_patterns(included)):
        rule = routes.get(found.key)
        if rule is None:
            logger.warning(
                "Route %s:%s (%s) of the admin is not classified: it asks to Confirm access on submit",
                site.name,
                found.key,
                found.route,
            )
        _wrap(found, rule or CONFIRM_ON_SUBMIT, staff_only=True, declared=rule is not None)
    return included


def guard_urlpatterns(patterns: list) -> list:
    """Close every console pattern whose rule was not declared: it asks on submit (with a warning
    naming it) until it is classified. Call once, on the site's patterns (changed in place)."""
    for found in walk(patterns):
        if found.outside_the_console or is_classified(found.pattern.callback):
            continue
        logger.warning(
            "Route %s (/%s) is not classified where it is declared: it asks to Confirm access on submit",
            found.key,
            found.route,
        )
        _wrap(found, CONFIRM_ON_SUBMIT, declared=False)
    return patterns
