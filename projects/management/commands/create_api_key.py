from django.core.management.base import BaseCommand, CommandError

from projects.actors import Actor
from projects.errors import KeyRuleError
from projects.models import Project
from projects.models.api_key import PERMISSION_ORDER, ExpiryRule
from projects.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a project and print it (once) on stdout. Same rules as the console."

    def add_arguments(self, parser):
        parser.add_argument("project_slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--permissions", required=True, help="Comma-separated: " + ",".join(PERMISSION_ORDER))
        parser.add_argument("--expires-days", type=int, default=None,
                            help="Days until expiry: 7, 30, 60, 90 or 365; 0 for no expiration (default 90).")
        parser.add_argument("--rate-limit", type=int, default=None, help="Requests per minute for this key.")

    def handle(self, *args, project_slug, name, permissions, expires_days, rate_limit, **options):
        try:
            project = Project.objects.get(slug=project_slug)
        except Project.DoesNotExist:
            raise CommandError(f"No project with the slug “{project_slug}”.") from None
        if expires_days is None:
            rule = ExpiryRule.DAYS_90
        elif expires_days == 0:
            rule = ExpiryRule.NEVER
        elif str(expires_days) in ExpiryRule.values:
            rule = str(expires_days)
        else:
            raise CommandError("--expires-days takes 7, 30, 60, 90, 365, or 0 for no expiration.")
        if rate_limit is not None and rate_limit < 1:
            raise CommandError("--rate-limit must be a positive number of requests per minute.")
        chosen = [p.strip() for p in permissions.split(",") if p.strip()]
        try:
            key, plaintext = api_key_create(
                project=project, name=name, permissions=chosen, expiry_rule=rule,
                actor=Actor.cli(), rate_limit_per_minute=rate_limit,
            )
        except KeyRuleError as exc:
            raise CommandError(exc.message) from None
        # Through self.stdout (not sys.stdout), so call_command(stdout=...) and scripts capture it alike.
        self.stdout.write(plaintext)
        self.stdout.flush()
        self.stderr.write(f"Created {key.key_id} “{key.name}” in {project.slug}. It will not be shown again.")
