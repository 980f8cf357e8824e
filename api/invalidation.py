"""Drop cached key records whenever a key row changes (see `api.keycache`).

Each change puts a tombstone at once — inside the writer's transaction, before its commit — and
again after the commit, so no request after the commit can be served from a stale record.
"""

from django.db import transaction

from . import keycache


def _invalidate(key_hash: str) -> None:
    keycache.invalidate(key_hash)
    transaction.on_commit(lambda: keycache.invalidate(key_hash))


def on_key_saved(sender, instance, created=False, update_fields=None, **kwargs):
    if created:  # a new hash: nothing can be cached under it yet
        return
    if update_fields is not None and set(update_fields) <= {"last_used_at", "last_used_ip"}:
        return
    _invalidate(instance.key_hash)


def on_key_deleted(sender, instance, **kwargs):
    _invalidate(instance.key_hash)


def on_key_rows_changed(sender, key_hashes, **kwargs):
    for key_hash in key_hashes:
        _invalidate(key_hash)
