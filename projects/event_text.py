"""The event log in words a person reads: one sentence per event and its details in plain text.

"ana@example.com revoked “Nightly import” (key_…)", "permissions: read, write; expires 25 Feb 2027".
No Python reprs, no microsecond stamps. The page, the key details and the CSV export all use these.
"""

from datetime import UTC, datetime

from django.utils.text import Truncator

from .event_kinds import EventKind
from .models.policy import LIFETIME_CHOICES
from .models.project import Role

SENTENCES = {
    EventKind.CREATED: "{actor} created “{key_name}” ({key_id})",
    EventKind.ROTATED: "{actor} rotated “{key_name}” ({key_id})",
    EventKind.REVOKED: "{actor} revoked “{key_name}” ({key_id})",
    EventKind.DELETED: "{actor} deleted “{key_name}” ({key_id})",
    EventKind.UPDATED: "{actor} changed “{key_name}” ({key_id})",
    EventKind.REVOKED_KEY_USED: "Someone presented the revoked key “{key_name}” ({key_id})",
    EventKind.EXPIRED_KEY_USED: "Someone presented the expired key “{key_name}” ({key_id})",
    EventKind.RATE_LIMITED: "“{key_name}” ({key_id}) reached its rate limit",
    EventKind.LEAKED: "“{key_name}” ({key_id}) was found in public and revoked",
    EventKind.IP_REFUSED: "A call with “{key_name}” ({key_id}) came from an address it is not allowed from",
    EventKind.REMINDER_SENT: "A reminder about “{key_name}” ({key_id}) was mailed",
    EventKind.DISABLED: "{actor} disabled “{key_name}” ({key_id})",
    EventKind.ENABLED: "{actor} enabled “{key_name}” ({key_id})",
    EventKind.DISABLED_KEY_USED: "Someone presented the disabled key “{key_name}” ({key_id})",
    EventKind.MEMBER_ADDED: "{actor} added {subject} as {role}",
    EventKind.MEMBER_ROLE_CHANGED: "{actor} changed the role of {subject} from {old_role} to {role}",
    EventKind.MEMBER_REMOVED: "{actor} removed {subject} from the project",
    EventKind.MEMBER_LEFT: "{subject} left the project",
    EventKind.INVITATION_SENT: "{actor} invited {subject} as {role}",
    EventKind.INVITATION_ACCEPTED: "{subject} accepted the invitation and joined as {role}",
    EventKind.INVITATION_CANCELLED: "{actor} cancelled the invitation to {subject}",
    EventKind.QUESTION_ADDED: "{actor} added the question “{subject}”",
    EventKind.QUESTIONS_BULK_ADDED: "{actor} added {count_text} in bulk",
    EventKind.QUESTION_EDITED: "{actor} edited the question “{subject}”",
    EventKind.QUESTION_ACTIVATED: "{actor} activated the question “{subject}”",
    EventKind.QUESTION_DEACTIVATED: "{actor} deactivated the question “{subject}”",
    EventKind.QUESTION_DELETED: "{actor} deleted the question “{subject}”",
    EventKind.SAMPLE_QUESTIONS_DELETED: "{actor} deleted the sample questions ({count_text})",
    EventKind.PROJECT_CREATED: "{actor} created the project “{subject}”",
    EventKind.PROJECT_RENAMED: "{actor} renamed the project from “{old_name}” to “{subject}”",
    EventKind.APPROVAL_REQUESTED: "The personal key “{key_name}” ({key_id}) of {holder} asked for approval",
    EventKind.KEY_APPROVED: "{actor} approved the personal key “{key_name}” ({key_id})",
    EventKind.KEY_DENIED: "{actor} denied the personal key “{key_name}” ({key_id})",
    EventKind.WEBHOOK_ADDED: "{actor} added the webhook endpoint {subject}",
    EventKind.WEBHOOK_SECRET_ROTATED: "{actor} rotated the signing secret of the webhook endpoint {subject}",
    EventKind.WEBHOOK_DISABLED: "{actor} disabled the webhook endpoint {subject}",
    EventKind.WEBHOOK_ENABLED: "{actor} enabled the webhook endpoint {subject}",
    EventKind.WEBHOOK_DELETED: "{actor} deleted the webhook endpoint {subject}",
}

