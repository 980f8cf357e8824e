"""POST /invitations: invite someone to the key's project (permission "invite")."""

import logging

from django.core.mail import send_mail
from django.db import transaction
from django.urls import NoReverseMatch
from ninja import Router
from ninja.responses import Status

from projects.models import Invitation

from .. import clock
from ..errors import InvalidRequest
from ..permissions import require
from ..schemas import ErrorOut, InvitationIn, InvitationOut

logger = logging.getLogger("api")
router = Router(tags=["Invitations"])


@router.post("/invitations", response={201: InvitationOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 429: ErrorOut},
             operation_id="createInvitation", summary="Invite someone to the project")
def create_invitation(request, payload: InvitationIn):
    """Same rules as the console: not to a member, and not twice while an invitation is pending.
    The invitee gets an email with a link that works for 7 days."""
    require(request, "invite")
    key = request.auth
    project = key.project
    if project.memberships.filter(user__email__iexact=payload.email).exists():
        raise InvalidRequest("This person is already a member.", fields={"email": "This person is already a member."})
    pending = project.invitations.filter(email__iexact=payload.email, accepted_at__isnull=True,
                                         expires_at__gt=clock.now())
    if pending.exists():
        message = "An invitation to this address is already pending."
        raise InvalidRequest(message, fields={"email": message})
    with transaction.atomic():
        invitation = Invitation.objects.create(
            project=project, email=payload.email, role=payload.role, invited_via_key=key,
        )
    _send(request, invitation, key)
    return Status(201, {**{f: getattr(invitation, f) for f in ("id", "email", "role", "created_at", "expires_at")},
                        "status": invitation.status})


def _send(request, invitation: Invitation, key) -> None:
    try:
        link = request.build_absolute_uri(invitation.get_absolute_url())
    except NoReverseMatch:  # the console's acceptance page is not mounted
        link = None
    lines = [f"You are invited to join {invitation.project.name} on NBQ Keys Console as "
             f"{invitation.get_role_display()} (invited through the API key “{key.name}”)."]
    if link:
        lines += ["", f"Accept: {link}", "", "The link works for 7 days."]
    try:
        send_mail(f"You are invited to {invitation.project.name} on NBQ Keys Console", "\n".join(lines), None,
                  [invitation.email])
    except Exception:  # the invitation exists and is shown in the console; mail is best effort
        logger.exception("API: could not send the invitation email for invitation %s", invitation.pk)
