"""The owner's actions on keys that break their project's key policy (keys/policy.py judges them):
revoke them all at once, or bring their expiry down to the maximum lifetime. Each change is a
line in the event log, written by the key services' own helpers (locks, revocation, events)."""

from django.db import transaction
from django.utils import timezone

from projects.actors import Actor
from projects.models import Project
from projects.models.event import EventKind
from projects.policy import policy_of

from .models import ApiKey
from .policy import clamp_expiry, keys_outliving, out_of_policy_keys
from .services import _lock_key, _lock_unrevoked, _revoke, record_key_event


def revoke_out_of_policy(*, project: Project, actor: Actor) -> list[ApiKey]:
    """Revoke every key of the project that breaks its policy; each revocation is logged."""
    revoked = []
    with transaction.atomic():
        for key in out_of_policy_keys(project):
            locked, now = _lock_unrevoked(key)
            _revoke(locked, actor=actor, now=now)
            record_key_event(
                key=locked,
                kind=EventKind.REVOKED,
                actor=actor,
                details={"reason": "out_of_key_policy", "policy": "; ".join(key.policy_reasons)},
            )
            revoked.append(locked)
    return revoked


def shorten_expiry(*, project: Project, actor: Actor, now=None) -> list[ApiKey]:
    """Bring the expiry of the project's longer-lived keys down to its maximum lifetime from now;
    each change is logged (the key's cached record is dropped: its next request sees it)."""
    now = now or timezone.now()
    policy = policy_of(project)
    changed = []
    with transaction.atomic():
        for key in keys_outliving(project, policy.max_lifetime_days, now):
            locked = _lock_key(key)
            before = locked.expires_at
            locked.expiry_rule, locked.expires_at = clamp_expiry(locked.expiry_rule, before, [policy], now)
            locked.save(update_fields=["expiry_rule", "expires_at"])
            record_key_event(
                key=locked,
                kind=EventKind.UPDATED,
                actor=actor,
                details={
                    "expires_at": {"from": before.isoformat() if before else None, "to": locked.expires_at.isoformat()},  # type: ignore[union-attr]  # just set
                    "reason": "key_policy_maximum_lifetime",
                },
            )
            changed.append(locked)
    return changed
