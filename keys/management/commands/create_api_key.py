from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from keys.models.api_key import PERMISSION_ORDER, ExpiryRule
from keys.services import api_key_create, scope_label
from keys_console.errors import RefusalCommand
from projects.actors import Actor
from projects.models import Project


class Command(RefusalCommand):
    help = (
        "Create an API key and print it (once) on stdout. Same rules as the console. A project key: "
        "create_api_key <project-slug> …; an account key: create_api_key --account EMAIL --projects a,b|all …"
    )

    def add_arguments(self, parser):
        parser.add_argument("project_slug", nargs="?")
        parser.add_argument("--account", help="Email of the person who holds the new account key.")
        parser.add_argument("--projects", help="With --account: comma-separated project slugs, or `all`.")
        parser.add_argument("--name", required=True)
        parser.add_argument("--permissions", required=True, help="Comma-separated: " + ",".join(PERMISSION_ORDER))
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help="Days until expiry: 7, 30, 60, 90 or 365; 0 for no expiration (default 90).",
        )
        parser.add_argument("--rate-limit", type=int, default=None, help="Requests per minute for this key.")
        parser.add_argument(
            "--allowed-ips",
            default=None,
            help="Comma-separated addresses or CIDR ranges the key may be used from, e.g. "
            "10.0.0.0/8,2001:db8::/32 (default: anywhere).",
        )

    def handle(
        self,
        *args,
        project_slug,
        name,
        permissions,
        expires_days,
        rate_limit,
        account=None,
        projects=None,
        allowed_ips=None,
        **options,
    ):
        holder = self._holder(project_slug, account, projects)
        if expires_days is None:
            rule = ExpiryRule.DAYS_90
        elif expires_days == 0:
            rule = ExpiryRule.NEVER
        elif str(expires_days) in ExpiryRule.values:
            rule = str(expires_days)
        else:
            raise CommandError("--expires-days takes 7, 30, 60, 90, 365, or 0 for no expiration.")
        chosen = [p.strip() for p in permissions.split(",") if p.strip()]
        # A refusal (the rate limit's range, the gate, the key limit, ...) says the console's sentence
        # on stderr with exit status 1 (RefusalCommand).
        key, plaintext = api_key_create(
            name=name,
            permissions=chosen,
            expiry_rule=rule,
            actor=Actor.cli(),
            rate_limit_per_minute=rate_limit,
            allowed_ips=allowed_ips,
            **holder,
        )
        # Through self.stdout (not sys.stdout), so call_command(stdout=...) and scripts capture it alike.
        self.stdout.write(plaintext)
        self.stdout.flush()
        where = f"in {key.project.slug}" if key.project else f"for {key.owner.email} ({_scope_words(key)})"
        self.stderr.write(f"Created {key.key_id} “{key.name}” {where}. It will not be shown again.")

    @staticmethod
    def _holder(project_slug, account, projects) -> dict:
        if account is None:
            if project_slug is None or projects is not None:
                raise CommandError(
                    "Name a project (create_api_key <project-slug> …) or an account "
                    "(--account EMAIL --projects a,b|all)."
                )
            try:
                return {"project": Project.objects.get(slug=project_slug)}
            except Project.DoesNotExist:
                raise CommandError(f"No project with the slug “{project_slug}”.") from None
        if project_slug is not None:
            raise CommandError("An account key takes --projects, not a project slug.")
        try:
            owner = get_user_model().objects.get_by_natural_key(account.strip())
        except get_user_model().DoesNotExist:
            raise CommandError(f"No account with the email “{account}”.") from None
        slugs = [s.strip() for s in (projects or "").split(",") if s.strip()]
        if not slugs:
            raise CommandError("--projects takes comma-separated project slugs, or `all`.")
        if slugs == ["all"]:
            return {"owner": owner, "all_projects": True}
        found = {p.slug: p for p in Project.objects.filter(slug__in=slugs)}
        missing = [s for s in slugs if s not in found]
        if missing:
            raise CommandError("No project with the slug " + ", ".join(f"“{s}”" for s in missing) + ".")
        return {"owner": owner, "projects": [found[s] for s in slugs]}


def _scope_words(key) -> str:
    """An account key's scope in words: "all projects" or "projects: a, b"."""
    scope = scope_label(key)
    return "all projects" if scope == "all" else "projects: " + ", ".join(scope)
