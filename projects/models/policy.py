"""A project's key policy: the team's own rules for the keys that act in it (Settings → Key policy).

The rules themselves live in one function each: `projects.policy` (two-factor authentication of
members) and `keys.policy` (lifetime, allowed IP addresses, allowed permissions, approval of
personal keys), called by the console, the API, the admin and the CLI alike.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .project import Project

# The permissions a key can hold (keys.models.api_key.Permission, in its order; `keys.policy`
# checks they agree: this layer may not import the keys app).
POLICY_PERMISSIONS = ("create", "read", "write", "delete", "invite")
# Maximum key lifetime, in days (None: no maximum), as the Settings tab offers it.
LIFETIME_CHOICES = [
    (None, "No maximum"),
    (7, "7 days"),
    (30, "30 days"),
    (60, "60 days"),
    (90, "90 days"),
    (365, "1 year"),
]


def _all_permissions() -> list[str]:
    return list(POLICY_PERMISSIONS)


class KeyPolicy(models.Model):
    """One project's key policy. A project without a row has the default one: no rule at all."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True, related_name="key_policy")
    max_lifetime_days = models.PositiveIntegerField(
        "Maximum key lifetime (days)", null=True, blank=True, help_text="Empty: no maximum."
    )
    require_allowed_ips = models.BooleanField("Require allowed IP addresses", default=False)
    allowed_permissions = models.JSONField(
        "Allowed permissions", default=_all_permissions, help_text="What any key may do in this project."
    )
    approval_required = models.BooleanField("Personal keys need approval", default=False)
    two_factor_required = models.BooleanField("Require two-factor authentication", default=False)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "key policy"
        verbose_name_plural = "key policies"

    def __str__(self) -> str:
        return f"Key policy of {self.project}"

    @property
    def lifetime_label(self) -> str:
        return dict(LIFETIME_CHOICES).get(self.max_lifetime_days, f"{self.max_lifetime_days} days")

    @property
    def permission_cap(self) -> list[str] | None:
        """The allowed permissions when they exclude any (None: every permission is allowed)."""
        allowed = [p for p in POLICY_PERMISSIONS if p in (self.allowed_permissions or [])]
        return None if len(allowed) == len(POLICY_PERMISSIONS) else allowed

    @property
    def is_default(self) -> bool:
        return not (
            self.max_lifetime_days
            or self.require_allowed_ips
            or self.permission_cap is not None
            or self.approval_required
            or self.two_factor_required
        )