ADDRESS_CHANGED = "{actor} changed the project's address from “{old_slug}” to “{slug}”"
RENAMED_AND_ADDRESS_CHANGED = SENTENCES[EventKind.PROJECT_RENAMED] + " and its address from “{old_slug}” to “{slug}”"

SUBJECT_LENGTH = 80  # question texts are shortened to this in sentences


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """ "1 event", "2 events", "1,000 events"."""
    return f"{count:,} {singular if count == 1 else (plural_form or singular + 's')}"


def _role(value) -> str:
    try:
        return Role(value).label
    except ValueError:
        return str(value or "?")


def _when(value, *, with_time: bool = False) -> str:
    """An ISO stamp from the details as "25 Feb 2027" (or "25 Feb 2027, 14:05 UTC")."""
    try:
        moment = datetime.fromisoformat(value).astimezone(UTC)
    except (TypeError, ValueError):
        return str(value)
    day = f"{moment.day} {moment:%b %Y}"
    return f"{day}, {moment:%H:%M} UTC" if with_time else day


def _shortened(text: str) -> str:
    return text if len(text) <= SUBJECT_LENGTH else Truncator(text).chars(SUBJECT_LENGTH)


class _Facts(dict):
    def __missing__(self, key):
        return "?"


def sentence(event) -> str:
    details = event.details if isinstance(event.details, dict) else {}
    facts = _Facts(
        actor=event.actor_label or "someone",
        key_name=event.key_name,
        key_id=event.key_id,
        subject=_shortened(event.subject),
        role=_role(details.get("role")),
        old_role=_role(details.get("old_role")),
        old_name=details.get("old_name", "?"),
        count_text=plural(int(details.get("count") or 0), "question"),
    )
    if event.kind == EventKind.POLICY_CHANGED:
        return policy_sentence(facts["actor"], details)
    facts["holder"] = details.get("holder") or "a member"
    template = SENTENCES.get(event.kind)
    if event.kind == EventKind.PROJECT_RENAMED and "old_slug" in details:  # a new address (admin)
        facts.update(old_slug=details["old_slug"], slug=details.get("slug", "?"))
        template = ADDRESS_CHANGED if "old_name" not in details else RENAMED_AND_ADDRESS_CHANGED
    if template is None:  # a kind written by a newer version of the code
        return f"{facts['actor']}: {event.get_kind_display()} {event.key_name or event.subject}".strip()
    return template.format_map(facts)


def policy_sentence(actor: str, details: dict) -> str:
    """A change of one rule of the key policy (keys/policy.py `save_policy`), as a sentence."""
    rule, value = details.get("rule"), details.get("value")
    if rule == "max_lifetime_days":
        if not value:
            return f"{actor} removed the maximum key lifetime"
        return f"{actor} set the maximum key lifetime to {dict(LIFETIME_CHOICES).get(value, f'{value} days')}"
    if rule == "allowed_permissions":
        return f"{actor} set the allowed permissions to {_value(value)}"
    switches = {
        "require_allowed_ips": "allowed IP addresses for every key",
        "approval_required": "approval of personal keys",
        "two_factor_required": "two-factor authentication of every member",
    }
    if rule in switches:
        return f"{actor} {'required' if value else 'stopped requiring'} {switches[rule]}"
    return f"{actor} changed the key policy"


def _value(value) -> str:
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        return _when(value, with_time=True)
    return str(value)


