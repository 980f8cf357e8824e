from keys.management.key_action import KeyActionCommand
from keys.services import api_key_enable


class Command(KeyActionCommand):
    help = "Enable a disabled API key again, by its Key ID: it works as before it was disabled."
    action = api_key_enable
    done = "Enabled"
