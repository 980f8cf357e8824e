from django.conf import settings
from django.core.management.base import CommandError

from keys.models import ApiKey
from keys.services import api_key_disable
from keys_console.errors import RefusalCommand
from projects.actors import Actor

HELP = {
    "disable": "Disable (pause) an API key by its Key ID: it answers 401 disabled_api_key until enabled again.",
    "enable": "Enable a disabled API key again, by its Key ID: it works as before it was disabled.",
}


class Command(RefusalCommand):
    help = HELP["disable"]

    def add_arguments(self, parser):
        parser.add_argument("key_id")

    def handle(self, *args, key_id, **options):
        try:
            key = ApiKey.objects.select_related("project", "owner").get(key_id=key_id)
        except ApiKey.DoesNotExist:
            raise CommandError(f"No API key with the Key ID “{key_id}”.") from None
        api_key_disable(key=key, actor=Actor.cli())  # a refusal: its sentence on stderr, exit 1 (RefusalCommand)
        where = f"in {key.project.slug}" if key.project else f"(account key of {key.owner.email})"
        self.stdout.write(f"Disabled {key.key_id} “{key.name}” {where}.")
        if not settings.REDIS_URL:
            self.stderr.write(
                "Note: REDIS_URL is not set in this shell. If the API runs with Redis, run this command with the "
                "API's REDIS_URL: otherwise the API may serve its cached copy of the key for up to "
                "API_KEY_RECORD_CACHE_SECONDS (default 10 s)."
            )
