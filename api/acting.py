"""The project a runtime API request acts on: one function for every route.

Every route exists twice: the short form (`/api/v1/questions`) and the project-addressed form
(`/api/v1/projects/{slug}/questions`). Authentication (`api.auth`) calls `bind` once the key is
known to be alive; `bind` decides the project and leaves it on the key as `key.project`, so the
endpoint bodies read `request.auth.project` / `project_id` whatever the kind of key:

- a **project key** acts on its own project; under `/projects/{slug}/` another slug is a 404;
- an **account key** must name the project (`/projects/{slug}/…`; the short form is 400
  `project_required`, except `GET /key`, which describes the key). The project must be in the
  key's scope and the holder a member of it *now* (else 404, as for a project that does not
  exist); the holder's role there caps the key (viewer: read only; `keys.scope.role_permissions`); and the
  project must have its 10 active questions (else 403 `project_locked`).

"Now" without a query per request: the account key's cached record carries its holder's
memberships within the scope (`access`), and a tombstone replaces it whenever one of those
memberships changes (`api.invalidation`); the project's question gate is a record of its own
(`api:proj:<slug>`), read in the same cache round trip as the key and tombstoned by every
question write. Without the cache, both come from the database.
"""

from django.db.models import Count, Q
from django.http import HttpRequest

from keys.scope import account_key_reach, role_permissions, scope_label
from projects.actors import Actor
from projects.gate import gate_for, locked_for_account_keys
from projects.models import Project
from projects.models.event import EventKind

from . import keycache, keyrecord
from .errors import ApiError, NotFound

SHORT_FORM_ALLOWED = {"/key"}  # routes an account key may call without naming a project


class ProjectRequired(ApiError):
    status, code = 400, "project_required"


class ProjectLocked(ApiError):
    status, code = 403, "project_locked"


class KeyNotApproved(ApiError):
    """The project's key policy asks for approval of personal keys, and this one is not approved there."""

    status, code = 403, "key_not_approved"


class TwoFactorRequired(ApiError):
    """The project's key policy requires two-factor authentication, and the key's holder has none."""

    status, code = 403, "two_factor_required"


def requested_slug(request: HttpRequest) -> str | None:
    """The `{slug}` of a project-addressed route, None on the short form."""
    match = getattr(request, "resolver_match", None)
    return match.kwargs.get("slug") if match is not None else None


# --- an account key's reach --------------------------------------------------------------------
def load_access(key) -> dict:
    """From the database: the key's scope and its holder's memberships within it (two queries),
    as `keys.scope` decides them (a deactivated holder reaches nothing, a Sandbox is never reached)."""
    projects = {
        slug: {"pk": pk, "name": name, "role": role}
        for slug, pk, name, role in account_key_reach(key).values_list(
            "project__slug", "project_id", "project__name", "role"
        )
    }
    return {"scope": scope_label(key), "projects": projects}


def add_policy_facts(key, access: dict) -> dict:
    """An account key's reach with the key policies of its projects (`keys.policy.account_key_facts`:
    the permission cap, the approval state, a missing second factor), carried by its record and
    tombstoned when a policy, an approval or the holder's two-factor authentication changes
    (`api.invalidation`)."""
    from keys.policy import account_key_facts

    facts = account_key_facts(key, [entry["pk"] for entry in access["projects"].values()])
    for entry in access["projects"].values():
        entry.update(facts.get(entry["pk"], {}))
    return access


def project_cap(project) -> list[str] | None:
    """A project key's permission cap from its project's key policy (loaded with the key)."""
    from keys.policy import permission_cap

    return permission_cap(project)


def project_gate(slug: str, snapshot) -> dict | None:
    """The addressed project's record: pk, name and whether its question gate is open."""
    if snapshot is not None and snapshot.project is not None:
        return snapshot.project
    row = (
        Project.objects.filter(slug=slug)
        .annotate(active=Count("questions", filter=Q(questions__is_active=True)))
        .values_list("pk", "name", "active")
        .first()
    )
    if row is None:
        return None
    record = {"pk": row[0], "name": row[1], "unlocked": gate_for(row[2]).unlocked}
    if snapshot is not None:
        keycache.remember_project(slug, record)
    return record


def bind(request: HttpRequest, key, snapshot) -> None:
    """Decide the project this request acts on and set it as `key.project` (raises the API's errors)."""
    slug = requested_slug(request)
    if not key.is_account_key:
        if slug is not None and slug != key.project.slug:
            raise NotFound("No such project.")
        cap = key.__dict__.get("policy_cap")  # the project's key policy (keys/policy.py), from the record
        if cap is not None:
            key.permissions = [p for p in key.permissions if p in cap]
        return
    if slug is None:
        if request.path.removeprefix("/api/v1") in SHORT_FORM_ALLOWED:
            return
        raise ProjectRequired(
            f"API key {key.key_id} is an account key: name the project in the path, "
            f"e.g. /api/v1/projects/<slug>{request.path.removeprefix('/api/v1')}."
        )
    reach = key.access["projects"].get(slug)
    gate = project_gate(slug, snapshot) if reach is not None else None
    if reach is None or gate is None or gate["pk"] != reach["pk"]:
        raise NotFound("No such project.")  # outside the scope, not a member, or gone: all look alike
    project = keyrecord.project_from_record({"id": reach["pk"], "slug": slug, "name": reach["name"]})
    key.project = project
    allowed = role_permissions(reach["role"])
    key.permissions = [p for p in key.permissions if p in allowed]
    _apply_policy(request, key, project, reach)
    if not gate["unlocked"]:
        _locked_event(request, key, project)
        raise ProjectLocked(locked_for_account_keys(slug))


def _apply_policy(request: HttpRequest, key, project, reach: dict) -> None:
    """The project's key policy for an account key (facts from its record: `add_policy_facts`):
    2FA required of the holder, approval of the key there, the permission cap."""
    if reach.get("two_factor"):
        raise TwoFactorRequired(
            f"Project {project.slug} requires two-factor authentication: API key {key.key_id} works there "
            "once its holder turns it on (Account → Two-factor authentication)."
        )
    approval = reach.get("approval")
    if approval is not None and approval != "approved":
        if approval == "none":  # first time here: ask (one mail); the record is then refreshed
            from keys.models import ApiKey
            from keys.policy import request_approval
            from projects.models import Project

            full = ApiKey.objects.select_related("owner").get(pk=key.pk)
            request_approval(full, Project.objects.get(pk=project.pk), actor=Actor.api(request))
        state = "was denied" if approval == "denied" else "waits for approval"
        raise KeyNotApproved(
            f"API key {key.key_id} {state} in project {project.slug}: its key policy asks an owner or admin "
            "to approve personal keys (API Key tab, Pending approval)."
        )
    cap = reach.get("cap")
    if cap is not None:
        key.permissions = [p for p in key.permissions if p in cap]


def _locked_event(request: HttpRequest, key, project) -> None:
    from django.core.cache import cache

    from keys.services import record_key_event

    try:
        first = cache.add(f"api:locked:{key.pk}:{project.pk}", 1, timeout=3600)
    except Exception:  # cache down: log every refusal rather than none
        first = True
    if first:
        record_key_event(
            key=key,
            kind=EventKind.PROJECT_LOCKED,
            actor=Actor.api(request),
            project=project,
            details={"path": request.path[:200], "method": request.method},
        )
