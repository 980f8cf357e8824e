from django import forms
from django.core.validators import ProhibitNullCharactersValidator

from .invitations import invitation_problem
from .models import Invitation, Project, Question, Role
from .models.question import PRIORITY_MAX, PRIORITY_MIN, QUESTION_TEXT_MAX


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
        self.add_error("questions", [rejection.message, *(str(e) for e in rejection.line_errors)])


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
