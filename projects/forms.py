from typing import TYPE_CHECKING

from django import forms
from django.core.validators import ProhibitNullCharactersValidator

from .errors import KeyRuleError
from .invitations import invitation_problem
from .models import Invitation, Project, Question, Role
from .models.api_key import PERMISSION_HELP, ExpiryRule, Permission
from .models.question import PRIORITY_MAX, PRIORITY_MIN, QUESTION_TEXT_MAX
from .services import GRACE_LABELS, NAME_MAX_LENGTH, expires_at_for


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name"]
        labels = {"name": "Project name"}

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the project a name.")
        return name


class QuestionForm(forms.ModelForm):
    text = forms.CharField(
        label="Question",
        max_length=QUESTION_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={
            "required": "Write the question.",
            "max_length": f"Keep the question to {QUESTION_TEXT_MAX} characters (it has %(show_value)d).",
        },
    )
    priority = forms.IntegerField(
        label="Priority",
        initial=0,
        min_value=PRIORITY_MIN,
        max_value=PRIORITY_MAX,
        help_text="Higher comes first.",
        error_messages={"invalid": "Priority must be a whole number, e.g. 10 or -5."},
    )

    class Meta:
        model = Question
        fields = ["text", "priority", "is_active"]
        labels = {"is_active": "Active"}


class QuestionBulkForm(forms.Form):
    """Many questions at once, one per line. The rules (and the per-line errors) are in
    projects/questions.py; this form only carries the text and shows what was refused."""

    questions = forms.CharField(
        label="Questions (one per line)",
        strip=False,  # keep leading blank lines: errors name line numbers as pasted
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "true"}),
        help_text="Each non-blank line becomes an active question. Nothing is added if a line needs fixing.",
        error_messages={"required": "Write at least one question, one per line."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A NUL character is refused per line (with its line number) by questions_bulk_create.
        field = self.fields["questions"]
        field.validators = [v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)]

    def add_rejection(self, rejection) -> None:
        self.add_error("questions", [rejection.message, *(str(e) for e in rejection.errors)])


class InvitationForm(forms.ModelForm):
    role = forms.ChoiceField(choices=[(Role.ADMIN, "Admin"), (Role.VIEWER, "Viewer")], initial=Role.VIEWER)

    class Meta:
        model = Invitation
        fields = ["email", "role"]
        labels = {"email": "Email"}

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        problem = invitation_problem(self.project, email)
        if problem:
            raise forms.ValidationError(problem)
        return email


class _Choices(forms.MultipleChoiceField):
    """Offers the choices; judging them is `services.clean_key_request`'s job."""

    def validate(self, value):
        pass


class _Choice(forms.ChoiceField):
    def validate(self, value):
        pass


# For the type checker the mixin is a form (it is mixed into forms.Form); at run time a plain class.
if TYPE_CHECKING:
    _FormBase = forms.BaseForm
else:
    _FormBase = object


class KeyFormMixin(_FormBase):
    """What the Generate and Edit dialogs share: each permission with what it allows, and the
    rule errors of the services shown on their fields."""

    def permission_choices(self):
        return [(choice, PERMISSION_HELP[choice.data["value"]]) for choice in self["permissions"]]

    def add_rule_errors(self, exc) -> None:
        """Show a KeyRuleError's messages on the fields they concern."""
        for field, message in exc.errors.items():
            self.add_error(field if field in self.fields else None, message)


class ApiKeyCreateForm(KeyFormMixin, forms.Form):
    """Widgets and choices of the Generate dialog. It validates nothing of the key itself: the view
    hands the values to `services.api_key_create`, whose `clean_key_request` is the one validation,
    and shows its errors on these fields (`add_rule_errors`)."""

    name = forms.CharField(
        label="Name",
        required=False,
        help_text="What uses this key, e.g. “Production web app”.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True, "maxlength": NAME_MAX_LENGTH}),
    )
    permissions = _Choices(
        label="Permissions",
        required=False,
        choices=Permission.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[Permission.READ],
    )
    expiration = _Choice(label="Expiration", required=False, choices=ExpiryRule.choices, initial=ExpiryRule.DAYS_90)
    expires_on = forms.DateField(
        label="Expiration date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )

    def expiry_previews(self) -> list[tuple[str, str]]:
        """(rule, sentence) for each expiration choice: the date a key generated now would get."""
        previews = []
        for rule, label in ExpiryRule.choices:
            if rule == ExpiryRule.NEVER:
                text = "The key never expires. Prefer an expiration and rotate instead."
            elif rule == ExpiryRule.DATE:
                text = "The key works through the date you choose (UTC)."
            else:
                try:
                    text = (
                        f"The key expires on {expires_at_for(rule):%a %-d %b %Y, %H:%M} UTC ({label.lower()} from now)."
                    )
                except KeyRuleError:
                    continue
            previews.append((rule, text))
        return previews

    def expiry_preview(self) -> str:
        chosen = self["expiration"].value() or ExpiryRule.DAYS_90
        return dict(self.expiry_previews()).get(chosen, "")


class ApiKeyEditForm(KeyFormMixin, forms.Form):
    """Rename a key, change its permissions and its rate limit. Like the Generate dialog it only
    parses: `services.api_key_update` validates, and its errors land on these fields."""

    name = forms.CharField(
        label="Name",
        required=False,
        help_text="What uses this key, e.g. “Production web app”.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "maxlength": NAME_MAX_LENGTH}),
    )
    permissions = _Choices(
        label="Permissions",
        required=False,
        choices=Permission.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    rate_limit_per_minute = forms.IntegerField(
        label="Rate limit (requests a minute)",
        required=False,
        error_messages={"invalid": "Enter a whole number of requests a minute, e.g. 600."},
    )

    def __init__(self, *args, key, default_rate_limit: int, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "name": key.name,
                "permissions": key.sorted_permissions,
                "rate_limit_per_minute": key.rate_limit_per_minute,
            },
        )
        super().__init__(*args, **kwargs)
        self.fields[
            "rate_limit_per_minute"
        ].help_text = f"Leave empty for the default of {default_rate_limit} requests a minute."


class RotateForm(forms.Form):
    grace = forms.ChoiceField(
        label="The old key stops working",
        choices=list(GRACE_LABELS.items()),
        initial="",
        required=False,
        widget=forms.RadioSelect,
    )


class AccountKeyCreateForm(ApiKeyCreateForm):
    """The Generate a key dialog of Account → API keys: the project one's plus Scope."""

    SCOPE_ALL, SCOPE_CHOSEN = "all", "chosen"
    scope = forms.ChoiceField(
        label="Scope",
        choices=[(SCOPE_ALL, "All my projects"), (SCOPE_CHOSEN, "Chosen projects")],
        initial=SCOPE_CHOSEN,
        widget=forms.RadioSelect,
    )
    projects = forms.ModelMultipleChoiceField(
        label="Projects",
        queryset=Project.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["projects"].queryset = Project.objects.for_user(user).order_by("name", "pk")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("scope") == self.SCOPE_CHOSEN and not cleaned.get("projects") and "projects" not in self.errors:
            self.add_error("projects", "Choose at least one project, or “All my projects”.")
        return cleaned
