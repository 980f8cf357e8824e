"""Whose keys a key page manages: a project (its API Key tab) or the signed-in person (Account →
API keys). The views in `keys.py` are written once against `KeyHolder`; what differs between the
two pages (which keys, the limit, the page around a dialog, the URLs, how a key is made, what its
details show) is here.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from keys import policy as key_policy
from keys.forms import AccountKeyCreateForm, ApiKeyCreateForm
from keys.models import ApiKey
from keys.models.api_key import Status
from keys.policy_forms import offer_within_policy
from keys.sandbox import default_key_name
from keys.services import api_key_create, projects_in_scope
from keys.usage import usage_by_project
from projects.access import membership_for
from projects.actors import Actor
from projects.gate import question_gate
from projects.models import KeyEvent, Membership
from projects.policy import policy_of

from . import key_list


def lineage_order(keys: Sequence[ApiKey]) -> list[ApiKey]:
    """Newest first, each key followed by the keys it replaced (its rotation lineage), so an old
    key rotating out sits right under its successor. Sets `lineage_depth` (0: the newest of its line)."""
    by_pk: dict[int | None, ApiKey] = {k.pk: k for k in keys}
    replaced = {k.rotated_from_id for k in keys if k.rotated_from_id in by_pk}
    ordered = []
    for key in keys:
        if key.pk in replaced:
            continue  # listed under its successor
        depth = 0
        current: ApiKey | None = key
        while current is not None:
            current.lineage_depth = depth
            ordered.append(current)
            depth, current = depth + 1, by_pk.get(current.rotated_from_id)
    return ordered


class KeyHolder:
    """The holder of a list of keys, as the console's key views see it."""

    page: str  # the key list's full page
    dialog_page: str  # the page around a dialog, without JavaScript
    detail_page: str  # a key's details, without JavaScript
    list_fragment = "keys/api_keys.html#keys-panel"  # what htmx swaps in
    results_fragment = "keys/api_keys.html#key-results"  # what the Search keys form swaps in
    # The list's search, filters and sort (`key_list`): set from the request by `key_holder`.
    list_query: key_list.KeyListQuery = key_list.KeyListQuery()
    create_form_class: type[ApiKeyCreateForm] = ApiKeyCreateForm

    @property
    def key_limit(self) -> int:
        raise NotImplementedError

    def keys(self) -> QuerySet[ApiKey]:
        raise NotImplementedError

    def holder_filter(self) -> dict:
        """The holder, as a filter on ApiKey (e.g. {"project": ...})."""
        raise NotImplementedError

    def key(self, key_id: str) -> ApiKey:
        """One of the holder's keys, or 404."""
        return get_object_or_404(
            ApiKey.objects.select_related("project", "owner", "created_by", "revoked_by", "rotated_from", "rotated_to"),
            key_id=key_id,
            **self.holder_filter(),
        )

    def url(self, name: str, *args) -> str:
        """A key page's URL, e.g. url("key_revoke", key_id)."""
        raise NotImplementedError

    def page_context(self) -> dict:
        """What the holder's page around the key list needs (tabs, title, gate, rights)."""
        raise NotImplementedError

    def create_form(self, data) -> ApiKeyCreateForm:
        return self.create_form_class(data)

    def holder_of_new_key(self, data: dict) -> dict:
        """Whom a new key belongs to, as `api_key_create` takes it, from the Generate form's data."""
        raise NotImplementedError

    def create(self, data: dict, actor: Actor) -> tuple[ApiKey, str]:
        return api_key_create(
            **self.holder_of_new_key(data),
            name=data["name"],
            permissions=data["permissions"],
            expiry_rule=data["expiration"],
            expires_on=data["expires_on"],
            allowed_ips=data.get("allowed_ips", ""),
            actor=actor,
        )

    def example_url(self, request, key: ApiKey) -> str:
        """The URL of the example call shown with a new key."""
        raise NotImplementedError

    def detail_context(self, key: ApiKey) -> dict:
        raise NotImplementedError

    def panel_context(self) -> dict:
        now = timezone.now()
        # Which keys hold a place is decided by the limit's own rule (`counted_toward_limit`, as a
        # subquery of this one query), so the counter and the limit the services enforce agree.
        holds_place = Exists(ApiKey.objects.counted_toward_limit(now).filter(pk=OuterRef("pk")))
        rows = list(self.keys().annotate(holds_place=holds_place))
        counted = {k.pk for k in rows if k.holds_place}
        for row in rows:
            row.list_status = key_list.list_status(row, now)
        query = self.list_query
        all_keys = lineage_order(rows)
        matched = all_keys if query.is_default else query.apply(rows, now)
        pager = key_list.paginate(matched, query)
        keys = pager.keys
        # The counter and the badges agree: "N of 10 active" counts the places under the limit (the
        # Active badges); a Rotating key shares its successor's place ("M rotating out").
        active_count = len(counted)
        rotating_count = sum(1 for k in all_keys if k.status_at(now) == Status.ROTATING and k.pk not in counted)
        return {
            **self.page_context(),
            "tab": "api_keys",
            "keys": keys,
            "rotating_count": rotating_count,
            "now": now,
            "active_count": active_count,
            "key_limit": self.key_limit,
            "at_key_limit": active_count >= self.key_limit,
            "list_query": query,
            "pager": pager,
            "matched_count": len(matched),
            "total_count": len(rows),
            "list_choices": {
                "status": key_list.STATUS_CHOICES,
                "kind": key_list.KIND_CHOICES,
                "expires": key_list.EXPIRES_CHOICES,
                "created_by": key_list.creators(rows),
            },
            "sort_choices": key_list.SORT_CHOICES,
            "sort_columns": {
                column: {"label": label, "href": "?" + query.sort_link(column), "aria": query.aria_sort(column)}
                for column, label in key_list.SORT_COLUMNS.items()
            },
            "revocable_count": sum(1 for k in keys if k.list_status in ("active", "rotating", "disabled")),
        }


