"""Changes to who is in a project: add, change a role, move to another person, remove, leave.
Each writes the event log; the API learns of each at once (api/invalidation.py tombstones the
account keys of the people concerned, the old and the new member of a move included).

The rules live here, not in the views, so the console, the admin and any script agree:
the owner is never removed nor demoted, and no one removes themselves (they leave instead).
"""

from django.db import IntegrityError, transaction

from keys_console.errors import Refused

from .actors import Actor
from .events import record_event
from .models import Membership, Project, Role
from .models.event import EventKind
from .models.project import MANAGING_ROLES


class MembershipRefused(Refused):
    """A membership rule refused the change (the sentence says which)."""

    code, status = "conflict", 409


ONE_OWNER = "A project has one owner; add this person as Admin or Viewer."


def manager_emails(project_id: int | None) -> list[str]:
    """THE people who answer for a project (mails about its keys, key approvals, a disabled
    webhook): its owners and admins (`MANAGING_ROLES`) whose accounts are active, sorted."""
    if project_id is None:
        return []
    emails = Membership.objects.filter(
        project_id=project_id, role__in=MANAGING_ROLES, user__is_active=True
    ).values_list("user__email", flat=True)
    return sorted(set(emails))


def owner_problem(project: Project, role: str) -> str | None:
    """THE rule "one owner per project": why a new member of `project` cannot have `role`, or None."""
    if role == Role.OWNER and project.pk is not None and project.memberships.filter(role=Role.OWNER).exists():
        return ONE_OWNER
    return None


def membership_add(
    *, project: Project, user, role: str, actor: Actor, kind: str = EventKind.MEMBER_ADDED, details: dict | None = None
) -> Membership:
    """Make `user` a member. Refused (MembershipRefused) if they already are one, or if they would
    be a second owner."""
    problem = owner_problem(project, role)
    if problem:
        raise MembershipRefused(problem, field="role")
    try:
        with transaction.atomic():
            membership = Membership.objects.create(project=project, user=user, role=role)
            record_event(
                project=project, kind=kind, actor=actor, subject=user.email, details={"role": role, **(details or {})}
            )
    except IntegrityError:
        raise MembershipRefused(f"{user.email} is already a member of this project.") from None
    return membership


def membership_change_role(*, membership: Membership, role: str, actor: Actor) -> bool:
    """Make a member an admin or a viewer (Membership.change_role holds the rule and raises
    RoleChangeRefused); True, and a line in the log, if the role changed."""
    old_role = membership.role
    with transaction.atomic():
        changed = membership.change_role(role)
        if changed:
            record_event(
                project=membership.project,
                kind=EventKind.MEMBER_ROLE_CHANGED,
                actor=actor,
                subject=membership.user.email,
                details={"old_role": old_role, "role": role},
            )
    return changed


def membership_move(*, membership: Membership, user, actor: Actor) -> Membership:
    """Give a membership, with its role, to another person (an operator's fix in the admin):
    logged as the old member removed and the new one added. Refused (MembershipRefused) if the
    new person is already a member."""
    with transaction.atomic():
        stored = Membership.objects.select_for_update().select_related("user", "project").get(pk=membership.pk)
        if stored.user_id == user.pk:
            return stored
        old_email = stored.user.email
        if Membership.objects.filter(project_id=stored.project_id, user=user).exists():
            raise MembershipRefused(f"{user.email} is already a member of this project.")
        stored.user = user
        stored.save(update_fields=["user"])
        record_event(
            project=stored.project,
            kind=EventKind.MEMBER_REMOVED,
            actor=actor,
            subject=old_email,
            details={"role": stored.role, "moved_to": user.email},
        )
        record_event(
            project=stored.project,
            kind=EventKind.MEMBER_ADDED,
            actor=actor,
            subject=user.email,
            details={"role": stored.role, "moved_from": old_email},
        )
    membership.user = user
    return stored


def membership_remove(*, membership: Membership, actor: Actor) -> None:
    """Remove someone else from the project."""
    if membership.role == Role.OWNER:
        raise MembershipRefused("The owner cannot be removed.")
    if actor.user is not None and membership.user_id == actor.user.pk:
        raise MembershipRefused("You cannot remove yourself; leave the project instead.")
    membership_delete_logged(membership=membership, kind=EventKind.MEMBER_REMOVED, actor=actor)


def membership_delete_logged(*, membership: Membership, kind: str, actor: Actor) -> None:
    """Delete a membership and log it (removed or left) in one transaction. No rules: callers
    check theirs first (the admin lets operators remove anyone, owners included)."""
    with transaction.atomic():
        record_event(
            project=membership.project,
            kind=kind,
            actor=actor,
            subject=membership.user.email,
            details={"role": membership.role},
        )
        membership.delete()


def membership_leave(*, membership: Membership, actor: Actor) -> None:
    """A member leaves the project on their own. The owner cannot leave it."""
    if membership.role == Role.OWNER:
        raise MembershipRefused("The owner cannot leave the project.")
    membership_delete_logged(membership=membership, kind=EventKind.MEMBER_LEFT, actor=actor)
