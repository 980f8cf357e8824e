"""`Refused`: THE error of an action a rule refuses — a code and a sentence a person reads.

Every layer raises it (or a subclass that names the rule: `projects.errors`, `keys.errors`,
`projects.invitations.InvitationRefused`, `projects.membership.MembershipRefused`, …), and each
door translates it in one place:

- the runtime API: one django-ninja exception handler (`api/errors.py`) answers
  `{"error": {"code", "message"[, "fields"]}}` with the error's `status` (and `Retry-After`);
- the console and the admin: `add_to_form(form, exc)` puts each sentence on its field;
- the management commands: `RefusalCommand` writes the sentence to stderr and exits 1.

So a rule's sentence is the same wherever the action was attempted.
"""

import math

from django.core.management.base import BaseCommand, CommandError


class Refused(Exception):
    """A rule refused an action. `errors` maps a field (None: the action as a whole) to its
    sentence; `message` and `field` are the first of them. `code` is stable and machine-readable
    (the API's error code); `status` is the HTTP status the API answers with."""

    code = "invalid_request"
    status = 400

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        errors: dict[str | None, str] | None = None,
        code: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.errors: dict[str | None, str] = dict(errors) if errors else {field: message or ""}
        self.field, self.message = next(iter(self.errors.items()))
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers: dict[str, str] = dict(headers or {})
        self.retry_after = None if retry_after is None else max(1, math.ceil(retry_after))
        if self.retry_after is not None:
            self.headers["Retry-After"] = str(self.retry_after)
        # The fields a client sees (the API's `fields`): every sentence that names a field.
        self.fields: dict[str, str] | None = {f: m for f, m in self.errors.items() if f is not None} or None
        super().__init__(self.sentence)

    @property
    def sentence(self) -> str:
        """Every sentence of the refusal, in order (what the CLI prints)."""
        return " ".join(m for m in self.errors.values() if m)


def add_to_form(form, exc: Refused) -> None:
    """Show a refusal on a Django form: each sentence on its field, or on the form as a whole."""
    for field, message in exc.errors.items():
        form.add_error(field if field in form.fields else None, message)


class RefusalCommand(BaseCommand):
    """A management command whose refusals go to stderr with exit status 1 (Django prints a
    CommandError so), saying the same sentence as the console and the API."""

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except Refused as exc:
            raise CommandError(exc.sentence) from None
