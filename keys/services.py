"""Operations on API keys that span several rows and must be atomic.

Views, the admin, the management commands and the runtime API all call these, so the rules
(question gate, key limit, unique names, one successor per rotation, event log) hold
everywhere. Each runs in a transaction that first locks the project row: on PostgreSQL that
serialises concurrent generate / rotate / revoke calls of one project, on SQLite the
IMMEDIATE transaction mode does.
"""

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from projects.actors import Actor
from projects.events import record_event
from projects.gate import require_api_keys_unlocked
from projects.models import KeyEvent, KeyPolicy, Project
from projects.models.event import EventKind

from . import keygen, policy
from .errors import DuplicateKeyName, InvalidKeyRequest, KeyLimitReached, KeyNotActive
from .models import ApiKey
from .models.api_key import PERMISSION_ORDER, RATE_LIMIT_MAX, RATE_LIMIT_MESSAGE, ExpiryRule, KeyState, Status
from .sandbox import prefix_for
from .scope import projects_in_scope, scope_label

GRACE_PERIODS = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
GRACE_LABELS = {"": "Immediately", "1h": "After 1 hour", "24h": "After 24 hours", "7d": "After 7 days"}
NAME_MAX_LENGTH: int = ApiKey._meta.get_field("name").max_length  # type: ignore[assignment]  # the column's size: 64


def expires_at_for(rule: str, *, on: date | None = None, now: datetime | None = None) -> datetime | None:
    """When a key made now under `rule` expires. A chosen date means: usable through that day (UTC)."""
    now = now or timezone.now()
    if rule == ExpiryRule.NEVER:
        return None
    if rule == ExpiryRule.DATE:
        if on is None:
            raise InvalidKeyRequest("Choose the expiration date.", field="expires_on")
        if on <= now.date():
            raise InvalidKeyRequest("The expiration date must be in the future.", field="expires_on")
        try:
            return datetime.combine(on + timedelta(days=1), time.min, tzinfo=UTC)
        except OverflowError:  # 9999-12-31: the day after it does not exist
            raise InvalidKeyRequest("Choose an earlier expiration date.", field="expires_on") from None
    try:
        return now + timedelta(days=int(rule))
    except (ValueError, OverflowError):
        raise InvalidKeyRequest("Choose an expiration.", field="expiration") from None


LIFECYCLE_EVENTS = {
    EventKind.CREATED,
    EventKind.ROTATED,
    EventKind.REVOKED,
    EventKind.DELETED,
    EventKind.UPDATED,
    EventKind.LEAKED,
    EventKind.DISABLED,
    EventKind.ENABLED,
}


def record_key_event(
    *, key: ApiKey, kind: str, actor: Actor, details: dict | None = None, project: Project | None = None
) -> KeyEvent:
    """One line in the log(s) the event belongs to.

    A project key's event goes to its project's log. An account key's event goes to its holder's
    Security log; with `project` (something happened in that project: a dead key presented there,
    a call refused) the same line shows in that project's log; without it (created, rotated,
    revoked, deleted) a copy goes to the log of every project the key's scope reaches now.
    """
    details = details or {}
    if not key.is_account_key:
        return record_event(project=project or key.project, key=key, kind=kind, actor=actor, details=details)
    event = record_event(project=project, account=key.owner, key=key, kind=kind, actor=actor, details=details)
    if project is None and kind in LIFECYCLE_EVENTS:
        for reached in projects_in_scope(key):
            record_event(
                project=reached,
                key=key,
                kind=kind,
                actor=actor,
                details={**details, "account_key_of": key.owner.email if key.owner else ""},
            )
    return event


ALLOWED_IPS_MAX = 50
ALLOWED_IPS_EXAMPLE = "e.g. 203.0.113.7, 10.0.0.0/8 or 2001:db8::/32"
ALLOWED_IPS_PROBLEMS_SHOWN = 10  # bad entries named one by one; past that, how many more


