"""Errors of the domain rules, with a message fit to show to the person who acted."""


class KeyRuleError(Exception):
    code = "key_rule"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ApiKeysLocked(KeyRuleError):
    code = "api_keys_locked"


class KeyLimitReached(KeyRuleError):
    code = "key_limit_reached"


class DuplicateKeyName(KeyRuleError):
    code = "duplicate_key_name"


class InvalidKeyRequest(KeyRuleError):
    code = "invalid_key_request"


class KeyNotActive(KeyRuleError):
    code = "key_not_active"
