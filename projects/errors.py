"""Errors of the project rules: kinds of `keys_console.errors.Refused` (a code and a sentence a
person reads; the API, the console, the admin and the CLI each translate it in one place)."""

from keys_console.errors import Refused

# The name the key rules and older callers use for the one error type.
RuleError = Refused


class InvalidRequest(Refused):
    code = "invalid_request"


class ApiKeysLocked(Refused):
    """The question gate: the project has too few active questions for API keys."""

    code, status = "api_keys_locked", 403
