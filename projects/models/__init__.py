from .event import KeyEvent
from .policy import KeyPolicy
from .project import Invitation, Membership, Project, Role
from .question import Question

__all__ = ["Invitation", "KeyEvent", "KeyPolicy", "Membership", "Project", "Question", "Role"]
