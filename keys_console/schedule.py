"""The periodic commands, in one table: what runs, at what time of day (UTC), on one host only.

deploy/systemd/ has a timer for each (its OnCalendar= is this time; tests/test_schedule.py checks
they agree), compose runs `manage.py run_schedule` (a scheduler service: this table, in a loop), and
docs/deploy.md lists them. Each command is idempotent: running one twice, or on two hosts, does
no harm (reminders are sent once each; a second cleanup finds nothing).
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta


@dataclass(frozen=True)
class Job:
    command: str  # a manage.py command
    at: time  # daily, UTC
    what: str


JOBS = (
    Job("cleanup", time(3, 30), "expired and accepted invitations after 30 days, key usage after 400 days"),
    Job("prune_db_task_results", time(4, 0), "finished mail tasks older than 14 days"),
    Job("prune_webhook_deliveries", time(4, 15), "webhook messages and their tries older than 30 days"),
    Job("send_key_reminders", time(8, 0), "expiry (7 d, 1 d) and 90-days-unused mails, each once"),
)


def next_run(job: Job, now: datetime) -> datetime:
    """The first time at or after `now` (aware, UTC) when `job` is due."""
    today = now.replace(hour=job.at.hour, minute=job.at.minute, second=0, microsecond=0)
    return today if today >= now else today + timedelta(days=1)


def due(now: datetime) -> tuple[datetime, list[Job]]:
    """When the next job(s) are due, and which."""
    runs = {job: next_run(job, now) for job in JOBS}
    first = min(runs.values())
    return first, [job for job, when in runs.items() if when == first]
