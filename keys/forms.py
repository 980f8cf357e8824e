"""The key dialogs' forms: Generate, Edit, Rotate, and the personal keys' Generate with Scope.
They offer the choices; judging them is the services' job (`services.clean_key_request`)."""

from typing import TYPE_CHECKING

from django import forms

from keys_console.errors import Refused, add_to_form
from projects.models import Project

from .leaks import MAX_KEYS_PER_REPORT, REPORTED_PLACE_MAX_LENGTH, clean_report
from .models.api_key import PERMISSION_HELP, ExpiryRule, Permission
from .sandbox import usable_in_account_keys
from .services import GRACE_LABELS, NAME_MAX_LENGTH, expires_at_for

# The field's limit, said where it is typed (the input's maxlength stops at it; console.js counts).
NAME_HELP = f"What uses this key, e.g. “Production web app”. {NAME_MAX_LENGTH} characters at most."


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


ALLOWED_IPS_HELP = (
    "One address or CIDR range a line, IPv4 or IPv6 (e.g. 203.0.113.7, 10.0.0.0/8, 2001:db8::/32). "
    "A single address is saved as its /32 (IPv6: /128), the range of just that address. At most 50. "
    "Empty: the key works from anywhere. A request from elsewhere is refused (403 ip_not_allowed)."
)


def allowed_ips_field() -> forms.CharField:
    """Offers the text; `services.clean_allowed_ips` judges it."""
    return forms.CharField(
        label="Allowed IP addresses",
        required=False,
        help_text=ALLOWED_IPS_HELP,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocomplete": "off"}),
    )


class KeyFormMixin(_FormBase):
    """What the Generate and Edit dialogs share: each permission with what it allows, and the
    rule errors of the services shown on their fields."""

    def permission_choices(self):
        return [(choice, PERMISSION_HELP[choice.data["value"]]) for choice in self["permissions"]]

    def add_rule_errors(self, exc: Refused) -> None:
        """Show a refusal's sentences on the fields they concern."""
        add_to_form(self, exc)


class ApiKeyCreateForm(KeyFormMixin, forms.Form):
    """Widgets and choices of the Generate dialog. It validates nothing of the key itself: the view
    hands the values to `services.api_key_create`, whose `clean_key_request` is the one validation,
    and shows its errors on these fields (`add_rule_errors`)."""

    name = forms.CharField(
        label="Name",
        required=False,
        help_text=NAME_HELP,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autofocus": True, "maxlength": NAME_MAX_LENGTH, "dir": "auto"}
        ),
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
    allowed_ips = allowed_ips_field()

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
                except Refused:
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
        help_text=NAME_HELP,
        widget=forms.TextInput(attrs={"autocomplete": "off", "maxlength": NAME_MAX_LENGTH, "dir": "auto"}),
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
    allowed_ips = allowed_ips_field()

    def __init__(self, *args, key, default_rate_limit: int, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "name": key.name,
                "permissions": key.sorted_permissions,
                "rate_limit_per_minute": key.rate_limit_per_minute,
                "allowed_ips": "\n".join(key.allowed_ips),
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
        initial=SCOPE_ALL,
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
        self.fields["projects"].queryset = usable_in_account_keys(Project.objects.for_user(user)).order_by("name", "pk")


class AccountKeyEditForm(ApiKeyEditForm):
    """The Edit dialog of a personal key: the project key's plus Scope (as in its Generate dialog)."""

    SCOPE_ALL, SCOPE_CHOSEN = AccountKeyCreateForm.SCOPE_ALL, AccountKeyCreateForm.SCOPE_CHOSEN
    scope = forms.ChoiceField(
        label="Scope",
        choices=[(SCOPE_ALL, "All my projects"), (SCOPE_CHOSEN, "Chosen projects")],
        widget=forms.RadioSelect,
        required=False,  # not sent: the scope stays as it is
    )
    projects = forms.ModelMultipleChoiceField(
        label="Projects",
        queryset=Project.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, key, user, **kwargs):
        super().__init__(*args, key=key, **kwargs)
        self.fields["projects"].queryset = usable_in_account_keys(Project.objects.for_user(user)).order_by("name", "pk")
        self.initial.setdefault("scope", self.SCOPE_ALL if key.all_projects else self.SCOPE_CHOSEN)
        self.initial.setdefault("projects", list(key.scope_projects.values_list("pk", flat=True)))

    def scope_change(self) -> dict:
        """The scope as `services.api_key_update` takes it ({}: leave it)."""
        if not self.cleaned_data.get("scope"):
            return {}
        return {
            "all_projects": self.cleaned_data["scope"] == self.SCOPE_ALL,
            "projects": list(self.cleaned_data["projects"]),
        }


class _NeverEchoedTextarea(forms.Textarea):
    """A textarea that never renders what was typed (keys are not sent back in a page)."""

    def format_value(self, value):
        return None


class LeakReportForm(forms.Form):
    """**Report a leaked key**: keys found in public (one a line), and where."""

    keys = forms.CharField(
        label="Keys you found",
        widget=_NeverEchoedTextarea(attrs={"rows": 4, "spellcheck": "false", "autocomplete": "off"}),
        help_text=f"One key a line (nbq_live_…), at most {MAX_KEYS_PER_REPORT}.",
        error_messages={"required": "Paste at least one key."},
    )
    url = forms.CharField(
        label="Where you found them",
        required=False,
        help_text="A link (repository, paste, post) or a few words. Optional.",
        widget=forms.TextInput(attrs={"maxlength": REPORTED_PLACE_MAX_LENGTH}),  # a hint; clean_report judges
    )

    def clean(self):
        """The limits are `leaks.clean_report`'s (the API's schema reads the same numbers)."""
        cleaned = super().clean()
        if "keys" in cleaned:
            try:
                cleaned["keys"], cleaned["url"] = clean_report(cleaned["keys"], cleaned.get("url"))
            except Refused as exc:
                add_to_form(self, exc)
        return cleaned
