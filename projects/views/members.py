from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from ..access import membership_for
from ..forms import InvitationForm
from ..invitations import InvitationRefused, invitation_create
from ..models import Invitation, Membership, Role


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
                inviter=request.user.email, invited_by=request.user,
                accept_url=lambda inv: request.build_absolute_uri(inv.get_absolute_url()),
            )
        except InvitationRefused as exc:  # raced with another invitation since the form's check
            form.add_error("email", exc.message)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("projects:members", slug=slug)
    context = {
        "membership": membership,
        "project": project,
        "tab": "members",
        "form": form,
        "members": project.memberships.select_related("user").order_by("user__email"),
        "invitations": project.invitations.filter(accepted_at__isnull=True).order_by("-created_at"),
    }
    return render(request, "projects/members.html", context, status=422 if form.errors else 200)


@login_required
@require_POST
def member_remove(request, slug, pk):
    membership = membership_for(request, slug, manage=True)
    target = get_object_or_404(Membership, pk=pk, project=membership.project)
    if target.role == Role.OWNER:
        raise PermissionDenied("The owner cannot be removed.")
    target.delete()
    messages.success(request, f"{target.user.email} was removed from the project.")
    return redirect("projects:members", slug=slug)


@login_required
@require_POST
def invitation_cancel(request, slug, pk):
    membership = membership_for(request, slug, manage=True)
    invitation = get_object_or_404(Invitation, pk=pk, project=membership.project, accepted_at__isnull=True)
    invitation.delete()
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
            with transaction.atomic():
                Membership.objects.create(project=invitation.project, user=request.user, role=invitation.role)
                invitation.accepted_at = timezone.now()
                invitation.accepted_by = request.user
                invitation.save(update_fields=["accepted_at", "accepted_by"])
        except IntegrityError:
            messages.info(request, "You are already a member of this project.")
        else:
            messages.success(request, f"You joined {invitation.project.name}.")
        return redirect(invitation.project)
    return render(request, "projects/invitation.html", {"invitation": invitation, "problem": problem},
                  status=200 if problem is None else 410)
