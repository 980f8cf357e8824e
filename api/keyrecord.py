"""The cached record of a key: what authentication needs of it, never its secret.

ONE declared schema. Every concrete field of ApiKey is either in RECORD_FIELDS (cached) or in
NOT_CACHED (with the reason); tests/api/test_keycache.py fails when ApiKey gains a field that is
in neither. A record is JSON: {"key": {RECORD_FIELDS}, "project": {PROJECT_FIELDS}} for a project
key, {"key": ..., "access": ...} for an account key (`api.acting.load_access`). It becomes an
ApiKey through `Model.from_db`: the fields not cached are deferred, so reading one loads it from
the database (never a silent default).

A record holds the key's STATE (active / revoked), grace end and expiry, never a revocation time
to compare with a clock: `ApiKey.status_at` judges it. A key that no longer authenticates has a
record too (a *dead record*: its state says why; see `api.keystore`).

In the cache a record's place may hold a *tombstone* instead: `-` and a random tag (each write to
a key leaves its own, so one tombstone is told apart from another); a record starts with `{`.
"""

import copy
import functools
import json
import os
import zlib
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError

TOMBSTONE_MARK = "-"

RECORD_FIELDS = (
    "id",
    "project_id",
    "key_id",
    "name",
    "permissions",
    "expiry_rule",
    "created_at",
    "expires_at",
    "state",
    "stops_at",
    "rate_limit_per_minute",
    "owner_id",
    "all_projects",
    "allowed_ips",
    "disabled_at",
)
NOT_CACHED = {
    "key_hash": "the lookup key of the record itself (not stored inside it)",
    "last4": "display only (console)",
    "is_test": "display only (the console's mask); the prefix is part of the hashed secret",
    "created_by_id": "console and admin only",
    "revoked_at": "informational; the state decides",
    "revoked_by_id": "console and admin only",
    "disabled_by_id": "console and admin only (disabled_at decides)",
    "rotated_from_id": "console and admin only",
    "last_used_at": "written by the API, never read by it",
    "last_used_ip": "written by the API, never read by it",
    "last_used_user_agent": "written by the API, never read by it",
    "reminded_7d_at": "written by send_key_reminders, never read by the API",
    "reminded_1d_at": "written by send_key_reminders, never read by the API",
    "reminded_unused_at": "written by send_key_reminders, never read by the API",
}
PROJECT_FIELDS = ("id", "slug", "name")
# Parts of a record beside the key's fields (in the version too): a project key's `cap`, the
# permissions its project's key policy allows when it limits them (keys/policy.py).
RECORD_PARTS = ("cap",)


def new_tombstone() -> str:
    return TOMBSTONE_MARK + os.urandom(6).hex()


def is_tombstone(raw) -> bool:
    return raw is not None and raw[:1] in (b"-", "-")


def usable(raw) -> bytes | str | None:
    """The cached record, or None for a missing record or a tombstone."""
    return None if raw is None or is_tombstone(raw) else raw


def decode(raw) -> dict | None:
    """A cached record as a dict; None for none, a tombstone, or what is not a JSON object."""
    raw = usable(raw)
    if raw is None:
        return None
    try:
        record = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def record_version() -> str:
    """Part of the record's cache key: a changed schema never reads records of the old one."""
    return _version_of(RECORD_FIELDS + RECORD_PARTS, PROJECT_FIELDS)


@functools.cache
def _version_of(key_fields: tuple[str, ...], project_fields: tuple[str, ...]) -> str:
    return format(zlib.crc32(",".join(key_fields + ("|",) + project_fields).encode()), "x")


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value


def record_of(key) -> dict:
    """The cached record of a key: RECORD_FIELDS of the key and PROJECT_FIELDS of its project;
    for an account key, instead of a project, its `access` (`api.acting.load_access`: its scope
    and its holder's memberships within it, tombstoned on every change of those memberships)."""
    record: dict[str, Any] = {"key": {name: _jsonable(getattr(key, name)) for name in RECORD_FIELDS}}
    if key.is_account_key:
        record["access"] = getattr(key, "access", None)  # none for a key that no longer authenticates
    else:
        record["project"] = {name: _jsonable(getattr(key.project, name)) for name in PROJECT_FIELDS}
        cap = key.__dict__.get("policy_cap")
        if cap is not None:
            record["cap"] = cap
    return record


@functools.cache
def _reader(model, names: tuple[str, ...], extra: tuple[str, ...]):
    """How to load `names` (from a record) and `extra` (given as is) into `model`: the attnames in
    the model's column order, and per attname its field's `to_python` (None: taken as given).
    Worked out once per process: it is on every cached request's path."""
    wanted = set(names) | set(extra)
    fields = [f for f in model._meta.concrete_fields if f.attname in wanted]
    converters = tuple((f.attname, f.to_python if f.attname in names else None) for f in fields)
    return [f.attname for f in fields], converters


def _from_record(model, names, values: dict, **extra):
    attnames, converters = _reader(model, tuple(names), tuple(sorted(extra)))
    row = [extra[name] if convert is None else convert(values[name]) for name, convert in converters]
    return model.from_db("default", attnames, row)


def project_from_record(values: dict):
    """A Project instance, as if loaded from the database, from its PROJECT_FIELDS."""
    from projects.models import Project

    return _from_record(Project, PROJECT_FIELDS, values)


def key_from_record(record: dict, key_hash: str):
    """An ApiKey instance, as if loaded from the database, built from a cached record."""
    from keys.models import ApiKey

    project = project_from_record(record["project"]) if record.get("project") else None
    key = _from_record(ApiKey, RECORD_FIELDS, record["key"], key_hash=key_hash)
    key.project = project
    if key.is_account_key:
        key.access = record["access"]
    else:
        key.policy_cap = record.get("cap")
    return key


@functools.lru_cache(maxsize=1024)
def key_of_record(raw: bytes | str, key_hash: str):
    """An ApiKey built from a cached record, kept for the next request that reads the same record.
    Keyed by the record's exact bytes: a changed key is another record (and a write to it leaves a
    tombstone, never a record), so what is kept can only ever be what the cache holds now. Holds
    what the record holds (never the key itself). None for a record this process cannot read
    (corrupt, or not one of ours). Callers take copies (`own_key_of_record`)."""
    record = decode(raw)
    if record is None:
        return None
    try:
        return key_from_record(record, key_hash)
    except (KeyError, TypeError, ValueError, ValidationError):
        return None


def own_key_of_record(raw: bytes | str, key_hash: str):
    """This request's own copy (requests narrow it: see `api.acting.bind`) of the key built once
    per distinct record."""
    built = key_of_record(raw, key_hash)
    # copy.copy, Django's own way (Model.__reduce__ / __getstate__). A copy made by hand from
    # `__getstate__` saved 5.7 µs of a ~380 µs request (1.5 %, under the 2 % a trick on a
    # library's internals must be worth: docs/performance.md, "Speed without internals").
    return None if built is None else copy.copy(built)
