"""Errors of the key rules: kinds of `keys_console.errors.Refused` (the question gate's
`ApiKeysLocked` is the project's: projects.errors)."""

from keys_console.errors import Refused


class KeyRuleError(Refused):
    code = "key_rule"


class KeyLimitReached(KeyRuleError):
    code, status = "key_limit_reached", 409


class DuplicateKeyName(KeyRuleError):
    code, status = "duplicate_key_name", 409


class InvalidKeyRequest(KeyRuleError):
    code = "invalid_key_request"


class KeyNotActive(KeyRuleError):
    code, status = "key_not_active", 409
