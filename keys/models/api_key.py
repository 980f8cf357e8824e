import functools
import ipaddress
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.dispatch import Signal
from django.utils import timezone

from projects.models import Project

from .. import keygen

STALE_AFTER = timedelta(days=90)  # a badge suggests rotating keys older than this
EXPIRES_SOON = timedelta(days=7)  # the **Expires soon** badge, and the first expiry reminder
RATE_LIMIT_MAX = 1_000_000  # requests a minute; a per-key override above this is a typo
RATE_LIMIT_MESSAGE = (
    f"Choose a rate limit from 1 to {RATE_LIMIT_MAX:,} requests a minute, or leave it empty for the default."
)


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


class KeyState(models.TextChoices):
    """What was decided about a key. A revocation is a state: it holds on every host at once,
    whatever their clocks say (never a time compared across machines)."""

    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"


class Status(models.TextChoices):
    """What a key is at a given instant: `key_status` (and `status_q`, its SQL form) decide it."""

    ACTIVE = "active", "Active"
    ROTATING = "rotating", "Rotating"  # replaced, still working until its grace period ends
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


AUTHENTICATING = (Status.ACTIVE, Status.ROTATING)


def key_status(*, state: str, stops_at, expires_at, now) -> Status:
    """THE status rule of a key, in one place. The state decides a revocation; only the end of
    a rotation grace period (`stops_at`) and expiry are judged by the clock."""
    if state == KeyState.REVOKED or (stops_at is not None and stops_at <= now):
        return Status.REVOKED
    if expires_at is not None and expires_at <= now:
        return Status.EXPIRED
    if stops_at is not None:
        return Status.ROTATING
    return Status.ACTIVE


def status_q(status: str, now) -> models.Q:
    """`key_status` as a filter: keys whose status at `now` is `status` (tests check they agree)."""
    not_stopped = models.Q(stops_at__isnull=True) | models.Q(stops_at__gt=now)
    not_expired = models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
    live = models.Q(state=KeyState.ACTIVE) & not_stopped
    if status == Status.REVOKED:
        return models.Q(state=KeyState.REVOKED) | models.Q(stops_at__lte=now)
    if status == Status.EXPIRED:
        return live & models.Q(expires_at__lte=now)
    if status == Status.ROTATING:
        return live & not_expired & models.Q(stops_at__isnull=False)
    if status == Status.ACTIVE:
        return live & not_expired & models.Q(stops_at__isnull=True)
    raise ValueError(f"unknown key status {status!r}")


def authenticating_q(now) -> models.Q:
    return status_q(Status.ACTIVE, now) | status_q(Status.ROTATING, now)


# Sent with `key_hashes` whenever key rows change other than through save() / delete() (which
# send Django's own post_save / post_delete): the runtime API drops its cached records.
key_rows_changed = Signal()
# Fields outside the API's record (api/keycache.py): updating only these needs no invalidation.
BOOKKEEPING_FIELDS = {
    "last_used_at",
    "last_used_ip",
    "last_used_user_agent",
    "reminded_7d_at",
    "reminded_1d_at",
    "reminded_unused_at",
}


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
        """Keys that authenticate right now: Active, or Rotating (inside a rotation grace period)."""
        return self.filter(authenticating_q(now or timezone.now()))

    def counted_toward_limit(self, now=None):
        """Keys that hold a place under the per-project limit. A Rotating key and its successor hold
        ONE place together (the successor's); a Rotating key whose successor no longer
        authenticates holds its own. A lineage never has more than two authenticating keys (rotating
        a key ends its predecessor's grace period), so a project never has more than twice the
        limit of keys that authenticate."""
        now = now or timezone.now()
        successor_authenticates = models.Exists(
            self.model.objects.filter(authenticating_q(now), rotated_from=models.OuterRef("pk"))
        )
        return self.usable(now).exclude(models.Q(stops_at__isnull=False) & successor_authenticates)

    def with_status(self, status: str, now=None):
        return self.filter(status_q(status, now or timezone.now()))


