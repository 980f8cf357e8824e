"""Housekeeping that cron runs (`manage.py cleanup`): rows that no page needs any more.

- Invitations: one that was never accepted is listed as *Expired* on the Members tab for
  `invitation_days` after it expired, then removed; an accepted one is removed `invitation_days`
  after its acceptance (the membership and the event log keep the history; the dead token goes).
- Key usage: rows of days older than `usage_days` (the key's chart shows the last 30 days, the
  Usage tab and `GET /api/v1/usage` at most 90): the daily totals (`KeyUsageDay`), an account
  key's per project (`KeyProjectUsageDay`), the counts per endpoint and outcome
  (`KeyUsageCount`), and the addresses a key was last seen from longer ago (`KeyAddress`).

Idempotent: a second run finds nothing more to remove. Each kind is one DELETE, so a run that
overlaps another (two crons) only finds fewer rows.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from projects.models import Invitation

from .models import KeyAddress, KeyProjectUsageDay, KeyUsageCount, KeyUsageDay

DEFAULT_INVITATION_DAYS = 30
DEFAULT_USAGE_DAYS = 400


@dataclass(frozen=True)
class CleanupResult:
    invitations: int
    usage_days: int


def stale_invitations(now: datetime, days: int):
    cutoff = now - timedelta(days=days)
    return Invitation.objects.filter(
        Q(accepted_at__isnull=True, expires_at__lt=cutoff) | Q(accepted_at__isnull=False, accepted_at__lt=cutoff)
    )


def old_usage(now: datetime, days: int):
    """The daily totals older than `days` days (see `old_usage_rows` for every kind of usage row)."""
    return KeyUsageDay.objects.filter(day__lt=(now - timedelta(days=days)).date())


def old_usage_rows(now: datetime, days: int) -> list:
    """Every kind of usage row older than `days` days, one queryset each."""
    first_kept = (now - timedelta(days=days)).date()
    return [
        old_usage(now, days),
        KeyProjectUsageDay.objects.filter(day__lt=first_kept),
        KeyUsageCount.objects.filter(day__lt=first_kept),
        KeyAddress.objects.filter(last_seen__lt=now - timedelta(days=days)),
    ]


def cleanup(
    *,
    invitation_days: int = DEFAULT_INVITATION_DAYS,
    usage_days: int = DEFAULT_USAGE_DAYS,
    dry_run: bool = False,
    now: datetime | None = None,
) -> CleanupResult:
    if invitation_days < 0 or usage_days < 0:
        raise ValueError("the number of days to keep cannot be negative")
    now = now or timezone.now()
    invitations, usage = stale_invitations(now, invitation_days), old_usage_rows(now, usage_days)
    if dry_run:
        return CleanupResult(invitations=invitations.count(), usage_days=sum(rows.count() for rows in usage))
    removed_invitations, _ = invitations.delete()
    removed_usage = sum(rows.delete()[0] for rows in usage)
    return CleanupResult(invitations=removed_invitations, usage_days=removed_usage)