def clean_allowed_ips(value) -> list[str]:
    """The networks a key may be used from: text (one address or CIDR range a line, or separated by
    commas) or a list; IPv4 and IPv6. A single address becomes its /32 (/128), as the form's help
    says. Empty: anywhere. At most ALLOWED_IPS_MAX entries. Raises InvalidKeyRequest (field
    `allowed_ips`) naming each entry that is not one, one a line."""
    if value is None:
        return []
    entries = re.split(r"[\s,]+", value) if isinstance(value, str) else list(value)
    entries = [e for e in entries if not isinstance(e, str) or e.strip()]
    if len(entries) > ALLOWED_IPS_MAX:
        raise InvalidKeyRequest(
            f"At most {ALLOWED_IPS_MAX} addresses or ranges (there are {len(entries)}): "
            "use a wider range (e.g. 10.0.0.0/24) for neighbouring addresses.",
            field="allowed_ips",
        )
    networks: list[str] = []
    problems: list[str] = []
    for entry in entries:
        if not isinstance(entry, str):
            problems.append(f"“{entry}” is not an IP address or range ({ALLOWED_IPS_EXAMPLE}).")
            continue
        entry = entry.strip()
        if "%" in entry:  # fe80::1%eth0: a zone names an interface of one machine, never a client
            problems.append(
                f"“{entry[:60]}” names a zone (after %), which means nothing to the API: write the address without it."
            )
            continue
        try:
            network = ipaddress.ip_network(entry, strict=True)
        except ValueError:
            try:
                loose = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                problems.append(f"“{entry[:60]}” is not an IP address or range ({ALLOWED_IPS_EXAMPLE}).")
            else:
                problems.append(f"“{entry}” has bits set after the prefix length: did you mean {loose}?")
            continue
        if str(network) not in networks:
            networks.append(str(network))
    if problems:
        shown = problems[:ALLOWED_IPS_PROBLEMS_SHOWN]
        if len(problems) > len(shown):
            shown.append(f"… and {len(problems) - len(shown)} more.")
        raise InvalidKeyRequest("\n".join(shown), field="allowed_ips")  # one bad entry a line
    return networks


def clean_rate_limit(value) -> int | None:
    """A key's own rate limit: None (the setting's default) or 1 to RATE_LIMIT_MAX requests a
    minute, on create, rotate and edit alike. Raises InvalidKeyRequest (field `rate_limit_per_minute`)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= RATE_LIMIT_MAX:
        raise InvalidKeyRequest(RATE_LIMIT_MESSAGE, field="rate_limit_per_minute")
    return value


@dataclass(frozen=True)
class KeyRequest:
    name: str
    permissions: list[str]
    expiry_rule: str
    expires_at: datetime | None
    allowed_ips: list[str]
    rate_limit_per_minute: int | None = None


def clean_key_request(
    *,
    name,
    permissions,
    expiry_rule,
    expires_on: date | None = None,
    now: datetime | None = None,
    allowed_ips=None,
    rate_limit_per_minute: int | None = None,
) -> KeyRequest:
    """THE validation of a key's name, permissions, expiry, allowed IP addresses and rate limit
    (views, admin, CLI and API present its errors). Raises InvalidKeyRequest with every field's
    error at once."""
    errors: dict[str | None, str] = {}
    networks: list[str] = []
    try:
        rate_limit_per_minute = clean_rate_limit(rate_limit_per_minute)
    except InvalidKeyRequest as exc:
        errors.update(exc.errors)
    try:
        networks = clean_allowed_ips(allowed_ips)
    except InvalidKeyRequest as exc:
        errors.update(exc.errors)
    name = (name or "").strip()
    if not name:
        errors["name"] = "Give the key a name, so you can tell it apart later."
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = f"Keep the name to {NAME_MAX_LENGTH} characters."
    chosen = set(permissions or [])
    if not chosen or chosen - set(PERMISSION_ORDER):
        errors["permissions"] = "Choose at least one permission: " + ", ".join(PERMISSION_ORDER) + "."
    expires_at = None
    if expiry_rule not in ExpiryRule.values:
        errors["expiration"] = "Choose an expiration."
    else:
        try:
            expires_at = expires_at_for(expiry_rule, on=expires_on, now=now)
        except InvalidKeyRequest as exc:
            errors.update(exc.errors)
    if errors:
        raise InvalidKeyRequest(errors=errors)
    return KeyRequest(
        name=name,
        permissions=[p for p in PERMISSION_ORDER if p in chosen],
        expiry_rule=expiry_rule,
        expires_at=expires_at,
        allowed_ips=networks,
        rate_limit_per_minute=rate_limit_per_minute,
    )


def _lock_project(project: Project | None) -> Project:
    assert project is not None  # callers lock the project of a project key (never None)
    return Project.objects.select_for_update().get(pk=project.pk)


def _lock_holder(key: ApiKey):
    """Lock the key's holder row (its project, or its person), serialising that holder's key changes."""
    if key.owner_id is not None:  # an account key
        return get_user_model().objects.select_for_update().get(pk=key.owner_id)
    return _lock_project(key.project)


def _lock_key(key: ApiKey) -> ApiKey:
    """The key's row, locked after its holder's (the order every key change takes)."""
    _lock_holder(key)
    return ApiKey.objects.select_for_update().get(pk=key.pk)


def _lock_unrevoked(key: ApiKey) -> tuple[ApiKey, datetime]:
    """The key's row, locked, and the instant it was judged at; KeyNotActive if it is revoked."""
    locked = _lock_key(key)
    now = timezone.now()
    if locked.status_at(now) == Status.REVOKED:
        raise KeyNotActive("This key is already revoked.")
    return locked, now


