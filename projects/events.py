"""Writing the event log: THE one writer of its lines. Every function that changes a project
calls `record_event` inside its own transaction, so a change and its line in the log land
together (or not at all)."""

from typing import Protocol

from .actors import Actor
from .models import KeyEvent, Project


class KeyFacts(Protocol):
    """What a line copies from the key it is about (the key may be gone when the line is read)."""

    key_id: str
    name: str


def record_event(
    *,
    project: Project | None,
    kind: str,
    actor: Actor,
    key: KeyFacts | None = None,
    account=None,
    subject: str = "",
    details: dict | None = None,
) -> KeyEvent:
    """One line of `project`'s log, or of `account`'s Security log (a personal key's own events).
    `key` for key events; `subject` names what else it is about (an email, a question's text, the
    project's name); `details` holds the facts as JSON values."""
    return KeyEvent.objects.create(
        project=project,
        account=account,
        key_id=key.key_id if key is not None else "",
        key_name=key.name if key is not None else "",
        subject=(subject or "")[:200],
        kind=kind,
        actor=actor.user,
        actor_label=actor.label[:254],
        ip=actor.ip,
        user_agent=actor.user_agent[:256],
        details={**(details or {}), **({"via_key": actor.via_key} if actor.via_key else {})},
    )
