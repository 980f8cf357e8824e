"""A person's Sandbox: the project every new account gets when its email address is confirmed.

It holds 10 sample questions (`Question.is_sample`), so its API Key tab is unlocked from the first
minute and a person who only wants to try the API gets a working key without inventing questions
first (Stripe's test mode). "Replace the sample questions" deletes the samples in one action.
Its keys are test keys (`nbq_test_`), which act on the Sandbox alone (keys/sandbox.py).

The question gate is the same as everywhere (projects/gate.py): the samples are what unlock it.
"""

from django.db import transaction
from django.urls import reverse

from accounts.adapter import set_landing_url

from .actors import Actor
from .events import record_event
from .models import Project, Question, Role
from .models.event import EventKind
from .questions import questions_bulk_create
from .services import project_create

SANDBOX_NAME = "Sandbox"
SAMPLE_QUESTIONS = (
    "What would you like to get done today?",
    "Which plan are you on?",
    "How many people on your team will use this?",
    "What did you use before?",
    "Which integration matters most to you?",
    "How often do you expect to use it?",
    "What almost stopped you from signing up?",
    "Which feature should we build next?",
    "How likely are you to recommend us to a colleague (0-10)?",
    "Is there anything else we should know?",
)


def sandbox_of(user) -> Project | None:
    """The person's Sandbox (the first one they own), if they have one."""
    return (
        Project.objects.filter(is_sandbox=True, memberships__user=user, memberships__role=Role.OWNER)
        .order_by("pk")
        .first()
    )


def sandbox_create(*, user, actor: Actor | None = None) -> Project:
    """Give `user` a Sandbox with the sample questions, unless they already have one (idempotent).
    Made through `project_create` and `questions_bulk_create`, so both are in its event log."""
    actor = actor or Actor(user=user, label=user.email)
    with transaction.atomic():
        existing = sandbox_of(user)
        if existing is not None:
            return existing
        project = project_create(name=SANDBOX_NAME, owner=user, actor=actor, sandbox=True)
        questions_bulk_create(project=project, text="\n".join(SAMPLE_QUESTIONS), actor=actor, sample=True)
    return project


def sample_questions_delete(*, project: Project, actor: Actor) -> int:
    """ "Replace the sample questions": delete the project's sample questions at once (one event).
    Returns how many were deleted. Keys already made keep working (the gate's usual rule)."""
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        samples = Question.objects.filter(project=project, is_sample=True)
        count = samples.count()
        if count:
            record_event(
                project=project,
                kind=EventKind.SAMPLE_QUESTIONS_DELETED,
                actor=actor,
                subject=project.name,
                details={"count": count},
            )
            samples.delete()  # sends post_delete per question: the API's gate cache hears of it
    return count


# The page a new Sandbox opens on, a URL name reversed with its slug: keys makes it the API Key
# tab's Generate dialog (keys/apps.py); without keys, the Questions tab.
_landing_url_name = "projects:questions"


def open_new_sandboxes_on(url_name: str) -> None:
    """A higher app names the page of a project a new Sandbox opens on (keys: `project_keys:key_new`),
    so projects names none of its URLs (tests/test_layers.py)."""
    global _landing_url_name
    _landing_url_name = url_name


def sandbox_landing_url(project: Project) -> str:
    """Where a person lands after confirming their email: the page a higher app chose (keys: the
    Sandbox's API Key tab with the Generate dialog open and a name filled in)."""
    return reverse(_landing_url_name, args=[project.slug])


def on_email_confirmed(request, email_address, **kwargs) -> None:
    """allauth's `email_confirmed`: a person's FIRST confirmed address gives them their Sandbox,
    and they land on its API Key tab (accounts.adapter takes them there after the login)."""
    user = email_address.user
    if email_address.__class__.objects.filter(user=user, verified=True).exclude(pk=email_address.pk).exists():
        return  # a second address, not a new account
    project = sandbox_create(user=user)
    if request is not None and hasattr(request, "session"):
        set_landing_url(request, user, sandbox_landing_url(project))
