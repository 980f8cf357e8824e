"""`createsuperuser` that never pretends: Django's own command, but without a terminal it fails
(exit status 1) instead of printing "skipped" and exiting 0, and `--noinput` without
DJANGO_SUPERUSER_PASSWORD fails instead of creating an admin who cannot log in. Provisioning
scripts (README, docs/deploy.md) then stop where the first admin was not made.

(keys_console is listed first in INSTALLED_APPS so that this command wins over django.contrib.auth's.)
"""

import os

from django.contrib.auth.management.commands import createsuperuser
from django.core.management.base import CommandError


class Command(createsuperuser.Command):
    def handle(self, *args, **options):
        if options["interactive"] and not (hasattr(self.stdin, "isatty") and self.stdin.isatty()):
            raise CommandError(
                "createsuperuser asks for the email and password on a terminal, and there is none: "
                "run it in one, or use --noinput with DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD."
            )
        # Django's own variables, read by Django's command (not settings of this project).
        if not options["interactive"] and not os.environ.get("DJANGO_SUPERUSER_PASSWORD"):
            raise CommandError(
                "--noinput needs DJANGO_SUPERUSER_PASSWORD (and DJANGO_SUPERUSER_EMAIL): "
                "without a password the admin could not log in."
            )
        return super().handle(*args, **options)
