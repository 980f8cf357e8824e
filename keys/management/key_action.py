"""One command shape for the key actions an operator runs by Key ID (`revoke_api_key`,
`disable_api_key`, `enable_api_key`): find the key, run the service as the CLI, say what happened.

A refusal from the service (already revoked, not disabled, ...) is the console's sentence on stderr
with exit status 1 (`RefusalCommand`); an unknown Key ID is a CommandError (exit 1) too.
"""

from collections.abc import Callable

from django.conf import settings
from django.core.management.base import CommandError

from keys.models import ApiKey
from keys_console.errors import RefusalCommand
from projects.actors import Actor

STALE_CACHE_NOTE = (
    "Note: REDIS_URL is not set in this shell. If the API runs with Redis, run this command with the "
    "API's REDIS_URL: otherwise the API may serve its cached copy of the key for up to "
    "API_KEY_RECORD_CACHE_SECONDS (default 10 s)."
)


class KeyActionCommand(RefusalCommand):
    #: The key service to run, called as `action(key=..., actor=Actor.cli())`.
    action: Callable[..., object]
    #: The past participle the command prints: "Revoked", "Disabled", "Enabled".
    done: str

    def add_arguments(self, parser):
        parser.add_argument("key_id")

    def handle(self, *args, key_id, **options):
        try:
            key = ApiKey.objects.select_related("project", "owner").get(key_id=key_id)
        except ApiKey.DoesNotExist:
            raise CommandError(f"No API key with the Key ID “{key_id}”.") from None
        type(self).action(key=key, actor=Actor.cli())
        where = f"in {key.project.slug}" if key.project else f"(account key of {key.owner.email})"
        self.stdout.write(f"{self.done} {key.key_id} “{key.name}” {where}.")
        if not settings.REDIS_URL:
            self.stderr.write(STALE_CACHE_NOTE)
