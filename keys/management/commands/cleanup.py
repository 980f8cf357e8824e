from django.core.management.base import BaseCommand, CommandError

from keys.maintenance import DEFAULT_INVITATION_DAYS, DEFAULT_USAGE_DAYS, cleanup


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise CommandError(f"“{value}” is not a whole number of days.") from None
    if days < 0:
        raise CommandError("The number of days cannot be negative.")
    return days


class Command(BaseCommand):
    help = (
        "Remove invitations expired or accepted more than --invitation-days ago and daily key usage older "
        "than --usage-days. Idempotent; safe to run from cron (e.g. daily)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--invitation-days",
            type=_days,
            default=DEFAULT_INVITATION_DAYS,
            help=f"keep invitations this long after expiry or acceptance (default {DEFAULT_INVITATION_DAYS})",
        )
        parser.add_argument(
            "--usage-days",
            type=_days,
            default=DEFAULT_USAGE_DAYS,
            help=f"keep daily key usage this many days (default {DEFAULT_USAGE_DAYS})",
        )
        parser.add_argument("--dry-run", action="store_true", help="count what would be removed; remove nothing")

    def handle(self, *args, invitation_days, usage_days, dry_run, **options):
        result = cleanup(invitation_days=invitation_days, usage_days=usage_days, dry_run=dry_run)
        verb = "Would remove" if dry_run else "Removed"
        self.stdout.write(f"{verb} {result.invitations} invitation(s) and {result.usage_days} usage row(s).")
