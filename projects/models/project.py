import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from keys_console.errors import Refused

INVITATION_LIFETIME = timedelta(days=7)


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    VIEWER = "viewer", "Viewer"


# THE role cap: owners and admins change things (and answer for the project's keys); viewers read.
# Membership.can_manage, the mails about a project's keys (keys/notify.py) and what an account
# key may do in a project (keys/scope.py: role_permissions) all read it.
MANAGING_ROLES = (Role.OWNER, Role.ADMIN)


class ProjectQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(memberships__user=user)


class Project(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=120, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # A person's Sandbox (projects/sandbox.py): made when they confirm their email, with sample
    # questions; its keys are test keys (`nbq_test_`) that act on it alone.
    is_sandbox = models.BooleanField("Sandbox", default=False, editable=False)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("projects:questions", args=[self.slug])


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")]
        ordering = ["project", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"

    @property
    def can_manage(self) -> bool:
        """Owners and admins change things; viewers read."""
        return self.role in MANAGING_ROLES

    def role_change_problem(self, role: str) -> str | None:
        """Why this member cannot be given `role`, or None (the rule of `change_role`)."""
        if self.role == Role.OWNER:
            return "The owner's role cannot be changed."
        if role not in (Role.ADMIN, Role.VIEWER):
            return "Choose Admin or Viewer."
        return None

    def change_role(self, role: str) -> bool:
        """Make this member an admin or a viewer; True if the role changed. A project keeps its one
        owner: the owner's role is not changed here, and nobody becomes owner this way."""
        problem = self.role_change_problem(role)
        if problem:
            raise RoleChangeRefused(problem)
        if role == self.role:
            return False
        self.role = role
        self.save(update_fields=["role"])
        return True


class RoleChangeRefused(Refused):
    code, status = "conflict", 409

    def __init__(self, message: str):
        super().__init__(message, field="role")


def invitation_token_hash(token: str) -> str:
    """The stored form of an invitation token. Tokens carry 256 bits from `secrets`, so one fast
    digest is the right tool (as for API keys): nothing to brute-force, and a unique index finds
    the invitation in one query. The token itself is in the mail only."""
    return hashlib.sha256(token.encode()).hexdigest()


def _unusable_token_hash() -> str:
    # An invitation created without `Invitation.objects.issue()` has a link nobody knows.
    return invitation_token_hash(secrets.token_urlsafe(32))


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def issue(self, **fields) -> tuple["Invitation", str]:
        """Create an invitation; return it and its token (to mail once, never to store)."""
        token = secrets.token_urlsafe(32)
        invitation = self.create(token_hash=invitation_token_hash(token), **fields)
        return invitation, token

    def new_token(self, invitation: "Invitation") -> str:
        """Give `invitation` a new token and a full lifetime from now; return the token (to mail once)."""
        token = secrets.token_urlsafe(32)
        # The replaced link stays dead, but its page can say why (sent again) and whom to ask.
        invitation.previous_token_hash = invitation.token_hash
        invitation.token_hash = invitation_token_hash(token)
        invitation.expires_at = timezone.now() + INVITATION_LIFETIME
        self.filter(pk=invitation.pk).update(
            token_hash=invitation.token_hash,
            previous_token_hash=invitation.previous_token_hash,
            expires_at=invitation.expires_at,
        )
        return token

    def by_token(self, token: str):
        return self.filter(token_hash=invitation_token_hash(token))

    def pending(self):
        return self.filter(accepted_at__isnull=True, expires_at__gt=timezone.now())


def _invitation_expiry():
    return timezone.now() + INVITATION_LIFETIME


class Invitation(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    token_hash = models.CharField(max_length=64, unique=True, default=_unusable_token_hash, editable=False)
    # The link a Resend replaced (the latest one): dead, but its page says it was replaced (#32, finding 7).
    previous_token_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The Key ID of the API key that sent the invitation (the runtime API's POST /invitations).
    invited_via_key_id = models.CharField("Sent with key", max_length=32, blank=True, editable=False)
    invited_via_key_name = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(default=_invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} → {self.project} ({self.role})"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"
