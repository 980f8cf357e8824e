"""Errors of the domain rules, with a message fit to show to the person who acted."""


class RuleError(Exception):
    """A rule refused a change. `errors` maps a field (None: the request as a whole) to its
    message; `message` and `field` are the first of them."""

    code = "rule"

    def __init__(
        self, message: str | None = None, *, field: str | None = None, errors: dict[str | None, str] | None = None
    ):
        self.errors: dict[str | None, str] = dict(errors) if errors else {field: message or ""}
        self.field, self.message = next(iter(self.errors.items()))
        super().__init__(" ".join(self.errors.values()))


class InvalidRequest(RuleError):
    code = "invalid_request"


class ApiKeysLocked(RuleError):
    """The question gate: the project has too few active questions for API keys."""

    code = "api_keys_locked"
