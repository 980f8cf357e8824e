from .api_key import ApiKey, ApiKeyQuerySet, Permission
from .event import KeyEvent
from .project import Invitation, Membership, Project, Role
from .question import Question
from .usage import KeyProjectUsageDay, KeyUsageDay

__all__ = [
    "ApiKey",
    "ApiKeyQuerySet",
    "Invitation",
    "KeyEvent",
    "KeyProjectUsageDay",
    "KeyUsageDay",
    "Membership",
    "Permission",
    "Project",
    "Question",
    "Role",
]
