"""Errors of the key rules (the question gate's `ApiKeysLocked` is the project's: projects.errors)."""

from projects.errors import RuleError


class KeyRuleError(RuleError):
    code = "key_rule"


class KeyLimitReached(KeyRuleError):
    code = "key_limit_reached"


class DuplicateKeyName(KeyRuleError):
    code = "duplicate_key_name"


class InvalidKeyRequest(KeyRuleError):
    code = "invalid_key_request"


class KeyNotActive(KeyRuleError):
    code = "key_not_active"
