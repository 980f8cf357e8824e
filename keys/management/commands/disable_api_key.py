from keys.management.key_action import KeyActionCommand
from keys.services import api_key_disable


class Command(KeyActionCommand):
    help = "Disable (pause) an API key by its Key ID: it answers 401 disabled_api_key until enabled again."
    action = api_key_disable
    done = "Disabled"