class ProjectKeys(KeyHolder):
    """A project's keys: its API Key tab (`/projects/<slug>/keys/`)."""

    page = "keys/api_keys.html"
    dialog_page = "keys/key/dialog_page.html"
    detail_page = "keys/key/detail_page.html"

    @property
    def key_limit(self):
        return settings.API_KEY_MAX_ACTIVE_PER_PROJECT

    def __init__(self, membership: Membership):
        self.membership = membership
        self.project = membership.project

    def keys(self):
        return ApiKey.objects.filter(project=self.project).select_related("created_by", "rotated_from", "rotated_to")

    def holder_filter(self):
        return {"project": self.project}

    def url(self, name, *args):
        return reverse(f"project_keys:{name}", args=[self.project.slug, *args])

    def page_context(self):
        return {
            "membership": self.membership,
            "project": self.project,
            "gate": question_gate(self.project),
            "can_manage": self.membership.can_manage,
        }

    def create_form(self, data):
        if data is None and self.project.is_sandbox:  # a Sandbox's Generate starts with a name
            taken = ApiKey.objects.filter(project=self.project).usable().values_list("name", flat=True)
            form = self.create_form_class(initial={"name": default_key_name(self.project, taken)})
        else:
            form = self.create_form_class(data)
        offer_within_policy(form, [policy_of(self.project)], project_key=True)  # keys/policy.py
        return form

    def panel_context(self):
        """The key list, each key with why it is Out of policy (keys/policy.py), and the personal
        keys that asked for approval here."""
        context = super().panel_context()
        policy = policy_of(self.project)
        now = context["now"]
        for key in context["keys"]:
            key.policy_reasons = key_policy.out_of_policy_reasons(key, policy, now) if key.authenticates else []
        return {**context, **self.approvals_context(policy)}

    def approvals_context(self, policy=None) -> dict:
        """The API Key tab's Pending approval (and the decided ones), when the policy asks for it."""
        policy = policy or policy_of(self.project)
        approvals = list(key_policy.approvals_of(self.project)) if policy.approval_required else []
        return {
            "approval_required": policy.approval_required,
            "pending_approvals": [a for a in approvals if a.state == "pending"],
            "decided_approvals": [a for a in approvals if a.state != "pending"],
        }

    def holder_of_new_key(self, data):
        return {"project": self.project}

    def example_url(self, request, key):
        return request.build_absolute_uri("/api/v1/key")

    def detail_context(self, key):
        return {
            "membership": self.membership,
            "project": self.project,
            "tab": "api_keys",
            "key": key,
            "events": KeyEvent.objects.filter(project=self.project, key_id=key.key_id)[:8],
            "policy_reasons": key_policy.out_of_policy_reasons(key, policy_of(self.project))
            if key.authenticates
            else [],
        }


