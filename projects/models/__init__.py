from .event import KeyEvent
from .project import Invitation, Membership, Project, Role
from .question import Question

__all__ = ["Invitation", "KeyEvent", "Membership", "Project", "Question", "Role"]
