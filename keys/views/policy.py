"""A project's Settings tab (Key policy) and the approval of personal keys (API Key tab).

Everyone in the project reads the policy; the owner changes it (Confirm access on submit). Owners
and admins approve or deny personal keys. The rules are `keys.policy`'s; these views only show
them and hand over what was chosen. Each answers htmx with the part that changed and plain posts
with a page (or a redirect to one).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from keys import policy as rules
from keys import policy_actions, settings_sections
from keys.models import ApiKey
from keys.policy_forms import KeyPolicyForm
from keys.views.key_holders import ProjectKeys
from keys_console.errors import Refused
from projects.access import membership_for
from projects.actors import Actor
from projects.models import Role
from projects.policy import policy_of
from projects.views.confirm import Confirmation, confirm

PAGE = "keys/settings/settings.html"
POLICY_SECTION = "keys/settings/_key_policy.html"


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _context(membership, form=None) -> dict:
    project = membership.project
    policy = policy_of(project)
    is_owner = membership.role == Role.OWNER
    return {
        "membership": membership,
        "project": project,
        "tab": "settings",
        "policy": policy,
        "is_owner": is_owner,
        "form": form or KeyPolicyForm(policy=policy, read_only=not is_owner),
        "out_of_policy": rules.out_of_policy_keys(project, policy),
        "out_of_policy_personal": rules.out_of_policy_personal_keys(project, policy),
        "outliving": rules.keys_outliving(project, policy.max_lifetime_days),
        # The sections higher apps add below the policy (webhooks' Webhooks): keys/settings_sections.py.
        "sections": settings_sections.sections(),
    }


def _settings_url(project) -> str:
    return reverse("project_settings:settings", args=[project.slug])


def _owner_membership(request, slug):
    membership = membership_for(request, slug, manage=True)
    if membership.role != Role.OWNER:
        raise PermissionDenied("Only the project's owner can change its key policy.")
    return membership


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request, slug):
    if request.method == "POST":
        return _save(request, slug)
    return render(request, PAGE, _context(membership_for(request, slug)))


def _save(request, slug):
    membership = _owner_membership(request, slug)
    project = membership.project
    form = KeyPolicyForm(request.POST, policy=policy_of(project))
    if form.is_valid():
        data = form.cleaned_data
        try:
            saved = rules.save_policy(
                project=project,
                actor=Actor.from_request(request),
                user=request.user,
                max_lifetime_days=data["max_lifetime_days"] or None,
                require_allowed_ips=data["require_allowed_ips"],
                allowed_permissions=data["allowed_permissions"],
                approval_required=data["approval_required"],
                two_factor_required=data["two_factor_required"],
            )
        except Refused as exc:
            for field, message in exc.errors.items():
                form.add_error(field if field in form.fields else None, message)
        else:
            if not saved.changed:
                note = "Nothing changed."
            elif saved.out_of_policy:
                note = (
                    f"{_plural(saved.out_of_policy, 'existing key is', 'existing keys are')} now Out of policy: "
                    "they keep working until you act (below)."
                )
            else:
                note = "No existing key is Out of policy."
            messages.success(request, f"Key policy saved. {note}")
            return redirect(_settings_url(project))  # htmx follows it and takes the section it shows
    membership.project.refresh_from_db()
    return render(request, PAGE, _context(membership, form), status=422)


@login_required
@require_http_methods(["GET", "POST"])
def revoke_out_of_policy_keys(request, slug):
    membership = _owner_membership(request, slug)
    project = membership.project
    if request.method == "POST":
        revoked = policy_actions.revoke_out_of_policy(project=project, actor=Actor.from_request(request))
        message = f"{_plural(len(revoked), 'key was', 'keys were')} revoked. Each is in the event log."
        return _after(request, membership, message)
    found = rules.out_of_policy_keys(project)
    return confirm(
        request,
        {"membership": membership, "project": project, "tab": "settings"},
        Confirmation(
            title=f"Revoke {_plural(len(found), 'out-of-policy key', 'out-of-policy keys')}?",
            body=(
                "Applications using "
                + (", ".join(f"“{k.name}” ({k.key_id})" for k in found) or "them")
                + " will be refused from their next request. Revoking cannot be undone."
            ),
            button="Revoke out-of-policy keys",
            url=reverse("project_settings:revoke_out_of_policy", args=[project.slug]),
            cancel_url=_settings_url(project),
        ),
    )


@login_required
@require_POST
def shorten_expiry_view(request, slug):
    membership = _owner_membership(request, slug)
    changed = policy_actions.shorten_expiry(project=membership.project, actor=Actor.from_request(request))
    return _after(
        request,
        membership,
        f"{_plural(len(changed), 'key now expires', 'keys now expire')} within the maximum key lifetime. "
        "Each change is in the event log.",
    )


def _after(request, membership, message: str):
    if request.htmx:
        context = {**_context(membership), "panel_template": POLICY_SECTION, "flash": message}
        return render(request, "projects/confirm/changed.html", context)
    messages.success(request, message)
    return redirect(_settings_url(membership.project))


# --- approval of personal keys (the API Key tab's Pending approval) ----------------------------------
def _decide(request, slug, key_id, *, approve: bool):
    membership = membership_for(request, slug, manage=True)
    project = membership.project
    key = ApiKey.objects.filter(key_id=key_id, owner__isnull=False).select_related("owner").first()
    if key is None or not key.approvals.filter(project=project).exists():
        raise Http404("No such request for approval.")
    rules.decide_approval(key=key, project=project, actor=Actor.from_request(request), approve=approve)
    word = "approved" if approve else "denied"
    message = f"Personal key “{key.name}” ({key.key_id}) of {key.owner.email} was {word} for {project.name}."  # type: ignore[union-attr]  # a personal key
    if request.htmx:
        holder = ProjectKeys(membership)
        context = {**holder.page_context(), **holder.approvals_context(), "flash": message}
        return render(request, "keys/_approvals_changed.html", context)
    messages.success(request, message)
    return redirect("project_keys:api_keys", slug=project.slug)


@login_required
@require_POST
def approve(request, slug, key_id):
    return _decide(request, slug, key_id, approve=True)


@login_required
@require_POST
def deny(request, slug, key_id):
    return _decide(request, slug, key_id, approve=False)
