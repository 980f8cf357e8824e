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
