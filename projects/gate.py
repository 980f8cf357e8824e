"""The question gate: a project's API keys unlock at 10 active questions.

One rule, used by the console views, the runtime API (`api/acting.py`: `gate_for` on its cached
count), the project list, the management commands and the admin, so it lives in a single place.
"""

from dataclasses import dataclass

from django.conf import settings

from .errors import ApiKeysLocked


@dataclass(frozen=True)
class QuestionGate:
    active: int
    required: int

    @property
    def unlocked(self) -> bool:
        return self.active >= self.required

    @property
    def missing(self) -> int:
        return max(self.required - self.active, 0)

    @property
    def counter(self) -> str:
        """ "12 active (10 needed)": the count first, the threshold beside it (never "12 of 10")."""
        return counter_text(self.active, self.required)


def counter_text(active: int, required: int, noun: str = "") -> str:
    """counter_text(12, 10) is "12 active (10 needed)"; with noun="questions", "12 active questions (10 needed)"."""
    return f"{active:,} active{' ' + noun if noun else ''} ({required:,} needed)"


def gate_for(active: int) -> QuestionGate:
    """The gate of a project with `active` active questions, counted by the caller (the project
    list counts them for a page of projects at once; the API's cached project record holds it)."""
    return QuestionGate(active=active, required=settings.API_KEY_REQUIRED_ACTIVE_QUESTIONS)


def question_gate(project) -> QuestionGate:
    from .models import Question

    return gate_for(Question.objects.filter(project=project, is_active=True).count())


def require_api_keys_unlocked(project) -> QuestionGate:
    gate = question_gate(project)
    if not gate.unlocked:
        raise ApiKeysLocked(
            f"API keys unlock at {gate.required} active questions; this project has {gate.active}. "
            f"Activate or add {gate.missing} more."
        )
    return gate


def locked_for_account_keys(slug: str) -> str:
    """Why an account key is refused by a locked project (the API's 403 `project_locked`)."""
    return (
        f"Project {slug} has fewer than {settings.API_KEY_REQUIRED_ACTIVE_QUESTIONS} active questions; "
        "account keys are refused until it has them again."
    )
