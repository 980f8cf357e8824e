"""Inviting someone to a project, and accepting: one set of rules for the console and the runtime API.

- Not to a member, not twice while an invitation to the same address is pending, never as owner.
- An API key may invite **viewers** only: a leaked `invite` key must not be able to make admins
  (who could then mint keys with every permission and outlive the key).
- The token is a secret, like an API key: only its hash is stored (`Invitation.token_hash`); the
  token exists in the invitation mail only. The acceptance page moves it out of the URL at once.
- Invitation mails are limited per project and per inviter (a person or an API key) and per hour
  (`settings.INVITATION_MAILS_PER_PROJECT_PER_HOUR`, `..._PER_INVITER_PER_HOUR`), counted in the
  cache; if the cache is down the limit is off (fail open, logged), like the other limits.
- The mail's subject is fixed wording; names chosen by users (project, key) appear quoted, cut
  and defanged (no dot a mail client could turn into a link), in a plain-text body; so does the
  inviter's address (chosen by them too: `a.b.www.evil.example/verify@…` reads as a link).
- Accepting needs a logged-in account whose **confirmed** address is the invited one.
"""

import logging
import re
import time
import unicodedata

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from keys_console.errors import Refused
from keys_console.mail import send_mail_later

from .actors import Actor
from .events import record_event
from .models import Invitation, Membership, Project, Role
from .models.event import EventKind
from .models.project import INVITATION_LIFETIME

logger = logging.getLogger(__name__)

NAME_IN_MAIL_MAX = 60
INVITER_IN_MAIL_MAX = 254  # a whole address (its longest form): cut, it would be someone else's
WINDOW_SECONDS = 3600


class InvitationRefused(Refused):
    """The invitation breaks a rule (the message says which); `field` names the form field."""

    def __init__(self, message: str, field: str | None = "email", **kwargs):
        super().__init__(message, field=field, **kwargs)


class InvitationForbidden(InvitationRefused):
    """The inviter may not give this role (API: 403 insufficient_permission)."""

    code, status = "insufficient_permission", 403


class InvitationConflict(InvitationRefused):
    """The address is already a member, or already has a pending invitation (API: 409 conflict)."""

    code, status = "conflict", 409


class InvitationThrottled(InvitationRefused):
    """Too many invitation mails in the window (API: 429 rate_limited, with Retry-After)."""

    code, status = "rate_limited", 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, field=None, retry_after=retry_after)


def invitation_problem(project: Project, email: str) -> str | None:
    """Why `email` cannot be invited to `project` now, or None."""
    if project.memberships.filter(user__email__iexact=email).exists():
        return "This person is already a member."
    if project.invitations.pending().filter(email__iexact=email).exists():
        return "An invitation to this address is already pending."
    return None


def neutralise(text: str, limit: int = NAME_IN_MAIL_MAX) -> str:
    """User-chosen text made safe to quote in a mail: one line, at most `limit` characters, and
    no dot or `://` a mail client would turn into a clickable link: a dot is written " dot " (read
    aloud and copied as what it is, never a look-alike character; issue #32). Invisible format
    characters (Unicode category Cf: bidi embeddings, overrides, isolates and marks, zero-width
    spaces and joiners, the BOM, soft hyphens) are removed: a right-to-left override could show a
    name reversed, a zero-width space split "paypal" from what it reads as (issue #27)."""
    text = "".join(char for char in text if unicodedata.category(char) != "Cf")
    text = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text.replace("://", " : // ").replace(".", " dot ")


def _count(key: str) -> int | None:
    """Add one to a counter of the current window; None if the cache is down (fail open)."""
    try:
        if cache.add(key, 1, timeout=WINDOW_SECONDS):
            return 1
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=WINDOW_SECONDS)
        return 1
    except Exception as exc:
        logger.warning("Invitation mail limit: cache unavailable (%s); not counting", type(exc).__name__)
        return None


