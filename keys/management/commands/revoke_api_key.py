from keys.management.key_action import KeyActionCommand
from keys.services import api_key_revoke


class Command(KeyActionCommand):
    help = "Revoke an API key at once, by its Key ID (incident response)."
    action = api_key_revoke
    done = "Revoked"
