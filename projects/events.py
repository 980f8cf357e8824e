"""Writing the project's event log. Every function that changes a project calls `record_event`
inside its own transaction, so a change and its line in the log land together (or not at all)."""

from .actors import Actor
from .models import ApiKey, KeyEvent, Project


def record_event(
    *,
    project: Project,
    kind: str,
    actor: Actor,
    key: ApiKey | None = None,
    subject: str = "",
    details: dict | None = None,
) -> KeyEvent:
    """One line of `project`'s log. `key` for key events; `subject` names what else it is about
    (an email, a question's text, the project's name); `details` holds the facts as JSON values."""
    return KeyEvent.objects.create(
        project=project,
        api_key=key if key is not None and key.pk else None,
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
