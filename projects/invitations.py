"""Inviting someone to a project: one set of rules for the console and the runtime API.

Not to a member, not twice while an invitation to the same address is pending. The invitee gets
an email with the acceptance link (valid 7 days); mail is best effort: the invitation is shown in
the Members tab either way.
"""

import logging

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from .actors import Actor
from .events import record_event
from .membership import MembershipRefused, membership_add
from .models import Invitation, Project
from .models.event import EventKind

logger = logging.getLogger(__name__)


class InvitationRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def invitation_problem(project: Project, email: str) -> str | None:
    """Why `email` cannot be invited to `project` now, or None."""
    if project.memberships.filter(user__email__iexact=email).exists():
        return "This person is already a member."
    if project.invitations.filter(email__iexact=email, accepted_at__isnull=True, expires_at__gt=timezone.now()).exists():
        return "An invitation to this address is already pending."
    return None


def invitation_create(*, project: Project, email: str, role: str, inviter: str, accept_url,
                      invited_by=None, invited_via_key=None, actor: Actor | None = None) -> Invitation:
    """Invite `email` and mail the link. `accept_url(invitation)` builds the absolute link;
    `inviter` names who invited, for the email ("ada@example.com", "the API key “CI”")."""
    email = email.strip().lower()
    problem = invitation_problem(project, email)
    if problem:
        raise InvitationRefused(problem)
    if actor is None:
        actor = Actor(user=invited_by, label=invited_by.email) if invited_by else Actor(user=None, label="api")
    with transaction.atomic():
        invitation = Invitation.objects.create(project=project, email=email, role=role, invited_by=invited_by,
                                               invited_via_key=invited_via_key)
        record_event(project=project, kind=EventKind.INVITATION_SENT, actor=actor, subject=email,
                     details={"role": role, **({"via_key": invited_via_key.key_id} if invited_via_key else {})})
    try:
        send_mail(
            f"You are invited to {project.name} on NBQ Keys Console",
            f"{inviter} invited you to join {project.name} as {invitation.get_role_display()}.\n\n"
            f"Accept: {accept_url(invitation)}\n\nThe link works for 7 days.",
            None,
            [invitation.email],
        )
    except Exception:
        logger.exception("Could not send the email of invitation %s", invitation.pk)
    return invitation


def invitation_cancel(*, invitation: Invitation, actor: Actor) -> None:
    with transaction.atomic():
        record_event(project=invitation.project, kind=EventKind.INVITATION_CANCELLED, actor=actor,
                     subject=invitation.email, details={"role": invitation.role})
        invitation.delete()


def invitation_accept(*, invitation: Invitation, user, actor: Actor):
    """`user` joins the project with the invitation's role. MembershipRefused if already a member."""
    with transaction.atomic():
        membership = membership_add(project=invitation.project, user=user, role=invitation.role, actor=actor,
                                    kind=EventKind.INVITATION_ACCEPTED)
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


__all__ = ["InvitationRefused", "MembershipRefused", "invitation_accept", "invitation_cancel", "invitation_create",
           "invitation_problem"]
