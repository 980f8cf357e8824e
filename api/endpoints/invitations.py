"""POST /invitations: invite someone to the key's project (permission "invite")."""

from django.urls import reverse
from ninja import Router
from ninja.responses import Status

from projects.invitations import invitation_create

from ..permissions import require
from ..schemas import ErrorOut, InvitationIn, InvitationOut

router = Router(tags=["Invitations"])


@router.post(
    "/invitations",
    response={201: InvitationOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 409: ErrorOut, 429: ErrorOut},
    operation_id="createInvitation",
    summary="Invite someone to the project",
)
def create_invitation(request, payload: InvitationIn):
    """Same rules as the console (projects/invitations.py): not to a member, and not twice while an
    invitation is pending (both 409 `conflict`). A key invites **viewers** only (`"role": "admin"` → 403
    `insufficient_permission`: admins are made in the console). Invitation mails are limited per
    project and per key (429 `rate_limited`). The invitee gets an email with a link that works for 7 days."""
    require(request, "invite")
    key = request.auth
    # A refusal (InvitationRefused: 403, 409, 429 or 400) is answered by the API's one handler.
    invitation = invitation_create(
        project=key.project,
        email=payload.email,
        role=payload.role,
        invited_via_key=key,
        accept_url=lambda token: request.build_absolute_uri(reverse("projects:invitation_open", args=[token])),
    )
    return Status(
        201,
        {
            **{f: getattr(invitation, f) for f in ("id", "email", "role", "created_at", "expires_at")},
            "status": invitation.status,
        },
    )
