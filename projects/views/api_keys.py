"""The API Key tab: one view per action; each answers htmx with fragments, plain posts with pages.

The plaintext of a key exists in exactly one response, the reveal (after generate or rotate):
that response is `no-store`, the plaintext never enters a URL, the session, `messages` or a
log, and `sensitive_variables` keeps it out of error reports.
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

from ..access import membership_for
from ..actors import Actor
from ..errors import KeyRuleError
from ..forms import ApiKeyCreateForm, ApiKeyEditForm, RotateForm
from ..gate import question_gate
from ..models import ApiKey, KeyEvent
from ..models.api_key import Status
from ..services import api_key_create, api_key_delete, api_key_revoke, api_key_rotate, api_key_update
from ..usage_chart import usage_chart

PAGE = "projects/api_keys.html"


def lineage_order(keys: list[ApiKey]) -> list[ApiKey]:
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


def _panel_context(membership) -> dict:
    project = membership.project
    keys = lineage_order(
        list(ApiKey.objects.filter(project=project).select_related("created_by", "rotated_from", "rotated_to"))
    )
    now = timezone.now()
    # The counter and the badges agree: "N of 10 active" counts the places under the limit (the
    # Active badges); a Rotating key shares its successor's place ("M rotating out").
    active_count = sum(1 for k in keys if k.holds_limit_place_at(now))
    rotating_count = sum(1 for k in keys if k.status_at(now) == Status.ROTATING and not k.holds_limit_place_at(now))
    limit = settings.API_KEY_MAX_ACTIVE_PER_PROJECT
    return {
        "membership": membership,
        "project": project,
        "tab": "api_keys",
        "keys": keys,
        "rotating_count": rotating_count,
        "now": now,
        "gate": question_gate(project),
        "active_count": active_count,
        "key_limit": limit,
        "at_key_limit": active_count >= limit,
        "can_manage": membership.can_manage,
    }


def _key_for(membership, key_id: str) -> ApiKey:
    return get_object_or_404(
        ApiKey.objects.select_related("project", "created_by", "revoked_by", "rotated_from", "rotated_to"),
        project=membership.project,
        key_id=key_id,
    )


def _dialog(request, membership, template: str, context: dict, status: int = 200):
    """A dialog: the fragment for htmx, or a full page holding it (without JavaScript)."""
    context = {**_panel_context(membership), **context}
    if request.htmx:
        return render(request, template, context, status=status)
    return render(
        request,
        "projects/keys/dialog_page.html",
        {**context, "dialog_template": template, "as_page": True},
        status=status,
    )


CONFIRMATIONS = {
    "revoke": (
        "Revoke “{name}”?",
        "Applications using {masked} ({key_id}) will be refused from their next request. Revoking cannot be "
        "undone; the key stays in the list as Revoked.",
        "Revoke key",
    ),
    "delete": (
        "Delete “{name}”?",
        "The key {masked} ({key_id}) is removed for good{stops}. Its events stay in the event log.",
        "Delete key",
    ),
}


def _confirm(request, membership, key: ApiKey, action: str, *, error: str | None = None):
    """The confirmation dialog of a revoke or a delete."""
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
        "url": reverse(f"projects:key_{action}", args=[membership.project.slug, key.key_id]),
    }
    return _dialog(
        request,
        membership,
        "projects/keys/confirm_dialog.html",
        {"key": key, "action": action, "confirm": confirm, "error": error},
        422 if error else 200,
    )


def _after_change(request, membership, message: str, *, focus_next: str):
    """After revoke / delete / edit: htmx gets the new key panel (out of band), the message, an empty
    modal, and where the keyboard focus goes next (a CSS selector: the changed row, or Generate)."""
    if request.htmx:
        return render(
            request,
            "projects/keys/changed.html",
            {**_panel_context(membership), "flash": message, "focus_next": focus_next},
        )
    messages.success(request, message)
    return redirect("projects:api_keys", slug=membership.project.slug)


@sensitive_variables("plaintext")
def _reveal(request, membership, key: ApiKey, plaintext: str, *, rotated: ApiKey | None = None):
    context = {
        **_panel_context(membership),
        "new_key": key,
        "plaintext": plaintext,
        "rotated": rotated,
        "curl_url": request.build_absolute_uri("/api/v1/key"),
    }
    if request.htmx:
        return render(request, "projects/keys/reveal_response.html", context)
    return render(request, PAGE, {**context, "reveal_inline": True})


@login_required
@require_GET
def api_keys(request, slug):
    membership = membership_for(request, slug)
    template = PAGE + "#keys-panel" if request.htmx else PAGE
    return render(request, template, _panel_context(membership))


@never_cache
@sensitive_variables("plaintext")
@login_required
@confirm_access_required
@require_http_methods(["GET", "POST"])
def key_new(request, slug):
    membership = membership_for(request, slug, manage=True)
    form = ApiKeyCreateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            key, plaintext = api_key_create(
                project=membership.project,
                name=data["name"],
                permissions=data["permissions"],
                expiry_rule=data["expiration"],
                expires_on=data["expires_on"],
                actor=Actor.from_request(request),
            )
        except KeyRuleError as exc:
            form.add_rule_errors(exc)
        else:
            return _reveal(request, membership, key, plaintext)
    status = 422 if form.errors else 200
    return _dialog(request, membership, "projects/keys/generate_dialog.html", {"form": form}, status)


@login_required
@require_GET
def key_detail(request, slug, key_id):
    membership = membership_for(request, slug)
    key = _key_for(membership, key_id)
    context = {
        "membership": membership,
        "project": membership.project,
        "tab": "api_keys",
        "key": key,
        "events": KeyEvent.objects.filter(project=membership.project, key_id=key.key_id)[:8],
        "chart": usage_chart(key),
    }
    if request.htmx:
        return render(request, "projects/keys/details.html", context)
    return render(request, "projects/keys/detail_page.html", context)


@never_cache
@sensitive_variables("plaintext")
@login_required
@confirm_access_required
@require_http_methods(["GET", "POST"])
def key_rotate(request, slug, key_id):
    membership = membership_for(request, slug, manage=True)
    key = _key_for(membership, key_id)
    form = RotateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            new_key, plaintext = api_key_rotate(
                key=key, actor=Actor.from_request(request), grace=form.cleaned_data["grace"]
            )
        except KeyRuleError as exc:
            form.add_error(None, exc.message)
        else:
            # new_key.rotated_from is the old key as the rotation left it (revoked, or its grace end set);
            # `key` was read before and would claim the old key already stopped working.
            return _reveal(request, membership, new_key, plaintext, rotated=new_key.rotated_from)
    status = 422 if form.errors else 200
    return _dialog(request, membership, "projects/keys/rotate_dialog.html", {"key": key, "form": form}, status)


@login_required
@require_http_methods(["GET", "POST"])
def key_revoke(request, slug, key_id):
    membership = membership_for(request, slug, manage=True)
    key = _key_for(membership, key_id)
    error = None
    if request.method == "POST":
        try:
            api_key_revoke(key=key, actor=Actor.from_request(request))
        except KeyRuleError as exc:
            error = exc.message
        else:
            return _after_change(
                request,
                membership,
                f"Key “{key.name}” ({key.key_id}) was revoked. It stopped working.",
                focus_next=f"#key-{key.key_id}",
            )
    return _confirm(request, membership, key, "revoke", error=error)


@login_required
@require_http_methods(["GET", "POST"])
def key_delete(request, slug, key_id):
    membership = membership_for(request, slug, manage=True)
    key = _key_for(membership, key_id)
    if request.method == "POST":
        api_key_delete(key=key, actor=Actor.from_request(request))
        return _after_change(
            request,
            membership,
            f"Key “{key.name}” ({key.key_id}) was deleted.",
            focus_next="#generate-button:not([disabled]), #flash",
        )
    return _confirm(request, membership, key, "delete")


@login_required
@confirm_access_required
@require_http_methods(["GET", "POST"])
def key_edit(request, slug, key_id):
    membership = membership_for(request, slug, manage=True)
    key = _key_for(membership, key_id)
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
                membership,
                f"Key “{key.name}” ({key.key_id}) was saved. The change applies from its next request.",
                focus_next=f"#key-{key.key_id}",
            )
    status = 422 if form.errors else 200
    return _dialog(request, membership, "projects/keys/edit_dialog.html", {"key": key, "form": form}, status)
