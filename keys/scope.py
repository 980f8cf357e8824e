"""An account key's reach, THE one computation: the console, the event log, the CLI and the
runtime API (api/acting.py) all read these.

- `account_key_reach`: its holder's memberships within its scope, now — none for a deactivated
  holder, never a Sandbox (keys/sandbox.py: only its test keys act on it);
- `scope_label`: the scope as the API, the CLI and the event log show it ("all" or the slugs);
- `role_permissions`: what a member's role lets an account key do in a project (the role cap of
  projects/models/project.py: managing roles get every permission, viewers read only).
"""

from django.db.models import QuerySet

from projects.models import Membership, Project
from projects.models.project import MANAGING_ROLES

from .models.api_key import PERMISSION_ORDER, Permission
from .sandbox import usable_in_account_keys


def account_key_reach(key) -> QuerySet[Membership]:
    """The holder's memberships an account key reaches now (select the fields you need)."""
    reachable = usable_in_account_keys(Project.objects.all())
    memberships = Membership.objects.filter(user_id=key.owner_id, user__is_active=True, project__in=reachable)
    if not key.all_projects:
        memberships = memberships.filter(project__scoped_account_keys=key)
    return memberships


def projects_in_scope(key) -> QuerySet[Project]:
    """The projects an account key reaches now, by name."""
    return Project.objects.filter(pk__in=account_key_reach(key).values("project_id")).order_by("name", "pk")


def scope_label(key) -> str | list[str]:
    """An account key's scope as the API shows it: "all" or the chosen projects' slugs."""
    if key.all_projects:
        return "all"
    return sorted(key.scope_projects.values_list("slug", flat=True))


def role_permissions(role: str) -> frozenset[str]:
    """The permissions an account key keeps in a project where its holder has `role`."""
    return frozenset(PERMISSION_ORDER) if role in MANAGING_ROLES else frozenset({Permission.READ.value})
