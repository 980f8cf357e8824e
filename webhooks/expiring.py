"""`key.expiring`: 30, 7 and 1 days before a key expires, each once per key.

`manage.py send_key_reminders` (keys/reminders.py, for cron) sends `reminders_sent` at the end of
every run; this looks at the Active keys of projects that have an endpoint and expire within 30
days. A notice is claimed by inserting its (key, days) row under a unique constraint before its
messages are queued, so two runs, or a run repeated, never send it twice; a key first seen with a
day left gets only the 1-day notice (the 7- and 30-day ones count as sent).
"""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from keys.models import ApiKey
from keys.models.api_key import Status
from keys.services import projects_in_scope

from .models import Endpoint, ExpiryNotice
from .outbox import key_facts, queue

THRESHOLDS = (1, 7, 30)


def on_reminders_sent(sender, now: datetime, **kwargs) -> None:
    send_expiring(now)


def send_expiring(now: datetime) -> int:
    """Queue the `key.expiring` notices that are due; returns how many were claimed."""
    with_endpoints = set(Endpoint.objects.filter(enabled=True).values_list("project_id", flat=True))
    if not with_endpoints:
        return 0
    keys = (
        ApiKey.objects.with_status(Status.ACTIVE, now)
        .filter(expires_at__gt=now, expires_at__lte=now + timedelta(days=max(THRESHOLDS)))
        .select_related("project", "owner")
    )
    claimed = 0
    for key in keys:
        if key.is_account_key:
            projects = [p for p in projects_in_scope(key) if p.pk in with_endpoints]
        else:
            projects = [key.project] if key.project_id in with_endpoints else []
        if not projects:
            continue
        days = next(d for d in THRESHOLDS if key.expires_at <= now + timedelta(days=d))
        with transaction.atomic():
            try:
                with transaction.atomic():
                    ExpiryNotice.objects.create(key=key, days=days, sent_at=now)
            except IntegrityError:
                continue  # sent already
            ExpiryNotice.objects.bulk_create(
                [ExpiryNotice(key=key, days=d, sent_at=now) for d in THRESHOLDS if d > days], ignore_conflicts=True
            )
            left = key.expires_at - now
            for project in projects:
                endpoints = [
                    e for e in Endpoint.objects.filter(project=project, enabled=True) if e.wants("key.expiring")
                ]
                if endpoints:
                    data = {
                        "project": project.slug,
                        "actor": "reminders",
                        "key": key_facts(key),
                        "days": days,
                        "hours_left": int(left.total_seconds() // 3600),
                    }
                    queue(endpoints, "key.expiring", data, at=now)
        claimed += 1
    return claimed
