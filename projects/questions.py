"""Changes to a project's question bank: add (one or many), edit, activate, deactivate, delete.

Views, the runtime API and the admin call these, so every change lands in the event log, and
the bulk rules (which line is wrong, and why) live in one place.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from keys_console.errors import Refused

from .actors import Actor
from .events import record_event
from .gate import QuestionGate
from .models import Project, Question
from .models.event import EventKind
from .models.question import QUESTION_TEXT_MAX
from .signals import questions_bulk_added


@dataclass(frozen=True)
class LineError:
    line: int  # 1-based, as the person counts the lines they pasted
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}"


class BulkAddRejected(Refused):
    """Nothing was added. `line_errors` names each bad line; `message` says what is wrong overall."""

    def __init__(self, message: str, line_errors: Iterable[LineError] = ()):
        self.line_errors = list(line_errors)
        errors: dict[str | None, str] = {"questions": message}
        if self.line_errors:
            errors[None] = " ".join(f"{e}" for e in self.line_errors)
        super().__init__(errors=errors)


def bulk_lines(text: str) -> list[tuple[int, str]]:
    """The questions in a pasted text: (line number, question) for each non-blank line."""
    return [(n, line.strip()) for n, line in enumerate((text or "").splitlines(), 1) if line.strip()]


def questions_bulk_create(
    *, project: Project, text: str, actor: Actor, priority: int = 0, sample: bool = False
) -> list[Question]:
    """Add one active question per non-blank line of `text`, all or none (`sample`: a Sandbox's
    sample questions, see projects/sandbox.py).

    Refused line by line: too long, a NUL character, a repeat of an earlier line or of a question
    the project already has. Questions keep the order of the lines (same priority, rising ids).
    """
    lines = bulk_lines(text)
    limit = settings.QUESTIONS_BULK_MAX
    if not lines:
        raise BulkAddRejected("Write at least one question, one per line.")
    if len(lines) > limit:
        raise BulkAddRejected(f"Add at most {limit:,} questions at a time (this has {len(lines):,}).")
    storable = [t for _, t in lines if len(t) <= QUESTION_TEXT_MAX and "\x00" not in t]
    existing = set(Question.objects.filter(project=project, text__in=storable).values_list("text", flat=True))
    errors: list[LineError] = []
    first_seen: dict[str, int] = {}
    for number, line in lines:
        if len(line) > QUESTION_TEXT_MAX:
            errors.append(
                LineError(
                    number, f"keep each question to {QUESTION_TEXT_MAX:,} characters (this line has {len(line):,})."
                )
            )
        elif "\x00" in line:
            errors.append(LineError(number, "contains a NUL character, which cannot be stored."))
        elif line in first_seen:
            errors.append(LineError(number, f"repeats line {first_seen[line]}."))
        elif line in existing:
            errors.append(LineError(number, "this question is already in the project."))
        first_seen.setdefault(line, number)
    if errors:
        count = len(errors)
        raise BulkAddRejected(
            f"Nothing was added: {count} line{'s' if count != 1 else ''} need{'s' if count == 1 else ''} "
            "fixing (your text is kept below).",
            errors,
        )
    with transaction.atomic():
        created = Question.objects.bulk_create(
            Question(project=project, text=line, priority=priority, is_active=True, is_sample=sample)
            for _, line in lines
        )
        record_event(
            project=project,
            kind=EventKind.QUESTIONS_BULK_ADDED,
            actor=actor,
            subject=lines[0][1],
            details={
                "count": len(created),
                **({"priority": priority} if priority else {}),
                **({"sample": True} if sample else {}),
            },
        )
        if created:  # bulk_create sends no post_save: say so, for whoever caches the gate
            questions_bulk_added.send(sender=Question, project=project)
    return created


def question_create(
    *, project: Project, text: str, actor: Actor, priority: int = 0, is_active: bool = True
) -> Question:
    with transaction.atomic():
        question = Question.objects.create(project=project, text=text, priority=priority, is_active=is_active)
        record_event(
            project=project,
            kind=EventKind.QUESTION_ADDED,
            actor=actor,
            subject=text,
            details={"question_id": question.pk, "priority": priority, "is_active": is_active},
        )
    return question


def question_update(*, question: Question, actor: Actor, **changes) -> Question:
    """Change `text`, `priority` and/or `is_active`. A change of `is_active` alone logs as
    activated / deactivated; anything else as edited, with what changed."""
    changed = {
        field: [getattr(question, field), value]
        for field, value in changes.items()
        if getattr(question, field) != value
    }
    if not changed:
        return question
    for field, (_, value) in changed.items():
        setattr(question, field, value)
    if set(changed) == {"is_active"}:
        kind = EventKind.QUESTION_ACTIVATED if question.is_active else EventKind.QUESTION_DEACTIVATED
        details: dict[str, object] = {"question_id": question.pk}
    else:
        kind = EventKind.QUESTION_EDITED
        details = {
            "question_id": question.pk,
            "changes": {f: (True if f == "text" else change) for f, change in changed.items()},
        }
    with transaction.atomic():
        question.save(update_fields=[*changed, "updated_at"])
        record_event(project=question.project, kind=kind, actor=actor, subject=question.text, details=details)
    return question


def question_set_active(*, question: Question, active: bool, actor: Actor) -> Question:
    return question_update(question=question, actor=actor, is_active=active)


def question_delete(*, question: Question, actor: Actor) -> None:
    with transaction.atomic():
        record_event(
            project=question.project,
            kind=EventKind.QUESTION_DELETED,
            actor=actor,
            subject=question.text,
            details={"question_id": question.pk},
        )
        question.delete()


def removal_locks_keys(question: Question, gate: QuestionGate) -> bool:
    """Whether deactivating or deleting `question` takes the project below the question gate."""
    return question.is_active and gate.unlocked and gate.active - 1 < gate.required
