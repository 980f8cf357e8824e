"""Who may see and change a project: members see it, owners and admins change it."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import Membership
from .policy import require_two_factor


def membership_for(request, slug: str, *, manage: bool = False) -> Membership:
    """The requesting user's membership of project `slug`.

    Non-members get a 404 (a project's existence is not revealed); viewers asking to
    change something get a 403. A project whose key policy requires two-factor authentication
    sends a member without it to set it up (`projects.policy.require_two_factor`).
    """
    membership = (
        Membership.objects.select_related("project", "project__key_policy", "user")
        .filter(project__slug=slug, user_id=request.user.pk)
        .first()
    )
    if membership is None:
        raise Http404("No such project.")
    require_two_factor(request, membership.project)
    if manage and not membership.can_manage:
        raise PermissionDenied("Only owners and admins can change this project.")
    return membership
