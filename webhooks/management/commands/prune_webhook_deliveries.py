from django.core.management.base import BaseCommand

from webhooks.delivery import KEEP_DELIVERIES, prune


class Command(BaseCommand):
    help = f"Delete webhook messages (and their tries) written more than {KEEP_DELIVERIES.days} days ago (for cron)."

    def handle(self, *args, **options):
        deleted = prune()
        self.stdout.write(f"{deleted} webhook message{'' if deleted == 1 else 's'} deleted.")
