"""Request and response bodies of the runtime API (django-ninja / pydantic schemas)."""

from datetime import datetime
from typing import Annotated, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Field, Schema
from pydantic import BeforeValidator, ConfigDict, StrictBool, field_validator

from keys.leaks import MAX_KEYS_PER_REPORT, REPORTED_KEY_MAX_LENGTH, REPORTED_PLACE_MAX_LENGTH
from projects.models.question import PRIORITY_MAX, PRIORITY_MIN, QUESTION_TEXT_MAX

MAX_ANSWERED = 10_000
EMAIL_MAX_LENGTH = 254


def _whole_number(value):
    """JSON integers, also written as 3.0 (JSON Schema counts that as an integer); never true/"3"/3.5."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Must be a whole number.")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("Must be a whole number.")
        return int(value)
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
# The constraints come first, so that they land in the JSON schema (minimum / maximum).
Priority = Annotated[
    int, Field(ge=PRIORITY_MIN, le=PRIORITY_MAX, description="Higher comes first."), BeforeValidator(_whole_number)
]
QuestionText = Annotated[str, Field(min_length=1, max_length=QUESTION_TEXT_MAX)]


def _clean_text(value):
    if isinstance(value, str):
        # The documented limit holds for the text as sent: stripping first would accept 2,001
        # characters whose first is a control character (found by schemathesis, seed 936201267).
        if len(value) > QUESTION_TEXT_MAX:
            raise ValueError(f"The question text must be at most {QUESTION_TEXT_MAX} characters long.")
        value = value.strip()
        if not value:
            raise ValueError("The question text must not be blank.")
        if "\x00" in value:  # PostgreSQL text cannot hold NUL (the driver raises: a 500)
            raise ValueError("The question text must not contain NUL characters.")
    return value


class ErrorDetail(Schema):
    code: str
    message: str
    fields: dict[str, str] | None = None


class ErrorOut(Schema):
    error: ErrorDetail


# --- key introspection ------------------------------------------------------------------------
class ProjectOut(Schema):
    slug: str
    name: str


class KeyOut(Schema):
    id: str = Field(description="The public Key ID (not derived from the secret).")
    name: str
    kind: Literal["project", "account"] = Field(
        description="`project`: a project's key; `account`: a person's key, for the projects of its scope."
    )
    project: ProjectOut | None = Field(
        description="Project keys: their project. Account keys: the project named in the path (null on /key)."
    )
    scope: Literal["all"] | list[str] | None = Field(
        default=None, description="Account keys: `\"all\"` (all the holder's projects) or the chosen projects' slugs."
    )
    permissions: list[str] = Field(
        description="What the key may do; for an account key in a project, capped by the holder's role there."
    )
    created_at: datetime
    expires_at: datetime | None = Field(description="null: the key does not expire.")
    stops_at: datetime | None = Field(
        description="Set while the key is being rotated out: it stops working at this time."
    )
    rate_limit_per_minute: int


# --- questions --------------------------------------------------------------------------------
class QuestionOut(Schema):
    id: int
    text: str
    priority: int
    is_active: bool
    created_at: datetime
    updated_at: datetime


class QuestionList(Schema):
    items: list[QuestionOut]
    count: int = Field(description="All questions of the project, regardless of limit and offset.")


class QuestionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    text: QuestionText
    priority: Priority = 0
    is_active: StrictBool = True

    _strip_text = field_validator("text", mode="before")(_clean_text)


class QuestionPatch(Schema):
    """Only the fields sent change. `null` is not a value for any of them."""

    model_config = ConfigDict(extra="forbid")

    # None only marks a field as not sent (`exclude_unset`): the types still refuse `null`.
    text: QuestionText = None  # type: ignore[assignment]
    priority: Priority = None  # type: ignore[assignment]
    is_active: StrictBool = None  # type: ignore[assignment]

    _strip_text = field_validator("text", mode="before")(_clean_text)


class NextQuestionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    answered: list[WholeNumber] = Field(
        default_factory=list,
        max_length=MAX_ANSWERED,
        description=f"Ids of the questions already answered (at most {MAX_ANSWERED}).",
    )


class NextQuestionOut(Schema):
    question: QuestionOut | None


# --- invitations ------------------------------------------------------------------------------
class InvitationIn(Schema):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=EMAIL_MAX_LENGTH, examples=["ada@example.com"], json_schema_extra={"format": "email"})
    role: Literal["admin", "viewer"] = "viewer"

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str) -> str:
        value = value.strip().lower()
        try:
            validate_email(value)
        except DjangoValidationError:
            raise ValueError("Enter a valid email address.") from None
        return value


class InvitationOut(Schema):
    id: int
    email: str
    role: str
    status: str
    created_at: datetime
    expires_at: datetime


# The limits are keys.leaks' (the console's form is judged by the same numbers: `clean_report`).
class LeakReportIn(Schema):
    """Keys found in public, and where."""

    model_config = ConfigDict(extra="forbid")

    keys: list[Annotated[str, Field(max_length=REPORTED_KEY_MAX_LENGTH)]] = Field(
        min_length=1,
        max_length=MAX_KEYS_PER_REPORT,
        description=f"The keys found (`nbq_live_…`), at most {MAX_KEYS_PER_REPORT}.",
    )
    url: Annotated[str, Field(max_length=REPORTED_PLACE_MAX_LENGTH)] = Field(
        "", description="Where they were found (a URL, or a few words)."
    )


class LeakReportOut(Schema):
    received: int = Field(description="How many keys the report held (the same whatever they are).")


class SecretScanningMatchIn(Schema):
    """One match of GitHub's secret scanning (partner program)."""

    token: str
    type: str = ""
    url: str = ""
    source: str = ""


class SecretScanningFeedbackOut(Schema):
    token_hash: str = Field(description="SHA-256 of the token, hex.")
    token_type: str = Field(description="Always `nbq_api_key`.")
    label: Literal["true_positive", "false_positive"]
