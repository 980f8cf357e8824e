"""Drop cached key records whenever a key row changes (see `api.keycache`).

Each change puts a tombstone at once — inside the writer's transaction, before its commit — and
again after the commit, so no request after the commit can be served from a stale record.
"""

from django.db import transaction

from keys.models.api_key import BOOKKEEPING_FIELDS

from . import keycache


def _invalidate(key_hash: str) -> None:
    keycache.invalidate(key_hash)
    transaction.on_commit(lambda: keycache.invalidate(key_hash))


def on_key_saved(sender, instance, created=False, update_fields=None, **kwargs):
    if created:  # a new hash: no record under it yet, but maybe a guess's "unknown" marker
        keycache.forget_unknown(instance.key_hash)
        transaction.on_commit(lambda: keycache.forget_unknown(instance.key_hash))
        return
    if update_fields is not None and set(update_fields) <= BOOKKEEPING_FIELDS:
        return
    _invalidate(instance.key_hash)


def on_key_deleted(sender, instance, **kwargs):
    _invalidate(instance.key_hash)


def on_key_rows_changed(sender, key_hashes, **kwargs):
    for key_hash in key_hashes:
        _invalidate(key_hash)


# --- what an account key may reach: memberships, projects, question gates ----------------------
# project pk -> slug, kept by Project's post_save / post_delete (a pk's slug only changes through
# Project.save, and a pk is never handed out twice, except after a rollback: created sets it again).
_slugs: dict[int, str] = {}


def _project_slug(project_id: int) -> str | None:
    from projects.models import Project

    if project_id not in _slugs:
        slug = Project.objects.filter(pk=project_id).values_list("slug", flat=True).first()
        if slug is None:
            return None
        _slugs[project_id] = slug
    return _slugs[project_id]


def _invalidate_project(slug: str) -> None:
    keycache.invalidate_project(slug)
    transaction.on_commit(lambda: keycache.invalidate_project(slug))


def invalidate_account_keys(user_ids) -> None:
    """Tombstone the records of these people's account keys (their reach changed)."""
    from keys.models import ApiKey

    for key_hash in ApiKey.objects.filter(owner_id__in=list(user_ids)).values_list("key_hash", flat=True):
        _invalidate(key_hash)


def on_membership_changed(sender, instance, **kwargs):
    """Joined, left, role changed, moved to another person, or the project went away: the next
    request sees it."""
    update_fields = kwargs.get("update_fields")
    if update_fields is not None and not {"role", "user", "project"} & set(update_fields):
        return
    invalidate_account_keys([instance.user_id])


def on_membership_saving(sender, instance, raw=False, update_fields=None, **kwargs):
    """A membership moved to another person: the person who loses it is seen at once too (the
    new one is seen by on_membership_changed)."""
    if raw or instance.pk is None or (update_fields is not None and "user" not in update_fields):
        return
    stored = type(instance).objects.filter(pk=instance.pk).values_list("user_id", flat=True).first()
    if stored is not None and stored != instance.user_id:
        invalidate_account_keys([stored])


def on_question_changed(sender, instance, created=False, update_fields=None, **kwargs):
    """A question was added, removed or (de)activated: the project's question gate may have moved."""
    if update_fields is not None and "is_active" not in update_fields:
        return
    slug = _project_slug(instance.project_id)
    if slug is not None:
        _invalidate_project(slug)


def on_questions_bulk_added(sender, project, **kwargs):
    _invalidate_project(project.slug)


def on_project_saved(sender, instance, created=False, **kwargs):
    old = _slugs.get(instance.pk)
    _slugs[instance.pk] = instance.slug
    if created:
        return
    for slug in {old, instance.slug} - {None}:
        _invalidate_project(slug)
    invalidate_account_keys(instance.memberships.values_list("user_id", flat=True))
    for key_hash in instance.api_keys.values_list("key_hash", flat=True):  # their records carry the slug
        _invalidate(key_hash)


def on_project_deleted(sender, instance, **kwargs):
    _slugs.pop(instance.pk, None)
    _invalidate_project(instance.slug)


def on_user_saved(sender, instance, created=False, update_fields=None, **kwargs):
    """A person deactivated (or reactivated): their account keys' reach changed."""
    if created or (update_fields is not None and "is_active" not in update_fields):
        return
    invalidate_account_keys([instance.pk])


# --- key policies (keys/policy.py): what the records carry of them ------------------------------
def on_key_policy_changed(sender, instance, **kwargs):
    """A project's key policy changed: its project keys' records (their permission cap) and its
    members' account keys' records (cap, approval, two-factor rule) go; the next request sees it."""
    from keys.models import ApiKey

    for key_hash in ApiKey.objects.filter(project_id=instance.project_id).values_list("key_hash", flat=True):
        _invalidate(key_hash)
    from projects.models import Membership

    invalidate_account_keys(Membership.objects.filter(project_id=instance.project_id).values_list("user_id", flat=True))


def on_key_approval_changed(sender, instance, **kwargs):
    """A personal key was approved or denied in a project (or asked, or its approval dropped)."""
    from keys.models import ApiKey

    for key_hash in ApiKey.objects.filter(pk=instance.key_id).values_list("key_hash", flat=True):
        _invalidate(key_hash)


def on_authenticator_changed(sender, instance, **kwargs):
    """A person turned two-factor authentication on or off: their account keys' records go."""
    invalidate_account_keys([instance.user_id])
