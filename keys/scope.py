"""An account key's reach, THE one computation: the console, the event log, the CLI and the
runtime API (api/acting.py) all read these.

- `account_key_reach`: its holder's memberships within its scope, now — none for a deactivated
  holder, never a Sandbox (keys/sandbox.py: only its test keys act on it); `account_keys_reaching`:
  the same rule from a project's side (the account keys that reach it), built on the same parts;
- `scope_label`: the scope as the API, the CLI and the event log show it ("all" or the slugs);
- `role_permissions`: what a member's role lets an account key do in a project (the role cap of
  projects/models/project.py: managing roles get every permission, viewers read only).
"""

from django.db.models import Q, QuerySet

from projects.models import Membership, Project
from projects.models.project import MANAGING_ROLES

from .models.api_key import PERMISSION_ORDER, ApiKey, Permission
from .sandbox import usable_in_account_keys


def _reachable_memberships() -> QuerySet[Membership]:
    """The memberships an account key can act through at all: an active holder, never a Sandbox."""
    return Membership.objects.filter(user__is_active=True, project__in=usable_in_account_keys(Project.objects.all()))


def account_key_reach(key) -> QuerySet[Membership]:
    """The holder's memberships an account key reaches now (select the fields you need)."""
    memberships = _reachable_memberships().filter(user_id=key.owner_id)
    if not key.all_projects:
        memberships = memberships.filter(project__scoped_account_keys=key)
    return memberships


def account_keys_reaching(project: Project, keys: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
    """Of `keys`, the account keys that reach `project` now: `account_key_reach` from the project's
    side (its holder a member through a reachable membership, the project within the key's scope)."""
    holders = _reachable_memberships().filter(project=project).values("user_id")
    return keys.filter(owner__in=holders).filter(Q(all_projects=True) | Q(scope_projects=project)).distinct()


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
