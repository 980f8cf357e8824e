"""Errors of the domain rules, with a message fit to show to the person who acted."""


class KeyRuleError(Exception):
    """`errors` maps a field (None: the request as a whole) to its message; `message` and
    `field` are the first of them."""

    code = "key_rule"

    def __init__(
        self, message: str | None = None, *, field: str | None = None, errors: dict[str | None, str] | None = None
    ):
        # (Every caller passes a message or errors: without either, the join below used to fail.)
        self.errors: dict[str | None, str] = dict(errors) if errors else {field: message or ""}
        self.field, self.message = next(iter(self.errors.items()))
        super().__init__(" ".join(self.errors.values()))


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
