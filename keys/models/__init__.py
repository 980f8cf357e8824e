from .api_key import ApiKey, ApiKeyQuerySet, Permission
from .usage import KeyAddress, KeyProjectUsageDay, KeyUsageCount, KeyUsageDay

__all__ = [
    "ApiKey",
    "ApiKeyQuerySet",
    "KeyAddress",
    "KeyProjectUsageDay",
    "KeyUsageCount",
    "KeyUsageDay",
    "Permission",
]
