"""The API's notion of "now": one seam, so tests can stand at an exact instant.

Every decision the runtime API takes about time (key status, expiry, grace periods, the
rate-limit window, the usage day, last use) reads `clock.now()`. Call it through the module
(`from api import clock; clock.now()`) so that monkeypatching `api.clock.now` reaches every caller.
"""

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
