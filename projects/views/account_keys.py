"""Account → API keys and Account → Security log: a person's own keys, for several projects.

The same services (projects/services.py), dialogs and panel (templates/projects/keys/, the
`keys-panel` partial) as a project's API Key tab; only the holder differs: the signed-in person.
The plaintext of a key exists in exactly one response, the reveal (`no-store`, never in a URL,
the session, `messages` or a log).
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods

from accounts.reauth import confirm_access_required
from api.usage import usage_by_project

from ..actors import Actor
from ..errors import KeyRuleError
from ..forms import AccountKeyCreateForm, ApiKeyEditForm, RotateForm
from ..gate import question_gate
from ..models import ApiKey, KeyEvent
from ..models.api_key import Status
from ..services import (
    api_key_create,
    api_key_delete,
    api_key_revoke,
    api_key_rotate,
    api_key_update,
    projects_in_scope,
)
from ..usage_chart import usage_chart
from .api_keys import CONFIRMATIONS, lineage_order

PAGE = "account_keys/api_keys.html"
OPEN_GATE = {"unlocked": True}  # account keys are not gated at generation; each call is (project_locked)


def _panel_context(request) -> dict:
    keys = lineage_order(
        list(
            ApiKey.objects.filter(owner=request.user)
            .select_related("created_by", "rotated_from", "rotated_to")
            .prefetch_related("scope_projects")
        )
    )
    now = timezone.now()
    active_count = sum(1 for k in keys if k.holds_limit_place_at(now))
    rotating_count = sum(1 for k in keys if k.status_at(now) == Status.ROTATING and not k.holds_limit_place_at(now))
    limit = settings.API_KEY_MAX_ACTIVE_PER_ACCOUNT
    return {
        "title": "API keys",
        "tab": "api_keys",
        "account_page": True,
        "keys": keys,
        "rotating_count": rotating_count,
        "now": now,
        "gate": OPEN_GATE,
        "active_count": active_count,
        "key_limit": limit,
        "at_key_limit": active_count >= limit,
        "can_manage": True,
    }


def _key_for(request, key_id: str) -> ApiKey:
    return get_object_or_404(
        ApiKey.objects.select_related("owner", "created_by", "revoked_by", "rotated_from", "rotated_to"),
        owner=request.user,
        key_id=key_id,
    )


def _dialog(request, template: str, context: dict, status: int = 200):
    context = {**_panel_context(request), **context}
    if request.htmx:
        return render(request, template, context, status=status)
    return render(
        request,
        "account_keys/dialog_page.html",
        {**context, "dialog_template": template, "as_page": True},
        status=status,
    )


def _confirm(request, key: ApiKey, action: str, *, error: str | None = None):
    title, body, button = CONFIRMATIONS[action]
    facts = {
        "name": key.name,
        "masked": key.masked,
        "key_id": key.key_id,
        "stops": " and stops working at once" if key.authenticates else "",
    }
    confirm = {
        "title": title.format(**facts),
        "body": body.format(**facts),
        "button": button,
        "url": reverse(f"account:key_{action}", args=[key.key_id]),
    }
    return _dialog(
        request,
        "projects/keys/confirm_dialog.html",
        {"key": key, "action": action, "confirm": confirm, "error": error},
        422 if error else 200,
    )


def _after_change(request, message: str, *, focus_next: str):
    if request.htmx:
        return render(
            request,
            "projects/keys/changed.html",
            {**_panel_context(request), "flash": message, "focus_next": focus_next},
        )
    messages.success(request, message)
    return redirect("account:api_keys")


@sensitive_variables("plaintext")
def _reveal(request, key: ApiKey, plaintext: str, *, rotated: ApiKey | None = None):
    first = projects_in_scope(key).first()  # the example call names a project the key reaches
    slug = first.slug if first is not None else "SLUG"
    context = {
        **_panel_context(request),
        "new_key": key,
        "plaintext": plaintext,
        "rotated": rotated,
        "curl_url": request.build_absolute_uri(f"/api/v1/projects/{slug}/questions"),
    }
    if request.htmx:
        return render(request, "projects/keys/reveal_response.html", context)
    return render(request, PAGE, {**context, "reveal_inline": True})


@login_required
@require_GET
def api_keys(request):
    template = "projects/api_keys.html#keys-panel" if request.htmx else PAGE
    return render(request, template, _panel_context(request))


@never_cache
@sensitive_variables("plaintext")
@login_required
@confirm_access_required
@require_http_methods(["GET", "POST"])
def key_new(request):
    form = AccountKeyCreateForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            key, plaintext = api_key_create(
                owner=request.user,
                all_projects=data["scope"] == form.SCOPE_ALL,
                projects=list(data["projects"]),
                name=data["name"],
                permissions=data["permissions"],
                expiry_rule=data["expiration"],
                expires_on=data["expires_on"],
                actor=Actor.from_request(request),
            )
        except KeyRuleError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return _reveal(request, key, plaintext)
    status = 422 if form.errors else 200
    return _dialog(request, "projects/keys/generate_dialog.html", {"form": form}, status)


@login_required
@require_GET
def key_detail(request, key_id):
    key = _key_for(request, key_id)
    reach = []
    for project in projects_in_scope(key):
        membership = project.memberships.get(user=request.user)
        membership.unlocked = question_gate(project).unlocked
        reach.append(membership)
    context = {
        **_panel_context(request),
        "key": key,
        "reach": reach,
        "events": KeyEvent.objects.filter(account=request.user, key_id=key.key_id).select_related("project")[:8],
        "chart": usage_chart(key),
        "project_usage": usage_by_project(key),
    }
    if request.htmx:
        return render(request, "projects/keys/details.html", context)
    return render(request, "account_keys/detail_page.html", context)


@never_cache
@sensitive_variables("plaintext")
@login_required
@confirm_access_required
@require_http_methods(["GET", "POST"])
def key_rotate(request, key_id):
    key = _key_for(request, key_id)
    form = RotateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            new_key, plaintext = api_key_rotate(
                key=key, actor=Actor.from_request(request), grace=form.cleaned_data["grace"]
            )
        except KeyRuleError as exc:
            form.add_error(None, exc.message)
        else:
            return _reveal(request, new_key, plaintext, rotated=new_key.rotated_from)
    status = 422 if form.errors else 200
    return _dialog(request, "projects/keys/rotate_dialog.html", {"key": key, "form": form}, status)


@login_required
@require_http_methods(["GET", "POST"])
def key_revoke(request, key_id):
    key = _key_for(request, key_id)
    error = None
    if request.method == "POST":
        try:
            api_key_revoke(key=key, actor=Actor.from_request(request))
        except KeyRuleError as exc:
            error = exc.message
        else:
            return _after_change(
                request,
                f"Key “{key.name}” ({key.key_id}) was revoked. It stopped working.",
                focus_next=f"#key-{key.key_id}",
            )
    return _confirm(request, key, "revoke", error=error)


@login_required
@require_http_methods(["GET", "POST"])
def key_delete(request, key_id):
    key = _key_for(request, key_id)
    if request.method == "POST":
        api_key_delete(key=key, actor=Actor.from_request(request))
        return _after_change(
            request,
            f"Key “{key.name}” ({key.key_id}) was deleted.",
            focus_next="#generate-button:not([disabled]), #flash",
        )
    return _confirm(request, key, "delete")


@login_required
@confirm_access_required
@require_http_methods(["GET", "POST"])
def key_edit(request, key_id):
    key = _key_for(request, key_id)
    form = ApiKeyEditForm(
        request.POST if request.method == "POST" else None,
        key=key,
        default_rate_limit=settings.API_KEY_RATE_LIMIT_PER_MINUTE,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            key = api_key_update(
                key=key,
                actor=Actor.from_request(request),
                name=data["name"],
                permissions=data["permissions"],
                rate_limit_per_minute=data["rate_limit_per_minute"],
            )
        except KeyRuleError as exc:
            form.add_rule_errors(exc)
        else:
            return _after_change(
                request,
                f"Key “{key.name}” ({key.key_id}) was saved. The change applies from its next request.",
                focus_next=f"#key-{key.key_id}",
            )
    status = 422 if form.errors else 200
    return _dialog(request, "projects/keys/edit_dialog.html", {"key": key, "form": form}, status)


@login_required
@require_GET
def security_log(request):
    events = KeyEvent.objects.filter(account=request.user).select_related("project")
    key_filter = request.GET.get("key", "").strip()[:32]
    if key_filter:
        events = events.filter(key_id=key_filter)
    return render(
        request,
        "account_keys/security_log.html",
        {
            "title": "Security log",
            "tab": "security_log",
            "events": events[:200],
            "key_filter": key_filter,
        },
    )
