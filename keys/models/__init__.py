from .api_key import ApiKey, ApiKeyQuerySet, Permission
from .usage import KeyProjectUsageDay, KeyUsageDay

__all__ = ["ApiKey", "ApiKeyQuerySet", "KeyProjectUsageDay", "KeyUsageDay", "Permission"]