def _check_mail_limits(project: Project, inviter_id: str) -> None:
    window = int(time.time() // WINDOW_SECONDS)
    retry_after = WINDOW_SECONDS - int(time.time() % WINDOW_SECONDS)
    limits = [
        (
            f"invitation-mails:project:{project.pk}:{window}",
            settings.INVITATION_MAILS_PER_PROJECT_PER_HOUR,
            "This project sent too many invitations in the last hour. Try again later.",
        ),
        (
            f"invitation-mails:inviter:{inviter_id}:{window}",
            settings.INVITATION_MAILS_PER_INVITER_PER_HOUR,
            "You sent too many invitations in the last hour. Try again later.",
        ),
    ]
    for key, limit, message in limits:
        count = _count(key)
        if count is not None and count > limit:
            raise InvitationThrottled(message, retry_after=retry_after)


def invitation_create(
    *,
    project: Project,
    email: str,
    role: str,
    accept_url,
    invited_by=None,
    invited_via_key=None,
    actor: Actor | None = None,
) -> Invitation:
    """Invite `email` and mail the link. `accept_url(token)` builds the absolute link; the token
    goes into the mail and nowhere else. Raises InvitationRefused (or a subclass)."""
    email = email.strip().lower()
    if role not in (Role.ADMIN, Role.VIEWER):
        raise InvitationRefused("Invite as Admin or Viewer; a project has one owner.", field="role")
    if invited_via_key is not None and role != Role.VIEWER:
        raise InvitationForbidden("An API key may invite viewers only; admins are made in the console.", field="role")
    problem = invitation_problem(project, email)
    if problem:
        raise InvitationConflict(problem)
    inviter_id = (
        f"key:{invited_via_key.key_id}" if invited_via_key is not None else f"user:{getattr(invited_by, 'pk', None)}"
    )
    _check_mail_limits(project, inviter_id)
    if actor is None:
        actor = Actor(user=invited_by, label=invited_by.email) if invited_by else Actor(user=None, label="api")
    with transaction.atomic():
        invitation, token = Invitation.objects.issue(
            project=project,
            email=email,
            role=role,
            invited_by=invited_by,
            invited_via_key_id=invited_via_key.key_id if invited_via_key is not None else "",
            invited_via_key_name=invited_via_key.name if invited_via_key is not None else "",
        )
        record_event(
            project=project,
            kind=EventKind.INVITATION_SENT,
            actor=actor,
            subject=email,
            details={"role": role, **({"via_key": invited_via_key.key_id} if invited_via_key else {})},
        )
    _mail_invitation(invitation, token, accept_url)
    return invitation


def _mail_invitation(invitation: Invitation, token: str, accept_url) -> None:
    """Mail the link to the invited address (a failure is logged; the invitation stands)."""
    invited_by = invitation.invited_by
    context = {
        # "demo at nbq dot example": an address no mail client links, read aloud as it is.
        "inviter": neutralise(invited_by.email, limit=INVITER_IN_MAIL_MAX).replace("@", " at ")
        if invited_by is not None
        else None,
        "key_name": neutralise(invitation.invited_via_key_name) if invitation.invited_via_key_name else None,
        "project_name": neutralise(invitation.project.name),
        "role": invitation.get_role_display(),
        "accept_url": accept_url(token),
        "days": INVITATION_LIFETIME.days,
    }
    try:  # enqueued: sent by the task worker (keys_console/mail.py), off the request path
        send_mail_later(
            render_to_string("projects/email/invitation_subject.txt", context).strip(),
            render_to_string("projects/email/invitation_body.txt", context),
            [invitation.email],
        )
    except Exception:
        logger.exception("Could not enqueue the email of invitation %s", invitation.pk)


def invitation_resend(*, invitation: Invitation, accept_url, actor: Actor) -> Invitation:
    """Send an expired invitation again: a new token (the old link stays dead) and a new expiry,
    logged as sent again. Raises InvitationRefused if it was accepted, is still open, or the
    address became a member; the mail limits count it like a new invitation."""
    if invitation.status == "accepted":
        raise InvitationRefused("This invitation was already accepted.", field=None)
    if invitation.status == "pending":
        raise InvitationRefused("This invitation is still open; it can be sent again once it expires.", field=None)
    project = invitation.project
    if project.memberships.filter(user__email__iexact=invitation.email).exists():
        raise InvitationRefused("This person is already a member.", field=None)
    inviter_id = f"user:{actor.user.pk}" if actor.user is not None else "api"
    _check_mail_limits(project, inviter_id)
    with transaction.atomic():
        token = Invitation.objects.new_token(invitation)
        record_event(
            project=project,
            kind=EventKind.INVITATION_SENT,
            actor=actor,
            subject=invitation.email,
            details={"role": invitation.role, "resent": True},
        )
    _mail_invitation(invitation, token, accept_url)
    return invitation


def invitation_cancel(*, invitation: Invitation, actor: Actor) -> None:
    with transaction.atomic():
        record_event(
            project=invitation.project,
            kind=EventKind.INVITATION_CANCELLED,
            actor=actor,
            subject=invitation.email,
            details={"role": invitation.role},
        )
        invitation.delete()


def acceptance_problem(invitation: Invitation, user) -> str | None:
    """Why `user` cannot accept `invitation` now, or None."""
    from allauth.account.models import EmailAddress

    if invitation.status != "pending":
        return f"This invitation is {invitation.status}."
    if invitation.email.lower() != user.email.lower():
        return f"This invitation is for {invitation.email}; you are logged in as {user.email}."
    if not EmailAddress.objects.filter(user=user, email__iexact=invitation.email, verified=True).exists():
        return f"Confirm your address {invitation.email} first: open the link we mailed you, then come back."
    return None


def invitation_accept(*, invitation: Invitation, user, actor: Actor | None = None) -> bool:
    """Make `user` a member with the invited role; False if they already were one. Logged as
    "… accepted the invitation and joined as …"."""
    problem = acceptance_problem(invitation, user)
    if problem:
        raise InvitationRefused(problem, field=None)
    try:
        with transaction.atomic():
            Membership.objects.create(project=invitation.project, user=user, role=invitation.role)
            updated = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
                accepted_at=timezone.now(), accepted_by=user
            )
            if not updated:  # accepted in a concurrent request
                raise IntegrityError("invitation already accepted")
            record_event(
                project=invitation.project,
                kind=EventKind.INVITATION_ACCEPTED,
                subject=user.email,
                actor=actor or Actor(user=user, label=user.email),
                details={"role": invitation.role},
            )
    except IntegrityError:
        return False
    return True
