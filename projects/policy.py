"""The project-level rules of a key policy (the key rules are `keys.policy`): reading a project's
policy, and **Require two-factor authentication** for its members.

A member without two-factor authentication who opens a project that requires it is sent to set
it up (`require_two_factor`, called by `projects.access.membership_for`, the one door of every
project page); their personal keys are refused there by the runtime API (403
`two_factor_required`, `api.acting`), which asks `has_two_factor` through the key's record.
"""

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.shortcuts import redirect

from .models import KeyPolicy, Project

# What counts as two-factor authentication: an authenticator app or a security key (recovery
# codes alone are not a second factor).
SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def policy_of(project: Project) -> KeyPolicy:
    """The project's key policy: its row, or the default (no rule; not saved)."""
    try:
        return project.key_policy
    except KeyPolicy.DoesNotExist:
        return KeyPolicy(project=project)


def has_two_factor(user_id) -> bool:
    """THE rule of what "has two-factor authentication" means here."""
    return Authenticator.objects.filter(user_id=user_id, type__in=SECOND_FACTORS).exists()


def two_factor_sentence(project: Project) -> str:
    return (
        f"{project.name} requires two-factor authentication: set it up to open the project "
        "(your personal keys are refused there until you do)."
    )


def two_factor_missing(user, project: Project) -> bool:
    """Whether `user` may not open `project` (or act there with a personal key) for want of 2FA."""
    return policy_of(project).two_factor_required and not has_two_factor(user.pk)


def require_two_factor(request, project: Project) -> None:
    """Send a member without two-factor authentication to set it up, with a sentence, when the
    project requires it (raises allauth's ImmediateHttpResponse, which its middleware answers)."""
    if two_factor_missing(request.user, project):
        messages.warning(request, two_factor_sentence(project))
        raise ImmediateHttpResponse(redirect("mfa_index"))
