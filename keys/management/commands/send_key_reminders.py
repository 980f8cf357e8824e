from django.core.management.base import BaseCommand

from keys.reminders import send_key_reminders


class Command(BaseCommand):
    help = (
        "Mail the reminders about keys: 7 days and 1 day before expiry, and after 90 days unused (each once "
        "per key). Idempotent; safe to run from cron (e.g. hourly)."
    )

    def handle(self, *args, **options):
        sent = send_key_reminders()
        self.stdout.write(
            f"Sent {len(sent.expires_7d)} reminder(s) at 7 days, {len(sent.expires_1d)} at 1 day, "
            f"{len(sent.unused_90d)} about unused keys."
        )
