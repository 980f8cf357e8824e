"""The key pages: a project's API Key tab (`/projects/<slug>/keys/…`) and Account → API keys
(`/account/api-keys/…`). One view per action, written once: the URL says whose keys (a `slug`, or
none for the signed-in person's) and `key_holders.key_holder` supplies what differs. Each view
answers htmx with fragments and plain posts with pages.

The plaintext of a key exists in exactly one response, the reveal (after generate or rotate):
that response is `no-store`, the plaintext never enters a URL, the session, `messages` or a
log, and `sensitive_variables` keeps it out of error reports.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods

from keys.forms import AccountKeyEditForm, ApiKeyEditForm, RotateForm
from keys.models import ApiKey
from keys.policy_forms import offer_within_policy
from keys.services import (
    api_key_delete,
    api_key_disable,
    api_key_enable,
    api_key_revoke,
    api_key_revoke_many,
    api_key_revoke_with_predecessor,
    api_key_rotate,
    api_key_update,
    rotating_predecessor,
    successor_expiry,
)
from keys.usage import key_usage_by_endpoint, recent_addresses
from keys.usage_chart import usage_chart
from projects.actors import Actor
from projects.errors import RuleError
from projects.policy import policy_of

from .key_holders import KeyHolder, key_holder

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
    "disable": (
        "Disable “{name}”?",
        "Applications using {masked} ({key_id}) will be refused (401 disabled_api_key) from their next request, "
        "until you enable it again. Nothing else changes: it keeps its permissions, expiry and its place among "
        "the active keys.",
        "Disable key",
    ),
    "enable": (
        "Enable “{name}”?",
        "{masked} ({key_id}) works again from its next request, with its permissions, expiry and limits as they were.",
        "Enable key",
    ),
}


def _dialog(request, holder: KeyHolder, template: str, context: dict, status: int = 200):
    """A dialog: the fragment for htmx, or a full page holding it (without JavaScript)."""
    context = {**holder.panel_context(), **context}
    if request.htmx:
        return render(request, template, context, status=status)
    return render(request, holder.dialog_page, {**context, "dialog_template": template, "as_page": True}, status=status)


def _confirm(request, holder: KeyHolder, key: ApiKey, action: str, *, error: str | None = None):
    """The confirmation dialog of a revoke or a delete."""
    title, body, button = CONFIRMATIONS[action]
    facts = {
        "name": key.name,
        "masked": key.masked,
        "key_id": key.key_id,
        "stops": " and stops working at once" if key.authenticates else "",
    }
    confirm = {
        # The name is the person's text: isolated for direction (<bdi>), escaped by format_html.
        "title": format_html(title.replace("{name}", "<bdi>{name}</bdi>"), name=key.name),
        "body": body.format(**facts),
        "button": button,
        "url": holder.url(f"key_{action}", key.key_id),
    }
    predecessor = rotating_predecessor(key) if action == "revoke" and key.authenticates else None
    if predecessor is not None:
        # Revoking the successor alone would leave only the old key, and only until its grace ends.
        confirm["warning"] = (
            f"This key replaced {predecessor.masked} ({predecessor.key_id}), which still works until "
            f"{predecessor.stops_at:%Y-%m-%d %H:%M} UTC. Revoking only this key leaves that one working until "
            "then, and then no key at all. If the key leaked, revoke both."
        )
        confirm["both_button"] = "Revoke both keys"
    return _dialog(
        request,
        holder,
        "keys/key/confirm_dialog.html",
        {"key": key, "action": action, "confirm": confirm, "error": error},
        422 if error else 200,
    )


def _after_change(request, holder: KeyHolder, message: str, *, focus_next: str):
    """After revoke / delete / edit: htmx gets the new key panel (out of band), the message, an empty
    modal, and where the keyboard focus goes next (a CSS selector: the changed row, or Generate)."""
    if request.htmx:
        return render(
            request,
            "keys/key/changed.html",
            {**holder.panel_context(), "flash": message, "focus_next": focus_next},
        )
    messages.success(request, message)
    return redirect(holder.url("api_keys"))


@sensitive_variables("plaintext")
def _reveal(request, holder: KeyHolder, key: ApiKey, plaintext: str, *, rotated: ApiKey | None = None):
    context = {
        **holder.panel_context(),
        "new_key": key,
        "plaintext": plaintext,
        "rotated": rotated,
        "curl_url": holder.example_url(request, key),
    }
    if request.htmx:
        return render(request, "keys/key/reveal_response.html", context)
    return render(request, holder.page, {**context, "reveal_inline": True})


@login_required
@require_GET
def api_keys(request, slug=None):
    holder = key_holder(request, slug)
    if request.htmx and request.headers.get("HX-Target") == "key-results":  # the Search keys form
        return render(request, holder.results_fragment, holder.panel_context())
    return render(request, holder.list_fragment if request.htmx else holder.page, holder.panel_context())


@never_cache
@sensitive_variables("plaintext")
@login_required
@require_http_methods(["GET", "POST"])
def key_new(request, slug=None):
    holder = key_holder(request, slug, manage=True)
    form = holder.create_form(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            key, plaintext = holder.create(form.cleaned_data, Actor.from_request(request))
        except RuleError as exc:
            form.add_rule_errors(exc)
        else:
            return _reveal(request, holder, key, plaintext)
    status = 422 if form.errors else 200
    return _dialog(request, holder, "keys/key/generate_dialog.html", {"form": form}, status)


@login_required
@require_GET
def key_detail(request, key_id, slug=None):
    holder = key_holder(request, slug)
    key = holder.key(key_id)
    context = {
        **holder.detail_context(key),
        "chart": usage_chart(key),
        "endpoints": key_usage_by_endpoint(key),
        "addresses": recent_addresses(key),
    }
    if request.htmx:
        return render(request, "keys/key/details.html", context)
    return render(request, holder.detail_page, context)


@never_cache
@sensitive_variables("plaintext")
@login_required
@require_http_methods(["GET", "POST"])
def key_rotate(request, key_id, slug=None):
    holder = key_holder(request, slug, manage=True)
    key = holder.key(key_id)
    form = RotateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            new_key, plaintext = api_key_rotate(
                key=key, actor=Actor.from_request(request), grace=form.cleaned_data["grace"]
            )
        except RuleError as exc:
            form.add_error(None, exc.message)
        else:
            # new_key.rotated_from is the old key as the rotation left it (revoked, or its grace end set);
            # `key` was read before and would claim the old key already stopped working.
            return _reveal(request, holder, new_key, plaintext, rotated=new_key.rotated_from)
    status = 422 if form.errors else 200
    # Rotating ends the grace period of the key this one replaced, if it still works (a lineage
    # keeps at most two working keys): the dialog says so, as the Revoke dialog does.
    predecessor = rotating_predecessor(key) if key.can_rotate else None
    # A key policy set since the key was made shortens its successor's life: said before rotating.
    _, successor_expires_at, shortened_by = successor_expiry(key, timezone.now()) if key.can_rotate else (None,) * 3
    context = {
        "key": key,
        "form": form,
        "predecessor": predecessor,
        "shortened_by": shortened_by,
        "successor_expires_at": successor_expires_at,
    }
    return _dialog(request, holder, "keys/key/rotate_dialog.html", context, status)


@login_required
@require_http_methods(["GET", "POST"])
def key_revoke(request, key_id, slug=None):
    holder = key_holder(request, slug, manage=True)
    key = holder.key(key_id)
    error = None
    if request.method == "POST":
        try:
            if request.POST.get("also") == "predecessor":
                revoked = api_key_revoke_with_predecessor(key=key, actor=Actor.from_request(request))
            else:
                revoked = [api_key_revoke(key=key, actor=Actor.from_request(request))]
        except RuleError as exc:
            error = exc.message
        else:
            message = f"Key “{key.name}” ({key.key_id}) was revoked. It stopped working."
            if len(revoked) > 1:
                message = (
                    f"Key “{key.name}” ({key.key_id}) and the key it replaced ({revoked[1].key_id}) were revoked. "
                    "Both stopped working."
                )
            return _after_change(request, holder, message, focus_next=f"#key-{key.key_id}")
    return _confirm(request, holder, key, "revoke", error=error)


@login_required
@require_http_methods(["GET", "POST"])
def key_delete(request, key_id, slug=None):
    holder = key_holder(request, slug, manage=True)
    key = holder.key(key_id)
    if request.method == "POST":
        api_key_delete(key=key, actor=Actor.from_request(request))
        return _after_change(
            request,
            holder,
            f"Key “{key.name}” ({key.key_id}) was deleted.",
            focus_next="#generate-button:not([disabled]), #flash",
        )
    return _confirm(request, holder, key, "delete")


@login_required
@require_http_methods(["GET", "POST"])
def key_edit(request, key_id, slug=None):
    holder = key_holder(request, slug, manage=True)
    key = holder.key(key_id)
    data = request.POST if request.method == "POST" else None
    if key.is_account_key:
        form: ApiKeyEditForm = AccountKeyEditForm(
            data, key=key, user=request.user, default_rate_limit=settings.API_KEY_RATE_LIMIT_PER_MINUTE
        )
    else:
        form = ApiKeyEditForm(data, key=key, default_rate_limit=settings.API_KEY_RATE_LIMIT_PER_MINUTE)
        offer_within_policy(form, [policy_of(key.project)], project_key=True)  # the key policy (keys/policy.py)
    if request.method == "POST" and form.is_valid():
        cleaned = form.cleaned_data
        scope = form.scope_change() if isinstance(form, AccountKeyEditForm) else {}
        try:
            key = api_key_update(
                key=key,
                actor=Actor.from_request(request),
                name=cleaned["name"],
                permissions=cleaned["permissions"],
                rate_limit_per_minute=cleaned["rate_limit_per_minute"],
                allowed_ips=cleaned["allowed_ips"],
                **scope,
            )
        except RuleError as exc:
            form.add_rule_errors(exc)
        else:
            return _after_change(
                request,
                holder,
                f"Key “{key.name}” ({key.key_id}) was saved. The change applies from its next request.",
                focus_next=f"#key-{key.key_id}",
            )
    status = 422 if form.errors else 200
    return _dialog(request, holder, "keys/key/edit_dialog.html", {"key": key, "form": form}, status)


def _pause(request, key_id, slug, action: str):
    """Disable or Enable one key: a confirmation, then the service (`api_key_disable` /
    `api_key_enable`); the row changes in place."""
    holder = key_holder(request, slug, manage=True)
    key = holder.key(key_id)
    error = None
    if request.method == "POST":
        service = api_key_disable if action == "disable" else api_key_enable
        try:
            service(key=key, actor=Actor.from_request(request))
        except RuleError as exc:
            error = exc.message
        else:
            message = (
                f"Key “{key.name}” ({key.key_id}) was disabled. It is refused until you enable it."
                if action == "disable"
                else f"Key “{key.name}” ({key.key_id}) was enabled. It works again from its next request."
            )
            return _after_change(request, holder, message, focus_next=f"#key-{key.key_id}")
    return _confirm(request, holder, key, action, error=error)


@login_required
@require_http_methods(["GET", "POST"])
def key_disable(request, key_id, slug=None):
    """Not behind Confirm access: like revoking, it only stops a key (and a paused key is often a
    suspected leak, where a password prompt would only delay the owner)."""
    return _pause(request, key_id, slug, "disable")


@login_required
@require_http_methods(["GET", "POST"])
def key_enable(request, key_id, slug=None):
    """Behind Confirm access: it makes a stopped credential work again, like generating one."""
    return _pause(request, key_id, slug, "enable")


BULK_MAX = 100  # keys in one Revoke selected (a page of the list holds fewer)


@login_required
@require_http_methods(["GET", "POST"])
def keys_revoke_selected(request, slug=None):
    """**Revoke selected**: the list's checked keys (`key`, repeated), named in one confirmation
    (GET), then revoked together (POST: `api_key_revoke_many`, one event per key). Never held back
    by Confirm access (revoking never is)."""
    holder = key_holder(request, slug, manage=True)
    data = request.POST if request.method == "POST" else request.GET
    wanted = list(dict.fromkeys(data.getlist("key")))[:BULK_MAX]
    chosen = [key for key in holder.keys().filter(key_id__in=wanted) if key.authenticates]
    context = {"chosen": chosen, "url": holder.url("keys_revoke_selected"), "back": holder.url("api_keys")}
    if not chosen:
        context["error"] = "Choose at least one working key to revoke (tick its box in the list)."
        return _dialog(
            request,
            holder,
            "keys/key/bulk_revoke_dialog.html",
            context,
            422 if wanted or request.method == "POST" else 200,
        )
    if request.method == "POST":
        revoked = api_key_revoke_many(keys=chosen, actor=Actor.from_request(request))
        ids = ", ".join(k.key_id for k in revoked)
        count = len(revoked)
        message = f"{count} key{'s' if count != 1 else ''} revoked ({ids}). They stopped working."
        first = f"#key-{revoked[0].key_id}" if revoked else "#flash"
        return _after_change(request, holder, message, focus_next=first)
    return _dialog(request, holder, "keys/key/bulk_revoke_dialog.html", context)