def _require_slot(live, *, limit: int, holder: str, name: str) -> None:
    if live.count() >= limit:
        raise KeyLimitReached(
            f"{holder} already has {limit} active keys, the most it can have. Revoke or delete one first."
        )
    if live.filter(name__iexact=name).exists():
        raise DuplicateKeyName(f"An active key is already named “{name}”. Choose another name.", field="name")


def _clean_scope(owner, all_projects: bool, projects) -> list[Project]:
    """The chosen projects of an account key: at least one, each one the person is a member of."""
    if all_projects:
        return []
    chosen = list(projects or [])
    if not chosen:
        raise InvalidKeyRequest("Choose at least one project, or “All my projects”.", field="projects")
    mine = set(Project.objects.filter(memberships__user=owner).values_list("pk", flat=True))
    if any(p.pk not in mine for p in chosen):
        raise InvalidKeyRequest("Choose among the projects you are a member of.", field="projects")
    if any(p.is_sandbox for p in chosen):
        raise InvalidKeyRequest(
            "A Sandbox cannot be in a personal key's scope: generate a test key on its API Key tab.",
            field="projects",
        )
    return chosen


def _insert_key(
    *,
    project: Project | None,
    name: str,
    permissions: list[str],
    expiry_rule: str,
    expires_at: datetime | None,
    actor: Actor,
    rate_limit_per_minute: int | None = None,
    rotated_from: ApiKey | None = None,
    owner=None,
    all_projects: bool = False,
    scope_projects=(),
    allowed_ips=(),
) -> tuple[ApiKey, str]:
    plaintext = keygen.generate_key(prefix_for(project))
    key = ApiKey.objects.create(
        project=project,
        owner=owner,
        is_test=plaintext.startswith(keygen.TEST_PREFIX),
        all_projects=all_projects,
        name=name,
        key_hash=keygen.hash_key(plaintext),
        last4=plaintext[-4:],
        permissions=permissions,
        expiry_rule=expiry_rule,
        expires_at=expires_at,
        created_by=actor.user,
        rate_limit_per_minute=rate_limit_per_minute,
        rotated_from=rotated_from,
        allowed_ips=list(allowed_ips),
    )
    if scope_projects:
        key.scope_projects.set(scope_projects)
    return key, plaintext


