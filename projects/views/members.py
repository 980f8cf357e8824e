from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from ..access import membership_for
from ..actors import Actor
from ..forms import InvitationForm
from ..invitations import (
    InvitationRefused,
    acceptance_problem,
    invitation_accept,
    invitation_create,
    invitation_resend,
)
from ..invitations import invitation_cancel as cancel_invitation
from ..membership import MembershipRefused, membership_change_role, membership_leave, membership_remove
from ..models import Invitation, Membership, Role
from ..models.project import RoleChangeRefused, invitation_token_hash
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
                project=project,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
                actor=Actor.from_request(request),
                accept_url=lambda token: _accept_url(request, token),
            )
        except InvitationRefused as exc:  # a rule the form cannot see (mail limit, a race)
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return _to_invitations(slug)
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
        return confirm(
            request,
            _members_context(membership),
            Confirmation(
                title=f"Remove {target.user.email} from {membership.project.name}?",
                body=(
                    f"{target.user.email} ({target.get_role_display()}) loses access to this project at once: its "
                    "questions, keys and event log. To come back they need a new invitation."
                ),
                button="Remove member",
                url=reverse("projects:member_remove", args=[slug, target.pk]),
                cancel_url=reverse("projects:members", args=[slug]),
            ),
        )
    try:
        membership_remove(membership=target, actor=Actor.from_request(request))
    except MembershipRefused as exc:
        raise PermissionDenied(exc.message) from None
    message = f"{target.user.email} was removed from the project."
    if request.htmx:
        return render(
            request,
            "projects/confirm/changed.html",
            {**_members_context(membership), "panel_template": TABLE, "flash": message},
        )
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
        return confirm(
            request,
            _members_context(membership),
            Confirmation(
                title=f"Leave {membership.project.name}?",
                body="You lose access to this project at once. To come back you need a new invitation.",
                button="Leave project",
                url=reverse("projects:member_leave", args=[slug]),
                cancel_url=reverse("projects:members", args=[slug]),
            ),
        )
    membership_leave(membership=membership, actor=Actor.from_request(request))
    messages.success(request, f"You left {membership.project.name}.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("projects:list"))
    return redirect("projects:list")


@login_required
@require_POST
def member_role(request, slug, pk):
    """Make a member an admin or a viewer (owners and admins; not the owner; Confirm access first:
    projects/urls.py)."""
    membership = membership_for(request, slug, manage=True)
    target = get_object_or_404(Membership.objects.select_related("user"), pk=pk, project=membership.project)
    if target.role == Role.OWNER:
        raise PermissionDenied("The owner's role cannot be changed.")
    try:
        changed = membership_change_role(
            membership=target, role=request.POST.get("role", ""), actor=Actor.from_request(request)
        )
    except RoleChangeRefused as exc:
        messages.error(request, exc.message)
    else:
        if changed:
            messages.success(request, f"{target.user.email} is now {target.get_role_display()}.")
    return redirect("projects:members", slug=slug)


@login_required
@require_http_methods(["GET", "POST"])
def invitation_cancel(request, slug, pk):
    """GET asks first, naming the address (a dialog with htmx, a page without); POST cancels."""
    membership = membership_for(request, slug, manage=True)
    invitation = get_object_or_404(Invitation, pk=pk, project=membership.project, accepted_at__isnull=True)
    if request.method == "GET":
        return confirm(
            request,
            _members_context(membership),
            Confirmation(
                title=f"Cancel the invitation to {invitation.email}?",
                body=f"The link mailed to {invitation.email} stops working at once. You can invite them again later.",
                button="Cancel invitation",
                url=reverse("projects:invitation_cancel", args=[slug, invitation.pk]),
                cancel_url=reverse("projects:members", args=[slug]),
            ),
        )
    cancel_invitation(invitation=invitation, actor=Actor.from_request(request))
    message = f"Invitation to {invitation.email} cancelled."
    if request.htmx:
        return render(
            request,
            "projects/confirm/changed.html",
            {**_members_context(membership), "panel_template": PAGE + "#invitations-table", "flash": message},
        )
    messages.success(request, message)
    return _to_invitations(slug)


@login_required
@require_POST
def invitation_resend_view(request, slug, pk):
    """Send an expired invitation again (owners and admins): a new link and a new expiry."""
    membership = membership_for(request, slug, manage=True)
    invitation = get_object_or_404(Invitation, pk=pk, project=membership.project, accepted_at__isnull=True)
    try:
        invitation_resend(
            invitation=invitation,
            actor=Actor.from_request(request),
            accept_url=lambda token: _accept_url(request, token),
        )
    except InvitationRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Invitation sent again to {invitation.email}.")
    return _to_invitations(slug)


def _to_invitations(slug):
    """Back to the Members tab, at its Invitations (console.js focuses the heading a page's
    address points at, so the keyboard goes on from the list that changed: #32, finding 5)."""
    return redirect(reverse("projects:members", args=[slug]) + "#invitations-heading")


def _accept_url(request, token: str) -> str:
    return request.build_absolute_uri(reverse("projects:invitation_open", args=[token]))


INVITATION_SESSION_KEY = "projects.invitation_id"


@never_cache
@require_GET
def invitation_open(request, token):
    """The link in the mail. The token is checked once, then the invitation's id (not a secret)
    goes into the session and the browser moves to a token-free URL (no token in history,
    Referer or logs of later requests, nor in the `next` of Log in / Sign up)."""
    token_hash = invitation_token_hash(token)
    invitation = Invitation.objects.filter(token_hash=token_hash).first()
    if invitation is None:
        replaced = Invitation.objects.select_related("project", "invited_by").filter(previous_token_hash=token_hash)
        if replaced.exists():  # a Resend sent a newer link: say so, and whom to ask (#32, finding 7)
            return render(
                request,
                "projects/invitation.html",
                {"invitation": replaced.first(), "state": "replaced"},
                status=410,
            )
        return render(
            request,
            "projects/invitation.html",
            {"invitation": None, "problem": "This invitation link is not valid. Ask for a new invitation."},
            status=404,
        )
    request.session[INVITATION_SESSION_KEY] = invitation.pk
    return redirect("projects:invitation")


@never_cache
@require_http_methods(["GET", "POST"])
def invitation(request):
    """The invitation opened from the mail: explains it; offers Log in / Sign up (both come back
    here) to someone logged out; lets the invited, confirmed address accept."""
    pk = request.session.get(INVITATION_SESSION_KEY)
    invitation = Invitation.objects.select_related("project", "invited_by").filter(pk=pk).first()
    if invitation is None:
        return render(
            request,
            "projects/invitation.html",
            {"invitation": None, "problem": "Open the link in your invitation mail again."},
            status=404,
        )
    here = reverse("projects:invitation")
    context = {"invitation": invitation, "next": here, "state": invitation.status}
    if invitation.status != "pending":
        # Expired or already used (410 Gone): say so first, and offer nothing that cannot succeed.
        return render(request, "projects/invitation.html", context, status=410)
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect_to_login(here)
        # Whether the address already has an account is not said (no enumeration): both ways are offered.
        return render(request, "projects/invitation.html", {**context, "anonymous": True})
    problem = acceptance_problem(invitation, request.user)
    if request.method == "POST" and problem is None:
        try:
            joined = invitation_accept(invitation=invitation, user=request.user, actor=Actor.from_request(request))
        except InvitationRefused as exc:
            problem = exc.message
        else:
            request.session.pop(INVITATION_SESSION_KEY, None)
            if joined:
                messages.success(request, f"You joined {invitation.project.name}.")
            else:
                messages.info(request, "You are already a member of this project.")
            return redirect(invitation.project)
    return render(
        request, "projects/invitation.html", {**context, "problem": problem}, status=200 if problem is None else 410
    )


@login_required
@require_POST
def invitation_join(request, pk):
    """Accept, from the projects page, an invitation addressed to the person's confirmed address
    (the confirmation proves what the mailed token proves: that they read that mailbox)."""
    invitation = get_object_or_404(
        Invitation.objects.select_related("project"), pk=pk, email__iexact=request.user.email
    )
    try:
        joined = invitation_accept(invitation=invitation, user=request.user, actor=Actor.from_request(request))
    except InvitationRefused as exc:
        messages.error(request, exc.message)
        return redirect("projects:list")
    messages.success(
        request, f"You joined {invitation.project.name}." if joined else "You are already a member of this project."
    )
    return redirect(invitation.project)