@functools.lru_cache(maxsize=4096)
def _networks(entries: tuple[str, ...]) -> tuple:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # never stored by the services; a hand-edited row allows nothing more
    return tuple(networks)


def ip_in_networks(address: str | None, entries: tuple[str, ...]) -> bool:
    """Whether `address` lies in one of the networks `entries` (IPv4-mapped IPv6 counts as IPv4)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == network.version and ip in network for network in _networks(entries))


class Kind(models.TextChoices):
    PROJECT = "project", "Project key"
    ACCOUNT = "account", "Account key"


class ApiKey(models.Model):
    """An API key. Only a hash of the secret is stored; the plaintext is shown once.

    A key belongs either to a project (a *project key*: acts on that project only) or to a person
    (an *account key*: acts on the projects of its scope, `all_projects` or `scope_projects`, while
    the person is a member there, with no more than their role allows). A check constraint says
    exactly one holder. Everything else (services, record cache, rate limits, usage, events) is
    shared by both kinds.
    """

    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="account_keys",
        help_text="The person holding an account key (empty for a project key).",
    )
    all_projects = models.BooleanField(
        default=False, help_text="Account keys: act on all of the holder's projects (else on scope_projects)."
    )
    scope_projects = models.ManyToManyField(
        Project,
        blank=True,
        related_name="scoped_account_keys",
        help_text="Account keys: the chosen projects (when not all_projects).",
    )
    name = models.CharField(max_length=64)
    # A Sandbox's test key (`nbq_test_`, keys/sandbox.py); every other key is `nbq_live_`.
    is_test = models.BooleanField("Test key", default=False, editable=False)
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
    # Revoked is final and holds everywhere at once; see `key_status`.
    state = models.CharField(max_length=8, choices=KeyState.choices, default=KeyState.ACTIVE, editable=False)
    # The end of a rotation grace period: the replaced key keeps working until then (judged by the clock).
    stops_at = models.DateTimeField("Stops at", null=True, blank=True, editable=False)
    # When the key was revoked (informational: the state decides, not this time).
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    # Paused (Disable / Enable, `keys.services.api_key_disable`): a disabled key answers 401
    # `disabled_api_key` and keeps everything else, its place under the limit included.
    disabled_at = models.DateTimeField("Disabled at", null=True, blank=True, editable=False)
    disabled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    rotated_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rotated_to", editable=False
    )
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    # The client's User-Agent at that last use, truncated (api/usage.py: USER_AGENT_LENGTH).
    last_used_user_agent = models.CharField(max_length=200, blank=True, default="", editable=False)
    allowed_ips = models.JSONField(
        "Allowed IP addresses",
        default=list,
        blank=True,
        editable=False,
        help_text="Networks (CIDR, IPv4 or IPv6) the key may be used from; empty: anywhere.",
    )
    # Reminders mailed (`keys.reminders`): each is sent once per key.
    reminded_7d_at = models.DateTimeField(null=True, blank=True, editable=False)
    reminded_1d_at = models.DateTimeField(null=True, blank=True, editable=False)
    reminded_unused_at = models.DateTimeField(null=True, blank=True, editable=False)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Requests per minute for this key; empty uses the default.",
        # The services' range, on the column too: no path (admin, shell, a form) stores what they refuse.
        validators=[
            MinValueValidator(1, message=RATE_LIMIT_MESSAGE),
            MaxValueValidator(RATE_LIMIT_MAX, message=RATE_LIMIT_MESSAGE),
        ],
    )

    objects = ApiKeyQuerySet.as_manager()

    # Not columns: set on instances by their readers. An account key's reach (api.auth, api.keycache)
    # and a key's place in the console's list of lineages (keys.views.key_holders.lineage_order).
    access: dict
    policy_cap: list[str] | None  # its project's key policy's permission cap (api.acting; keys.policy)
    policy_reasons: list[str]  # why it is Out of policy (keys.policy.out_of_policy_reasons)
    lineage_depth: int
    list_status: str  # the console list's badge: the status, or "disabled" (keys.views.key_list)

    class Meta:
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "-created_at"], name="apikey_project_created_idx"),
            models.Index(fields=["owner", "-created_at"], name="apikey_owner_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~models.Q(permissions=[]), name="apikey_has_permissions"),
            models.CheckConstraint(
                condition=(
                    models.Q(project__isnull=False, owner__isnull=True)
                    | models.Q(project__isnull=True, owner__isnull=False)
                ),
                name="apikey_one_holder",
            ),
            models.CheckConstraint(condition=models.Q(state__in=KeyState.values), name="apikey_state_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    def save(self, *args, **kwargs):
        # Revocation is final: a revoked key never comes back.
        if self.pk and self.state != KeyState.REVOKED:
            previous = type(self).objects.filter(pk=self.pk).values_list("state", flat=True).first()
            if previous == KeyState.REVOKED:
                raise ValidationError("A revoked key cannot be reactivated.")
        super().save(*args, **kwargs)

    # --- kind and holder -------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return Kind.ACCOUNT if self.owner_id is not None else Kind.PROJECT

    @property
    def is_account_key(self) -> bool:
        return self.owner_id is not None

    def holder_filter(self) -> dict:
        """Keyword filter for the keys of the same holder (project or person)."""
        return {"owner_id": self.owner_id} if self.is_account_key else {"project_id": self.project_id}

    # --- status, judged at the moment of use (by `key_status`, nowhere else) -------------------
    def status_at(self, now) -> Status:
        return key_status(state=self.state, stops_at=self.stops_at, expires_at=self.expires_at, now=now)

    @property
    def status(self) -> Status:
        return self.status_at(timezone.now())

    @property
    def status_label(self) -> str:
        return self.status.label

    @property
    def in_grace_period(self) -> bool:
        return self.status == Status.ROTATING

    @property
    def authenticates(self) -> bool:
        return self.status in AUTHENTICATING

    @property
    def is_disabled(self) -> bool:
        """Paused: the key would authenticate but answers 401 `disabled_api_key` until enabled."""
        return self.disabled_at is not None

    @property
    def can_rotate(self) -> bool:
        """Only an Active key (not one already rotated, revoked or expired) can be rotated."""
        return self.status == Status.ACTIVE

    @property
    def stopped_at(self):
        """When the key stopped working, if it was revoked or its grace period ended (informational)."""
        if self.state == KeyState.REVOKED:
            return self.revoked_at
        return self.stops_at if self.status == Status.REVOKED else None

    @property
    def is_stale(self) -> bool:
        return self.status == Status.ACTIVE and timezone.now() - self.created_at > STALE_AFTER

    @property
    def prefix(self) -> str:
        return keygen.TEST_PREFIX if self.is_test else keygen.LIVE_PREFIX

    @property
    def masked(self) -> str:
        return keygen.mask(self.last4, self.prefix)

    @property
    def sorted_permissions(self) -> list[str]:
        return [p for p in PERMISSION_ORDER if p in self.permissions]

    def has_permission(self, permission: str) -> bool:
        return permission in self.permissions

    def allows_ip(self, address: str | None) -> bool:
        """Whether a request from `address` may use the key (no allow-list: from anywhere)."""
        if not self.allowed_ips:
            return True
        return ip_in_networks(address, tuple(self.allowed_ips))

    @property
    def expires_soon(self) -> bool:
        """Active, and 7 days or less left (the list's **Expires soon** badge)."""
        return (
            self.expires_at is not None
            and self.status == Status.ACTIVE
            and self.expires_at - timezone.now() <= EXPIRES_SOON
        )

    @property
    def rate_limit(self) -> int:
        return self.rate_limit_per_minute or settings.API_KEY_RATE_LIMIT_PER_MINUTE