def _change(field: str, change) -> str:
    if field == "text":
        return "text changed"
    if field == "is_active" and isinstance(change, list) and len(change) == 2:
        return "now active" if change[1] else "now inactive"
    if isinstance(change, list) and len(change) == 2:
        return f"{field}: {_value(change[0])} → {_value(change[1])}"
    return f"{field} changed"


FIELD_LABELS = {
    "rate_limit_per_minute": "rate limit",
    "name": "name",
    "permissions": "permissions",
    "allowed_ips": "allowed IP addresses",
    "scope": "scope",
}


def _from_to(name: str, change: dict) -> str:
    """{"from": a, "to": b} as "name: a → b"."""

    def side(value):
        if value is None and name == "rate_limit_per_minute":
            return "default"
        if name == "allowed_ips" and not value:
            return "anywhere"
        if name == "scope" and value == "all":
            return "all projects"
        if name == "name":
            return f"“{value}”"
        return _value(value)

    label = FIELD_LABELS.get(name, name.replace("_", " "))
    return f"{label}: {side(change.get('from'))} → {side(change.get('to'))}"


def _part(name: str, value) -> str | None:
    """One `details` entry in words, or None when the sentence already says it."""
    if isinstance(value, dict) and set(value) == {"from", "to"}:
        return _from_to(name, value)
    if name in ("role", "old_role", "old_name", "count", "question_id", "question_ids", "rule", "value", "holder"):
        return None
    if name == "permissions":
        return "permissions: " + _value(value)
    if name == "allowed_ips":
        return "allowed from: " + (_value(value) or "anywhere")
    if name == "expires_at":
        return f"expires {_when(value)}" if value else "never expires"
    if name == "rotated_from":
        return f"replaces {value}"
    if name == "new_key_id":
        return f"replaced by {value}"
    if name == "old_key_stops_at":
        return f"old key stops {_when(value, with_time=True)}"
    if name == "reason":
        return str(value).replace("_", " ")
    if name == "successor":
        return f"successor {value}"
    if name == "with_predecessor":
        return f"with the key it replaced, {value}"
    if name == "bulk":
        return "one of several revoked together" if value else None
    if name == "disabled_since":
        return f"disabled since {_when(value, with_time=True)}"
    if name == "status_when_deleted":
        return f"was {value} when deleted"
    if name == "priority":
        return f"priority {value}"
    if name == "is_active":
        return "active" if value else "inactive"
    if name == "changes" and isinstance(value, dict):
        return "; ".join(_change(field, change) for field, change in value.items()) or None
    if name == "found_at":
        return f"found at {value}"
    if name == "reported_by":
        return f"reported by {value}"
    if name == "reminder":
        return REMINDER_TEXT.get(str(value), str(value))
    if name == "via_key":
        return f"through the API key {value}"
    if name == "invited_by":
        return f"invited by {value}"
    return f"{name.replace('_', ' ')}: {_value(value)}"


REMINDER_TEXT = {
    "expires_7d": "expires within 7 days",
    "expires_1d": "expires within a day",
    "unused_90d": "unused for 90 days",
}

# The order facts are told in (PostgreSQL's jsonb keeps its own key order, so it is fixed here).
DETAIL_ORDER = [
    "reason",
    "found_at",
    "reported_by",
    "reminder",
    "successor",
    "with_predecessor",
    "rotated_from",
    "new_key_id",
    "name",
    "permissions",
    "rate_limit_per_minute",
    "allowed_ips",
    "expires_at",
    "old_key_stops_at",
    "status_when_deleted",
    "changes",
    "priority",
    "is_active",
    "invited_by",
    "via_key",
]


def details_text(event) -> str:
    details = event.details if isinstance(event.details, dict) else {}
    names = sorted(details, key=lambda n: (DETAIL_ORDER.index(n) if n in DETAIL_ORDER else len(DETAIL_ORDER), n))
    parts = (_part(name, details[name]) for name in names)
    return "; ".join(p for p in parts if p)
