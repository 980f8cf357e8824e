from .api_key import ApiKey, ApiKeyQuerySet, Permission
from .approval import ApprovalState, KeyApproval
from .usage import KeyAddress, KeyProjectUsageDay, KeyUsageCount, KeyUsageDay

__all__ = [
    "ApiKey",
    "ApiKeyQuerySet",
    "ApprovalState",
    "KeyApproval",
    "KeyAddress",
    "KeyProjectUsageDay",
    "KeyUsageCount",
    "KeyUsageDay",
    "Permission",
]
