from django.core.management.base import BaseCommand

from webhooks.delivery import send_due


class Command(BaseCommand):
    help = (
        "Send the webhook retries that are due (for cron). Production's task worker runs each retry at "
        "its time by itself; this catches up where the task backend cannot run tasks later."
    )

    def handle(self, *args, **options):
        made = send_due()
        self.stdout.write(f"{made} webhook retr{'y' if made == 1 else 'ies'} sent.")
