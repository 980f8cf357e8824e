from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from ..access import membership_for
from ..actors import Actor
from ..forms import InvitationForm
from ..invitations import InvitationRefused, invitation_create
from ..invitations import invitation_accept as accept_invitation
from ..invitations import invitation_cancel as cancel_invitation
from ..membership import MembershipRefused, membership_leave, membership_remove
from ..models import Invitation, Membership, Role
from .confirm import Confirmation, confirm

PAGE = "projects/members.html"
TABLE = PAGE + "#members-table"


def _members_context(membership) -> dict:
    project = membership.project
    return {
        "membership": membership,
        "project": project,
        "tab": "members",
        "members": project.memberships.select_related("user").order_by("user__email"),
        "invitations": project.invitations.filter(accepted_at__isnull=True).order_by("-created_at"),
    }


@login_required
@require_http_methods(["GET", "POST"])
def members(request, slug):
    membership = membership_for(request, slug, manage=request.method == "POST")
    project = membership.project
    form = InvitationForm(request.POST if request.method == "POST" else None, project=project)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = invitation_create(
                project=project, email=form.cleaned_data["email"], role=form.cleaned_data["role"],
                inviter=request.user.email, invited_by=request.user, actor=Actor.from_request(request),
                accept_url=lambda inv: request.build_absolute_uri(inv.get_absolute_url()),
            )
        except InvitationRefused as exc:  # raced with another invitation since the form's check
            form.add_error("email", exc.message)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("projects:members", slug=slug)
    context = {**_members_context(membership), "form": form}
    return render(request, PAGE, context, status=422 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def member_remove(request, slug, pk):
    """GET asks first (a dialog with htmx, a page without); POST removes."""
    membership = membership_for(request, slug, manage=True)
    target = get_object_or_404(Membership.objects.select_related("user", "project"), pk=pk, project=membership.project)
    if target.role == Role.OWNER:
        raise PermissionDenied("The owner cannot be removed.")
    if request.method == "GET":
        return confirm(request, _members_context(membership), Confirmation(
            title=f"Remove {target.user.email} from {membership.project.name}?",
            body=(f"{target.user.email} ({target.get_role_display()}) loses access to this project at once: its "
                  "questions, keys and event log. To come back they need a new invitation."),
            button="Remove member",
            url=reverse("projects:member_remove", args=[slug, target.pk]),
            cancel_url=reverse("projects:members", args=[slug]),
        ))
    try:
        membership_remove(membership=target, actor=Actor.from_request(request))
    except MembershipRefused as exc:
        raise PermissionDenied(exc.message) from None
    message = f"{target.user.email} was removed from the project."
    if request.htmx:
        return render(request, "projects/confirm/changed.html",
                      {**_members_context(membership), "panel_template": TABLE, "flash": message})
    messages.success(request, message)
    return redirect("projects:members", slug=slug)


@login_required
@require_http_methods(["GET", "POST"])
def member_leave(request, slug):
    """A member (not the owner) leaves the project: GET asks, POST leaves."""
    membership = membership_for(request, slug)
    if membership.role == Role.OWNER:
        raise PermissionDenied("The owner cannot leave the project.")
    if request.method == "GET":
        return confirm(request, _members_context(membership), Confirmation(
            title=f"Leave {membership.project.name}?",
            body="You lose access to this project at once. To come back you need a new invitation.",
            button="Leave project",
            url=reverse("projects:member_leave", args=[slug]),
            cancel_url=reverse("projects:members", args=[slug]),
        ))
    membership_leave(membership=membership, actor=Actor.from_request(request))
    messages.success(request, f"You left {membership.project.name}.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("projects:list"))
    return redirect("projects:list")


@login_required
@require_POST
def invitation_cancel(request, slug, pk):
    membership = membership_for(request, slug, manage=True)
    invitation = get_object_or_404(Invitation, pk=pk, project=membership.project, accepted_at__isnull=True)
    cancel_invitation(invitation=invitation, actor=Actor.from_request(request))
    messages.success(request, f"Invitation to {invitation.email} cancelled.")
    return redirect("projects:members", slug=slug)


@login_required
@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    invitation = get_object_or_404(Invitation.objects.select_related("project"), token=token)
    problem = None
    if invitation.status != "pending":
        problem = f"This invitation is {invitation.status}."
    elif invitation.email.lower() != request.user.email.lower():
        problem = f"This invitation is for {invitation.email}; you are logged in as {request.user.email}."
    if request.method == "POST" and problem is None:
        try:
            accept_invitation(invitation=invitation, user=request.user, actor=Actor.from_request(request))
        except MembershipRefused:
            messages.info(request, "You are already a member of this project.")
        else:
            messages.success(request, f"You joined {invitation.project.name}.")
        return redirect(invitation.project)
    return render(request, "projects/invitation.html", {"invitation": invitation, "problem": problem},
                  status=200 if problem is None else 410)
