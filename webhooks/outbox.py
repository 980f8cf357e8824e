"""From the event log to webhooks: every line `projects.events.record_event` writes (whichever door
the change came through: console, CLI, admin, API, a leak report) is read here once, through
`post_save` of `KeyEvent`, and becomes the webhook messages of its project's endpoints.

The messages are rows written in the same transaction as the change (rolled back with it), with
one task for all of them (`queue`): the request that revoked a key never waits for a receiver.
An account key's lifecycle line is copied into every project its scope reaches
(`keys.services.record_key_event`), so each of those projects' endpoints hears of it; the line in
the holder's Security log (no project) sends nothing.
"""

import json
import logging
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone
from django_tasks_db import DatabaseBackend

from keys.models import ApiKey
from projects.models import KeyEvent

from .models import Delivery, Endpoint

logger = logging.getLogger("webhooks")

KEY_EVENT_TYPES = {
    "created": "key.created",
    "rotated": "key.rotated",
    "revoked": "key.revoked",
    "deleted": "key.deleted",
    "updated": "key.updated",
    "disabled": "key.disabled",
    "enabled": "key.enabled",
}
OTHER_EVENT_TYPES = {
    "member_added": "member.added",
    "member_removed": "member.removed",
    "member_left": "member.removed",
    "member_role_changed": "member.role_changed",
    "invitation_sent": "invitation.created",
    "invitation_accepted": "invitation.accepted",
    "policy_changed": "policy.changed",
}
# Facts copied from a line's details into the payload (never a key, hash or token: the event log
# holds none, and only these names pass).
DETAIL_FIELDS = {
    "key.rotated": ("new_key_id", "old_key_stops_at"),
    "key.created": ("rotated_from", "scope"),
    "key.disabled": (),
    "key.leaked": ("found_at", "reported_by"),
    "key.deleted": ("status_when_deleted",),
    "member.added": ("role",),
    "member.removed": ("role",),
    "member.role_changed": ("old_role", "role"),
    "invitation.created": ("role",),
    "invitation.accepted": ("role",),
    "policy.changed": ("rule", "value", "previous"),
}


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def key_facts(key: ApiKey) -> dict:
    """A key as a payload shows it: never its secret, hash or last characters."""
    return {
        "key_id": key.key_id,
        "name": key.name,
        "kind": key.kind,
        "permissions": key.sorted_permissions,
        "expires_at": iso(key.expires_at),
        # Disabled (paused) shows over Active / Rotating: the key would work but is refused.
        "status": "disabled" if key.is_disabled and key.authenticates else str(key.status),
    }


def revoke_reason(event: KeyEvent) -> str:
    """Why a key was revoked: manual (console or API), cli, admin, rotated (its successor took
    over), leaked (reported found in public)."""
    if event.kind == "leaked":
        return "leaked"
    if str(event.details.get("reason", "")).startswith("grace_period_ended"):
        return "rotated"
    if event.actor_label == "cli":
        return "cli"
    if event.actor_label.startswith("admin: "):
        return "admin"
    return "manual"


def messages_for(event: KeyEvent) -> list[tuple[str, dict]]:
    """The webhook types and `data` a line of the log becomes (none for most: traffic, questions)."""
    if event.project is None:
        return []
    base: dict = {"project": event.project.slug, "actor": event.actor_label}
    if event.kind in KEY_EVENT_TYPES or event.kind == "leaked":
        key = ApiKey.objects.filter(key_id=event.key_id).first()
        facts = key_facts(key) if key is not None else {"key_id": event.key_id, "name": event.key_name}
        data = {**base, "key": facts}
        if event.kind == "leaked":
            leaked = _with_details("key.leaked", data, event)
            return [("key.leaked", leaked), ("key.revoked", {**data, "reason": "leaked"})]
        event_type = KEY_EVENT_TYPES[event.kind]
        if event_type == "key.revoked":
            return [(event_type, {**data, "reason": revoke_reason(event)})]
        return [(event_type, _with_details(event_type, data, event))]
    other_type = OTHER_EVENT_TYPES.get(event.kind)
    if other_type is None:
        return []
    data = {**base}
    if other_type.startswith(("member.", "invitation.")):
        data["email"] = event.subject
    if event.kind == "member_left":
        data["left"] = True
    return [(other_type, _with_details(other_type, data, event))]


KEY_UPDATE_FIELDS = ("name", "permissions", "rate_limit_per_minute", "allowed_ips", "scope")


def _with_details(event_type: str, data: dict, event: KeyEvent) -> dict:
    if event_type == "key.updated":  # each changed field: {"from": …, "to": …}
        return {**data, "changes": {k: event.details[k] for k in KEY_UPDATE_FIELDS if k in event.details}}
    return {**data, **{k: event.details[k] for k in DETAIL_FIELDS.get(event_type, ()) if k in event.details}}


def body(event_type: str, data: dict, at: datetime | None = None) -> str:
    return json.dumps(
        {"type": event_type, "timestamp": iso(at or timezone.now()), "data": data},
        separators=(",", ":"),
        sort_keys=False,
    )


def queue(endpoints, event_type: str, data: dict, at: datetime | None = None, *, manual=False) -> list[Delivery]:
    """Write one message per endpoint in the caller's transaction, and hand them to the task queue
    as ONE task (`fan_out`: one row, whatever the number of endpoints). With a queue that lives in
    the database (django-tasks-db) the task row is written in the same transaction, so it exists
    exactly when the change committed; with any other backend it is enqueued once the transaction
    has committed. `manual`: a person asked, so a disabled endpoint gets it too (Send test event)."""
    from .delivery import fan_out

    text = body(event_type, data, at)
    deliveries = Delivery.objects.bulk_create(
        [Delivery(endpoint=endpoint, event_type=event_type, body=text) for endpoint in endpoints]
    )
    if not deliveries:
        return deliveries
    ids = [d.id for d in deliveries]

    def enqueue() -> None:
        try:
            fan_out.enqueue(delivery_ids=ids, manual=manual)
        except Exception:  # the change happened: send_webhook_retries finds the messages never tried
            logger.exception("Could not enqueue webhooks %s", ids)

    if isinstance(fan_out.get_backend(), DatabaseBackend):
        enqueue()
    else:
        transaction.on_commit(enqueue)
    return deliveries


def subscribed(project_id: int, event_type: str) -> list[Endpoint]:
    return [e for e in Endpoint.objects.filter(project_id=project_id, enabled=True) if e.wants(event_type)]


def on_event_recorded(sender, instance: KeyEvent, created: bool, raw: bool = False, **kwargs) -> None:
    if not created or raw or instance.project_id is None:
        return
    if instance.kind not in KEY_EVENT_TYPES and instance.kind not in OTHER_EVENT_TYPES and instance.kind != "leaked":
        return  # the common case on the API's path (refusals, rate limits): no query at all
    endpoints = list(Endpoint.objects.filter(project_id=instance.project_id, enabled=True))
    if not endpoints:
        return
    for event_type, data in messages_for(instance):
        wanted = [e for e in endpoints if e.wants(event_type)]
        if wanted:
            queue(wanted, event_type, data, at=instance.created_at)
