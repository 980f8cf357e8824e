"""The question gate: a project's API keys unlock at 10 active questions.

One function, used by the console views, the runtime API, the management commands and the
admin, so the rule lives in a single place.
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


def question_gate(project) -> QuestionGate:
    from .models import Question

    active = Question.objects.filter(project=project, is_active=True).count()
    return QuestionGate(active=active, required=settings.API_KEY_REQUIRED_ACTIVE_QUESTIONS)


def require_api_keys_unlocked(project) -> QuestionGate:
    gate = question_gate(project)
    if not gate.unlocked:
        raise ApiKeysLocked(
            f"API keys unlock at {gate.required} active questions; this project has {gate.active}. "
            f"Activate or add {gate.missing} more."
        )
    return gate
