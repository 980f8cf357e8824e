"""Keys age well: reminders mailed before a key expires, and about keys nobody uses.

`send_key_reminders` (the `send_key_reminders` command, for cron, e.g. hourly) mails, once per key:

- **7 days or less left** (`reminded_7d_at`), and again at **1 day or less** (`reminded_1d_at`); a
  key found with a day or less left gets only the second (and counts as reminded at 7 days too);
- **unused for 90 days** (`reminded_unused_at`): never used and made 90 days ago, or last used 90
  days ago.

Only Active keys (not rotating out, revoked or expired). Each reminder is claimed with a
conditional UPDATE before its mail goes out, so two runs at once, or a run repeated, never send it
twice. The mail goes to the person (personal keys) or the project's owners and admins
(`keys.notify`), and the key's log gets a REMINDER_SENT line.
"""

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from projects.actors import Actor
from projects.models.event import EventKind

from .models import ApiKey
from .models.api_key import EXPIRES_SOON, Status
from .notify import send_key_mail
from .services import record_key_event

logger = logging.getLogger("keys")

LAST_DAY = timedelta(days=1)
UNUSED_FOR = timedelta(days=90)
ACTOR = Actor(user=None, label="reminders")
# Sent at the end of every run, with `now`: higher layers add their own reminders (webhooks' key.expiring).
reminders_sent = Signal()


@dataclass
class Sent:
    expires_7d: list[str] = field(default_factory=list)
    expires_1d: list[str] = field(default_factory=list)
    unused_90d: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.expires_7d) + len(self.expires_1d) + len(self.unused_90d)


def send_key_reminders(now: datetime | None = None) -> Sent:
    now = now or timezone.now()
    sent = Sent()
    active = ApiKey.objects.with_status(Status.ACTIVE, now).select_related("project", "owner")
    for key in active.filter(expires_at__lte=now + LAST_DAY, reminded_1d_at__isnull=True):
        if _claim(key, now, "reminded_1d_at", also="reminded_7d_at"):
            _tell(key, "expires_1d", now)
            sent.expires_1d.append(key.key_id)
    for key in active.filter(expires_at__lte=now + EXPIRES_SOON, reminded_7d_at__isnull=True):
        if _claim(key, now, "reminded_7d_at"):
            _tell(key, "expires_7d", now)
            sent.expires_7d.append(key.key_id)
    idle = Q(last_used_at__lte=now - UNUSED_FOR) | Q(last_used_at__isnull=True, created_at__lte=now - UNUSED_FOR)
    for key in active.filter(idle, reminded_unused_at__isnull=True):
        if _claim(key, now, "reminded_unused_at"):
            _tell(key, "unused_90d", now)
            sent.unused_90d.append(key.key_id)
    reminders_sent.send(sender=ApiKey, now=now)
    return sent


def _claim(key: ApiKey, now: datetime, field_name: str, also: str | None = None) -> bool:
    """Mark the reminder as sent, if no one has: True when this run sends it."""
    changes = {field_name: now}
    if also is not None:
        changes[also] = getattr(key, also) or now
    return ApiKey.objects.filter(pk=key.pk, **{f"{field_name}__isnull": True}).update(**changes) == 1


def _tell(key: ApiKey, reminder: str, now: datetime) -> None:
    left = key.expires_at - now if key.expires_at is not None else None
    context = {
        "reminder": reminder,
        "expires_at": key.expires_at,
        "days_left": max(0, math.ceil(left.total_seconds() / 86400)) if left is not None else None,
        "hours_left": max(0, int(left.total_seconds() // 3600)) if left is not None else None,
        "last_used_at": key.last_used_at,
    }
    mailed = send_key_mail(key, "reminder", context)
    record_key_event(
        key=key, kind=EventKind.REMINDER_SENT, actor=ACTOR, details={"reminder": reminder, "mailed": mailed}
    )
    logger.info("Key reminder %s for %s (mailed: %s)", reminder, key.key_id, mailed)
