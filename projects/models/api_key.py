from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.dispatch import Signal
from django.utils import timezone

from .. import keygen
from .project import Project

STALE_AFTER = timedelta(days=90)  # a badge suggests rotating keys older than this


class Permission(models.TextChoices):
    CREATE = "create", "Create"
    READ = "read", "Read"
    WRITE = "write", "Write"
    DELETE = "delete", "Delete"
    INVITE = "invite", "Invite"


PERMISSION_ORDER = [p.value for p in Permission]
# What each permission allows on the runtime API, shown beside its checkbox.
PERMISSION_HELP = {
    Permission.CREATE: "Add questions (POST /questions).",
    Permission.READ: "List questions, fetch one, and ask for the next question.",
    Permission.WRITE: "Change questions (PATCH /questions/{id}).",
    Permission.DELETE: "Remove questions (DELETE /questions/{id}).",
    Permission.INVITE: "Invite people to the project as viewers.",
}


class ExpiryRule(models.TextChoices):
    DAYS_7 = "7", "7 days"
    DAYS_30 = "30", "30 days"
    DAYS_60 = "60", "60 days"
    DAYS_90 = "90", "90 days"
    YEAR = "365", "1 year"
    DATE = "date", "Custom date"
    NEVER = "never", "No expiration"


class Status(models.TextChoices):
    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


ROTATING = "rotating"  # shown for an old key inside its rotation grace period


def _not_revoked(now):
    return models.Q(revoked_at__isnull=True) | models.Q(revoked_at__gt=now)


def _not_expired(now):
    return models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)


# Sent with `key_hashes` whenever key rows change other than through save() / delete() (which
# send Django's own post_save / post_delete): the runtime API drops its cached records.
key_rows_changed = Signal()
BOOKKEEPING_FIELDS = {"last_used_at", "last_used_ip"}


class ApiKeyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        if set(kwargs) <= BOOKKEEPING_FIELDS:
            return super().update(**kwargs)
        hashes = list(self.values_list("key_hash", flat=True))
        key_rows_changed.send(sender=ApiKey, key_hashes=hashes)
        updated = super().update(**kwargs)
        key_rows_changed.send(sender=ApiKey, key_hashes=hashes)
        return updated

    def usable(self, now=None):
        """Keys that authenticate right now (including old keys inside a rotation grace period)."""
        now = now or timezone.now()
        return self.filter(_not_revoked(now), _not_expired(now))

    def counted_toward_limit(self, now=None):
        """Keys that count toward the per-project limit: not revoked (nor scheduled to be), not expired."""
        now = now or timezone.now()
        return self.filter(_not_expired(now), revoked_at__isnull=True)

    def with_status(self, status: str, now=None):
        now = now or timezone.now()
        if status == Status.REVOKED:
            return self.filter(revoked_at__lte=now)
        if status == Status.EXPIRED:
            return self.filter(_not_revoked(now), expires_at__lte=now)
        return self.usable(now)


class ApiKey(models.Model):
    """An API key of a project. Only a hash of the secret is stored; the plaintext is shown once."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=64)
    key_id = models.CharField("Key ID", max_length=32, unique=True, default=keygen.new_key_id, editable=False)
    key_hash = models.CharField(max_length=128, unique=True, editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    permissions = models.JSONField(default=list)
    expiry_rule = models.CharField(max_length=8, choices=ExpiryRule.choices, default=ExpiryRule.DAYS_90)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    # When the key stopped working. After a rotation with a grace period it lies in the future:
    # the old key keeps working until then ("grace period end").
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    rotated_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rotated_to", editable=False
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests per minute for this key; empty uses the default."
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="apikey_project_created_idx")]
        constraints = [
            models.CheckConstraint(condition=~models.Q(permissions=[]), name="apikey_has_permissions"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    # --- status, judged at the moment of use -----------------------------------------------
    def status_at(self, now) -> str:
        if self.revoked_at is not None and self.revoked_at <= now:
            return Status.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return Status.EXPIRED
        return Status.ACTIVE

    @property
    def status(self) -> str:
        return self.status_at(timezone.now())

    @property
    def status_label(self) -> str:
        return Status(self.status).label

    @property
    def console_status(self) -> str:
        """The one status the console shows: ``status``, with "rotating" for an old key inside its
        rotation grace period (it still works, and stops at ``grace_ends_at``)."""
        status = self.status
        if status == Status.ACTIVE and self.in_grace_period:
            return ROTATING
        return status

    @property
    def console_status_label(self) -> str:
        status = self.console_status
        return "Rotating" if status == ROTATING else Status(status).label

    @property
    def grace_ends_at(self):
        """When an old key inside its rotation grace period stops working (None otherwise)."""
        return self.revoked_at if self.in_grace_period else None

    @property
    def in_grace_period(self) -> bool:
        return self.revoked_at is not None and self.revoked_at > timezone.now()

    @property
    def is_stale(self) -> bool:
        return self.status == Status.ACTIVE and not self.in_grace_period and timezone.now() - self.created_at > STALE_AFTER

    @property
    def masked(self) -> str:
        return keygen.mask(self.last4)

    @property
    def sorted_permissions(self) -> list[str]:
        return [p for p in PERMISSION_ORDER if p in self.permissions]

    def has_permission(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def rate_limit(self) -> int:
        return self.rate_limit_per_minute or settings.API_KEY_RATE_LIMIT_PER_MINUTE

    def clean(self) -> None:
        unknown = set(self.permissions or []) - set(PERMISSION_ORDER)
        if not self.permissions or unknown:
            raise ValidationError({"permissions": "Choose at least one of: " + ", ".join(PERMISSION_ORDER) + "."})

    def save(self, *args, **kwargs):
        # Revocation is final: a revoked key never comes back.
        if self.pk and self.revoked_at is None:
            previous = type(self).objects.filter(pk=self.pk).values_list("revoked_at", flat=True).first()
            if previous is not None and previous <= timezone.now():
                raise ValidationError("A revoked key cannot be reactivated.")
        super().save(*args, **kwargs)