def api_key_create(
    *,
    project: Project | None = None,
    name: str,
    permissions,
    expiry_rule: str = ExpiryRule.DAYS_90,
    expires_on: date | None = None,
    actor: Actor,
    rate_limit_per_minute: int | None = None,
    owner=None,
    all_projects: bool = False,
    projects=None,
    allowed_ips=None,
) -> tuple[ApiKey, str]:
    """Make a new key. Returns the key and its plaintext, which the caller shows once and forgets.

    A project key: `project=`. An account key: `owner=` (the person) with `all_projects=True` or
    `projects=[...]` (projects the person is a member of).
    """
    if (project is None) == (owner is None):
        raise InvalidKeyRequest("A key belongs either to a project or to a person.")
    request = clean_key_request(
        name=name,
        permissions=permissions,
        expiry_rule=expiry_rule,
        expires_on=expires_on,
        allowed_ips=allowed_ips,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    name, permissions, expires_at = request.name, request.permissions, request.expires_at
    with transaction.atomic():
        if owner is not None:
            owner = get_user_model().objects.select_for_update().get(pk=owner.pk)
            scope = _clean_scope(owner, all_projects, projects)
            live = ApiKey.objects.filter(owner=owner).counted_toward_limit()
            _require_slot(live, limit=settings.API_KEY_MAX_ACTIVE_PER_ACCOUNT, holder="Your account", name=name)
        else:
            project = _lock_project(project)
            require_api_keys_unlocked(project)
            scope = []
            live = ApiKey.objects.filter(project=project).counted_toward_limit()
            _require_slot(live, limit=settings.API_KEY_MAX_ACTIVE_PER_PROJECT, holder="This project", name=name)
        # The key policies it answers to (keys/policy.py): lifetime, and a project key's permissions and IPs.
        policy.check_new_key(
            policies=policy.reached_policies(project=project, owner=owner, all_projects=all_projects, projects=scope),
            project_key=owner is None,
            permissions=permissions,
            allowed_ips=request.allowed_ips,
            expires_at=expires_at,
        )
        key, plaintext = _insert_key(
            project=project,
            name=name,
            permissions=permissions,
            expiry_rule=expiry_rule,
            expires_at=expires_at,
            actor=actor,
            rate_limit_per_minute=request.rate_limit_per_minute,
            owner=owner,
            all_projects=bool(owner is not None and all_projects),
            scope_projects=scope,
            allowed_ips=request.allowed_ips,
        )
        record_key_event(
            key=key,
            kind=EventKind.CREATED,
            actor=actor,
            details={
                "permissions": permissions,
                "expires_at": expires_at.isoformat() if expires_at else None,
                **({"allowed_ips": request.allowed_ips} if request.allowed_ips else {}),
                **({"scope": scope_label(key)} if key.is_account_key else {}),
            },
        )
        policy.ask_on_creation(key, actor)  # a personal key asks where approval is required
    return key, plaintext


def successor_expiry(
    old: ApiKey, now: datetime, scope_now: list | None = None
) -> tuple[str, datetime | None, KeyPolicy | None]:
    """The expiration a rotation gives `old`'s successor: its expiration rule again (a fixed date
    kept), unless a key policy set since allows less; then that policy's maximum lifetime, and the
    policy (None when nothing was shortened). The Rotate dialog says so before anyone rotates."""
    expires_at = old.expires_at if old.expiry_rule == ExpiryRule.DATE else expires_at_for(old.expiry_rule, now=now)
    if scope_now is None:
        scope_now = list(old.scope_projects.all()) if old.is_account_key else []
    policies = policy.reached_policies(
        project=old.project, owner=old.owner, all_projects=old.all_projects, projects=scope_now
    )
    rule, capped_at = policy.clamp_expiry(old.expiry_rule, expires_at, policies, now)
    shortened_by = policy.strictest_lifetime(policies) if capped_at != expires_at else None
    return rule, capped_at, shortened_by


def api_key_rotate(*, key: ApiKey, actor: Actor, grace: str = "") -> tuple[ApiKey, str]:
    """Replace `key` with a new key of the same name, permissions, expiry rule and rate limit.

    The old key stops at once, or at the end of the grace period ("1h", "24h", "7d").
    Rotating one key twice at once yields one successor: the second call finds it rotated.
    """
    if grace and grace not in GRACE_PERIODS:
        raise InvalidKeyRequest("Choose when the old key stops working.", field="grace")
    with transaction.atomic():
        old = _lock_key(key)
        now = timezone.now()
        status = old.status_at(now)
        if status == Status.EXPIRED:
            raise KeyNotActive("This key has expired; generate a new key instead.")
        if status != Status.ACTIVE:
            raise KeyNotActive("This key was already rotated or revoked.")
        if old.is_disabled:
            raise KeyNotActive("This key is disabled: enable it before rotating it.")
        if not old.is_account_key:
            require_api_keys_unlocked(old.project)
        clean_rate_limit(old.rate_limit_per_minute)  # a limit stored before the range was enforced
        scope_now = list(old.scope_projects.all()) if old.is_account_key else []
        expiry_rule, expires_at, _ = successor_expiry(old, now, scope_now)
        new, plaintext = _insert_key(
            project=old.project,
            name=old.name,
            permissions=old.sorted_permissions,
            expiry_rule=expiry_rule,
            expires_at=expires_at,
            actor=actor,
            rate_limit_per_minute=old.rate_limit_per_minute,
            rotated_from=old,
            owner=old.owner,
            all_projects=old.all_projects,
            scope_projects=scope_now,
            allowed_ips=old.allowed_ips,
        )
        policy.carry_approvals(old, new)  # approvals belong to the lineage
        # The old key and its successor share one place under the limit; a lineage never has more
        # than two keys that authenticate: a predecessor still inside its grace period ends now.
        predecessor = rotating_predecessor(old, now, lock=True)
        if predecessor is not None:
            _stop_predecessor(predecessor, successor=old, actor=actor, now=now, reason="grace_period_ended_by_rotation")
        old.revoked_by = actor.user
        if grace:
            old.stops_at = now + GRACE_PERIODS[grace]
            old.save(update_fields=["stops_at", "revoked_by"])
        else:
            _revoke(old, actor=actor, now=now)
        record_key_event(
            key=old,
            kind=EventKind.ROTATED,
            actor=actor,
            details={"new_key_id": new.key_id, "old_key_stops_at": (old.stops_at or now).isoformat()},
        )
        record_key_event(
            key=new,
            kind=EventKind.CREATED,
            actor=actor,
            details={
                "rotated_from": old.key_id,
                "permissions": new.permissions,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return new, plaintext


def _stop_predecessor(predecessor: ApiKey, *, successor: ApiKey, actor: Actor, now: datetime, reason: str) -> None:
    """End a rotating-out key before its grace period does (logged with `reason`)."""
    _revoke(predecessor, actor=actor, now=now)
    record_key_event(
        key=predecessor, kind=EventKind.REVOKED, actor=actor, details={"reason": reason, "successor": successor.key_id}
    )


def _revoke(key: ApiKey, *, actor: Actor, now: datetime) -> None:
    key.state, key.revoked_at, key.revoked_by = KeyState.REVOKED, now, actor.user
    key.save(update_fields=["state", "revoked_at", "revoked_by"])


def api_key_revoke(*, key: ApiKey, actor: Actor, found_at: str | None = None, reported_by: str = "") -> ApiKey:
    """Stop a key at once (also one inside a rotation grace period). Never locked by the gate.

    With `found_at` (where the key was found in public: a URL, or what the reporter said) the key
    was reported as leaked (`keys.leaks`): the event is LEAKED and names the place and the reporter.
    """
    with transaction.atomic():
        locked, now = _lock_unrevoked(key)
        _revoke(locked, actor=actor, now=now)
        if found_at is None:
            record_key_event(key=locked, kind=EventKind.REVOKED, actor=actor)
        else:
            details = {"reason": "found_in_public", "found_at": found_at or "not given"}
            if reported_by:
                details["reported_by"] = reported_by
            record_key_event(key=locked, kind=EventKind.LEAKED, actor=actor, details=details)
    return locked


def api_key_revoke_many(*, keys, actor: Actor) -> list[ApiKey]:
    """Revoke several keys of one holder at once (the console's **Revoke selected**): one
    transaction, one event per key. Keys that no longer work (revoked, expired, ended) are
    skipped; returns the keys revoked. Never held back by the gate or Confirm access."""
    revoked: list[ApiKey] = []
    with transaction.atomic():
        for key in keys:
            locked = _lock_key(key)
            now = timezone.now()
            if locked.status_at(now) not in (Status.ACTIVE, Status.ROTATING):
                continue
            _revoke(locked, actor=actor, now=now)
            record_key_event(key=locked, kind=EventKind.REVOKED, actor=actor, details={"bulk": True})
            revoked.append(locked)
    return revoked


def api_key_disable(*, key: ApiKey, actor: Actor) -> ApiKey:
    """Pause a key: from its next request, in every worker, it answers 401 `disabled_api_key`
    (the save tombstones its cached record, like a revocation). Nothing else changes: it keeps its
    name, permissions, expiry, grace period and its place under the limit, and `api_key_enable`
    brings it back as it was. Only a key that works now (Active or Rotating) can be disabled."""
    with transaction.atomic():
        locked = _lock_key(key)
        if locked.status not in (Status.ACTIVE, Status.ROTATING):
            raise KeyNotActive("Only a working key can be disabled: this one is revoked or expired.")
        if locked.is_disabled:
            raise KeyNotActive("This key is already disabled.")
        locked.disabled_at, locked.disabled_by = timezone.now(), actor.user
        locked.save(update_fields=["disabled_at", "disabled_by"])
        record_key_event(key=locked, kind=EventKind.DISABLED, actor=actor)
    return locked


def api_key_enable(*, key: ApiKey, actor: Actor) -> ApiKey:
    """Undo `api_key_disable`: the key works again from its next request, unchanged. A revoked key
    stays revoked (revocation is final)."""
    with transaction.atomic():
        locked = _lock_key(key)
        if not locked.is_disabled:
            raise KeyNotActive("This key is not disabled.")
        if locked.status == Status.REVOKED:
            raise KeyNotActive("This key is revoked: revoking cannot be undone.")
        details = {"disabled_since": locked.disabled_at.isoformat()} if locked.disabled_at else {}
        locked.disabled_at, locked.disabled_by = None, None
        locked.save(update_fields=["disabled_at", "disabled_by"])
        record_key_event(key=locked, kind=EventKind.ENABLED, actor=actor, details=details)
    return locked


def rotating_predecessor(key: ApiKey, now: datetime | None = None, *, lock: bool = False) -> ApiKey | None:
    """The key `key` replaced, while it still works (Rotating, inside its grace period); with
    `lock`, its row locked (inside the caller's transaction)."""
    if key.rotated_from_id is None:
        return None
    rows = ApiKey.objects.select_for_update() if lock else ApiKey.objects
    predecessor = rows.filter(pk=key.rotated_from_id).first()
    if predecessor is None or predecessor.status_at(now or timezone.now()) != Status.ROTATING:
        return None
    return predecessor


def api_key_revoke_with_predecessor(*, key: ApiKey, actor: Actor) -> list[ApiKey]:
    """Revoke `key` and, if the key it replaced is still rotating out, that one too: both stop at
    once (a leaked lineage). Each revocation is logged; returns the keys revoked."""
    with transaction.atomic():
        locked, now = _lock_unrevoked(key)
        predecessor = rotating_predecessor(locked, now, lock=True)
        _revoke(locked, actor=actor, now=now)
        record_key_event(
            key=locked,
            kind=EventKind.REVOKED,
            actor=actor,
            details={"with_predecessor": predecessor.key_id} if predecessor else {},
        )
        if predecessor is None:
            return [locked]
        _stop_predecessor(predecessor, successor=locked, actor=actor, now=now, reason="revoked_with_its_successor")
    return [locked, predecessor]


def clean_key_update(
    *, name, permissions, rate_limit_per_minute: int | None, allowed_ips=None
) -> tuple[str, list[str]]:
    """THE validation of a change to a key (the Edit dialog, the admin, the CLI): the name,
    permission and allowed-IP rules of a new key, and the rate limit's range. Returns the cleaned
    name and permissions (`clean_allowed_ips` gives the networks); raises InvalidKeyRequest with
    every field's error at once."""
    checked = clean_key_request(
        name=name,
        permissions=permissions,
        expiry_rule=ExpiryRule.NEVER,
        allowed_ips=allowed_ips,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    return checked.name, checked.permissions


def require_changeable(key: ApiKey) -> None:
    """THE rule "only an active key can be changed" (the Edit dialog, the admin, the services)."""
    if key.status != Status.ACTIVE:
        raise KeyNotActive("Only an active key can be changed.")


def api_key_update(
    *,
    key: ApiKey,
    actor: Actor,
    name: str,
    permissions,
    rate_limit_per_minute: int | None,
    allowed_ips=None,
    all_projects: bool | None = None,
    projects=None,
) -> ApiKey:
    """Rename a key, change its permissions, its rate limit (None: the default) or the addresses it
    may be used from (`allowed_ips`: text or a list; None leaves them as they are); for an account
    key, its scope too (`all_projects=True`, or `all_projects=False` and `projects`: projects its
    holder is a member of; None leaves the scope as it is). Callers ask for Confirm access first
    (the console's Edit dialog does).

    Written through the model (`save()`), so the runtime API's record cache drops the key and the
    next request sees the change. The event lists what changed, before and after.
    """
    name, permissions = clean_key_update(
        name=name, permissions=permissions, rate_limit_per_minute=rate_limit_per_minute, allowed_ips=allowed_ips
    )
    with transaction.atomic():
        locked = _lock_key(key)
        require_changeable(locked)
        if name.lower() != locked.name.lower() and (
            ApiKey.objects.filter(**locked.holder_filter())
            .counted_toward_limit()
            .filter(name__iexact=name)
            .exclude(pk=locked.pk)
            .exists()
        ):
            raise DuplicateKeyName(f"An active key is already named “{name}”. Choose another name.", field="name")
        before = {
            "name": locked.name,
            "permissions": locked.sorted_permissions,
            "rate_limit_per_minute": locked.rate_limit_per_minute,
            "allowed_ips": list(locked.allowed_ips),
        }
        networks = locked.allowed_ips if allowed_ips is None else clean_allowed_ips(allowed_ips)
        new_scope = None
        if all_projects is not None and locked.is_account_key:
            new_scope = _clean_scope(locked.owner, all_projects, projects)
            before["scope"] = scope_label(locked)
            after_scope = "all" if all_projects else sorted(p.slug for p in new_scope)
        after = {
            "name": name,
            "permissions": permissions,
            "rate_limit_per_minute": rate_limit_per_minute,
            "allowed_ips": list(networks),
        }
        if new_scope is not None:
            after["scope"] = after_scope
        changed = {
            field: {"from": before[field], "to": value} for field, value in after.items() if before[field] != value
        }
        # The key policies (keys/policy.py): a project key gains no permission its project does not
        # allow and keeps an allowed address when one is required; a personal key's new scope
        # reaches no project whose maximum lifetime it outlives.
        if not locked.is_account_key and ("permissions" in changed or "allowed_ips" in changed):
            policy.check_new_key(
                policies=policy.reached_policies(project=locked.project),
                project_key=True,
                permissions=set(permissions) - set(locked.permissions),
                allowed_ips=networks if "allowed_ips" in changed else ["unchanged"],
                expires_at=None,
                check_lifetime=False,
            )
        if new_scope is not None and "scope" in changed:
            policy.check_new_key(
                policies=policy.reached_policies(
                    owner=locked.owner, all_projects=bool(all_projects), projects=new_scope
                ),
                project_key=False,
                permissions=permissions,
                allowed_ips=networks,
                expires_at=locked.expires_at,
            )
        if changed:
            locked.name, locked.permissions = name, permissions
            locked.rate_limit_per_minute = rate_limit_per_minute
            locked.allowed_ips = list(networks)
            fields = ["name", "permissions", "rate_limit_per_minute", "allowed_ips"]
            if new_scope is not None and "scope" in changed:
                # The save tombstones the key's cached record (now and after commit): its reach,
                # held in the record, is worked out again on the next request.
                locked.all_projects = bool(all_projects)
                fields.append("all_projects")
                locked.scope_projects.set(new_scope)
            locked.save(update_fields=fields)
            record_key_event(key=locked, kind=EventKind.UPDATED, actor=actor, details=changed)
            if "scope" in changed:  # a project added anew asks for approval anew
                policy.forget_approvals_outside(
                    locked, all_projects=bool(all_projects), project_ids=[p.pk for p in new_scope or []]
                )
                policy.ask_on_creation(locked, actor)
    return locked


def api_key_delete(*, key: ApiKey, actor: Actor) -> None:
    """Remove a key for good. Its events stay in the log with its Key ID and name."""
    with transaction.atomic():
        _lock_holder(key)
        record_key_event(key=key, kind=EventKind.DELETED, actor=actor, details={"status_when_deleted": key.status})
        ApiKey.objects.filter(pk=key.pk).delete()
