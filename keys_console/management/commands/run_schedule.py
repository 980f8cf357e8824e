"""`manage.py run_schedule`: run the periodic commands (keys_console/schedule.py) at their times, for
ever — compose's scheduler service; with systemd, use the timers in deploy/systemd/ instead.
Run it on one host only. A command that fails is logged, and the schedule goes on."""

import logging
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone

from keys_console.schedule import JOBS, due

logger = logging.getLogger("keys_console.schedule")


class Command(BaseCommand):
    help = "Run send_key_reminders, cleanup and prune_db_task_results daily at their times (UTC)."

    def add_arguments(self, parser):
        parser.add_argument("--list", action="store_true", help="print the schedule and exit")

    def handle(self, *args, **options):
        if options["list"]:
            for job in JOBS:
                self.stdout.write(f"{job.at:%H:%M} UTC  {job.command}  ({job.what})")
            return
        while True:
            self.run_next(sleep=time.sleep)

    def run_next(self, *, sleep) -> list[str]:
        """Sleep until the next job(s) are due, run them; the commands run (for tests)."""
        when, jobs = due(timezone.now())
        sleep(max(0.0, (when - timezone.now()).total_seconds()))
        ran = []
        for job in jobs:
            logger.info("schedule: running %s", job.command)
            try:
                call_command(job.command)
            except Exception:
                logger.exception("schedule: %s failed", job.command)
            ran.append(job.command)
        return ran
