"""The Settings tab's Key policy form. It offers the choices; `keys.policy.clean_policy` judges them."""

from django import forms

from projects.models.policy import LIFETIME_CHOICES

from .models.api_key import PERMISSION_HELP, Permission


class KeyPolicyForm(forms.Form):
    max_lifetime_days = forms.ChoiceField(
        label="Maximum key lifetime",
        required=False,
        choices=[("" if days is None else str(days), label) for days, label in LIFETIME_CHOICES],
        help_text="Keys made, rotated or given a new scope here expire within it (no “No expiration”).",
    )
    require_allowed_ips = forms.BooleanField(
        label="Require allowed IP addresses",
        required=False,
        help_text="Every key of this project must name at least one address or range it may be used from.",
    )
    allowed_permissions = forms.MultipleChoiceField(
        label="Allowed permissions",
        required=False,
        choices=Permission.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="What any key may do in this project, project keys and personal keys alike, checked at each request.",
    )
    approval_required = forms.BooleanField(
        label="Personal keys need approval",
        required=False,
        help_text="A member's personal key acts here only once an owner or admin approves it (API Key tab).",
    )
    two_factor_required = forms.BooleanField(
        label="Require two-factor authentication",
        required=False,
        help_text="Members without it are sent to set it up, and their personal keys are refused here until they do.",
    )

    def __init__(self, *args, policy, read_only: bool = False, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "max_lifetime_days": "" if policy.max_lifetime_days is None else str(policy.max_lifetime_days),
                "require_allowed_ips": policy.require_allowed_ips,
                "allowed_permissions": list(policy.allowed_permissions),
                "approval_required": policy.approval_required,
                "two_factor_required": policy.two_factor_required,
            },
        )
        super().__init__(*args, **kwargs)
        if read_only:
            for field in self.fields.values():
                field.disabled = True

    def permission_choices(self):
        return [(choice, PERMISSION_HELP[choice.data["value"]]) for choice in self["allowed_permissions"]]


def offer_within_policy(form, policies, *, project_key: bool) -> None:
    """Make a Generate or Edit dialog offer only what the key policies allow (`keys.policy` still
    judges what comes back): expirations within the strictest maximum lifetime (no "No expiration"),
    and for a project key only its project's allowed permissions. Says why in `form.policy_notes`."""
    from datetime import timedelta

    from django.utils import timezone

    from . import policy as rules
    from .models.api_key import ExpiryRule

    notes = []
    strictest = rules.strictest_lifetime(policies)
    if strictest is not None and "expiration" in form.fields:
        allowed = rules.expiry_rules_within(strictest.max_lifetime_days)
        field = form.fields["expiration"]
        field.choices = [(value, label) for value, label in field.choices if value in allowed]
        numeric = [value for value in allowed if value.isdigit()]
        if form.initial.get("expiration", field.initial) not in allowed:
            form.initial["expiration"] = numeric[-1] if numeric else ExpiryRule.DATE
        last_day = (timezone.now() + timedelta(days=(strictest.max_lifetime_days or 1) - 1)).date()
        form.fields["expires_on"].widget.attrs["max"] = last_day.isoformat()
        notes.append(f"The key policy of {strictest.project.name} allows keys of at most {strictest.lifetime_label}.")
    if project_key and "permissions" in form.fields:
        for policy in policies:
            cap = policy.permission_cap
            if cap is not None:
                field = form.fields["permissions"]
                field.choices = [(value, label) for value, label in field.choices if value in cap]
                notes.append(f"The key policy of {policy.project.name} allows only: {', '.join(cap)}.")
            if policy.require_allowed_ips and "allowed_ips" in form.fields:
                notes.append(f"The key policy of {policy.project.name} requires allowed IP addresses.")
    form.policy_notes = notes