class AccountKeys(KeyHolder):
    """A person's own keys, for several projects: Account → API keys (`/account/api-keys/`)."""

    page = "keys/account_api_keys.html"
    dialog_page = "keys/account_dialog_page.html"
    detail_page = "keys/account_detail_page.html"
    create_form_class = AccountKeyCreateForm
    # Account keys are not gated when made; each call is (403 `project_locked`).
    OPEN_GATE = {"unlocked": True}

    def __init__(self, user):
        self.user = user

    @property
    def key_limit(self):
        return settings.API_KEY_MAX_ACTIVE_PER_ACCOUNT

    def keys(self):
        return (
            ApiKey.objects.filter(owner=self.user)
            .select_related("created_by", "rotated_from", "rotated_to")
            .prefetch_related("scope_projects")
        )

    def holder_filter(self):
        return {"owner": self.user}

    def url(self, name, *args):
        return reverse(f"account_keys:{name}", args=list(args))

    def page_context(self):
        return {"title": "Personal API keys", "account_page": True, "gate": self.OPEN_GATE, "can_manage": True}

    def create_form(self, data):
        form = AccountKeyCreateForm(data, user=self.user)
        # Offered within the strictest maximum lifetime of the projects "All my projects" reaches.
        offer_within_policy(form, key_policy.reached_policies(owner=self.user, all_projects=True), project_key=False)
        return form

    def holder_of_new_key(self, data):
        return {
            "owner": self.user,
            "all_projects": data["scope"] == AccountKeyCreateForm.SCOPE_ALL,
            "projects": list(data["projects"]),
        }

    def example_url(self, request, key):
        first = projects_in_scope(key).first()  # the example call names a project the key reaches
        slug = first.slug if first is not None else "SLUG"
        return request.build_absolute_uri(f"/api/v1/projects/{slug}/questions")

    def panel_context(self):
        """The key list, each personal key with why it breaks the policy of a project it reaches."""
        context = super().panel_context()
        for key in context["keys"]:
            key.policy_reasons = (
                key_policy.personal_key_policy_reasons(key, self.reached_policies, context["now"])
                if key.authenticates
                else []
            )
        return context

    @cached_property
    def reached_policies(self):
        """The policies of every project the holder could reach: read once for the list and Details."""
        return key_policy.reached_policies(owner=self.user, all_projects=True)

    def detail_context(self, key):
        reach = []
        for project in projects_in_scope(key):
            membership = project.memberships.get(user=self.user)
            membership.unlocked = question_gate(project).unlocked
            membership.approval = key_policy.approval_state(key, project)  # None: not asked there
            reach.append(membership)
        return {
            **self.panel_context(),
            "key": key,
            "reach": reach,
            "events": KeyEvent.objects.filter(account=self.user, key_id=key.key_id).select_related("project")[:8],
            "project_usage": usage_by_project(key),
            "policy_reasons": key_policy.personal_key_policy_reasons(key, self.reached_policies)
            if key.authenticates
            else [],
        }


def key_holder(request, slug: str | None = None, *, manage: bool = False) -> KeyHolder:
    """The holder a key view acts for: the project of `slug` (with the right to manage its keys
    when `manage`; else 403 / 404 as `membership_for` decides), or the signed-in person."""
    holder: KeyHolder = (
        AccountKeys(request.user) if slug is None else ProjectKeys(membership_for(request, slug, manage=manage))
    )
    holder.list_query = key_list.KeyListQuery.from_request(request)
    return holder
