"""Creating and renaming projects (the console, the admin and the Sandbox all call these)."""

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from .actors import Actor
from .errors import InvalidRequest
from .events import record_event
from .models import Membership, Project, Role
from .models.event import EventKind

RESERVED_SLUGS = {"invitations", "new"}  # path segments of the console


def slug_problem(slug: str) -> str | None:
    """THE rule for a slug chosen by hand (the admin): why it cannot be a project's address, or
    None. `project_create` never picks a reserved one (`_free_slug`)."""
    if slug in RESERVED_SLUGS:
        return f"“{slug}” is a page of the console, not a project's address; choose another slug."
    return None


SLUG_ATTEMPTS = 10


def _free_slug(base: str) -> str:
    """The first free slug of `base`, `base-2`, `base-3`, ...: ONE query, however many clash."""
    taken = {
        1 if slug == base else int(slug.rsplit("-", 1)[1])
        for slug in Project.objects.filter(slug__regex=rf"^{base}(-[0-9]+)?$").values_list("slug", flat=True)
    }
    if base in RESERVED_SLUGS:
        taken.add(1)
    if 1 not in taken:
        return base
    return f"{base}-{max(taken) + 1}"


def project_create(
    *, name: str, owner, slug: str | None = None, actor: Actor | None = None, sandbox: bool = False
) -> Project:
    """A new project owned by `owner`. Its slug comes from the name (or `slug`); if another
    request takes the same slug at the same moment, the unique constraint refuses one insert and
    that one picks the next free slug (never a 500). `sandbox`: the person's Sandbox
    (projects/sandbox.py makes it)."""
    base = slugify(slug or name)[:100].strip("-") or "project"
    for attempt in range(SLUG_ATTEMPTS):
        candidate = _free_slug(base)
        try:
            with transaction.atomic():
                project = Project.objects.create(
                    name=name.strip(), slug=candidate, created_by=owner, is_sandbox=sandbox
                )
                Membership.objects.create(project=project, user=owner, role=Role.OWNER)
                record_event(
                    project=project,
                    kind=EventKind.PROJECT_CREATED,
                    subject=project.name,
                    actor=actor or Actor(user=owner, label=owner.email),
                )
        except IntegrityError:
            if attempt == SLUG_ATTEMPTS - 1 or not Project.objects.filter(slug=candidate).exists():
                raise  # not a slug taken meanwhile
            continue
        return project
    raise AssertionError("unreachable")


def project_rename(*, project: Project, name: str, actor: Actor) -> Project:
    """Give the project a new name (its slug, and so its URLs, stay)."""
    name = (name or "").strip()
    if not name:
        raise InvalidRequest("Give the project a name.", field="name")
    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        old_name = locked.name
        if name != old_name:
            locked.name = name
            locked.save(update_fields=["name"])
            record_event(
                project=locked,
                kind=EventKind.PROJECT_RENAMED,
                actor=actor,
                subject=name,
                details={"old_name": old_name},
            )
    project.name = name
    return locked
