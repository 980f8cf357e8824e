"""Confirm access (settings.ACCOUNT_FORMS["reauthenticate"]): the password, and for an account with
two-factor authentication also a code from the authenticator app (or a recovery code)."""

from allauth.account.forms import ReauthenticateForm
from allauth.mfa.base.forms import ReauthenticateForm as MfaReauthenticateForm
from allauth.mfa.utils import is_mfa_enabled
from django import forms


class ConfirmAccessForm(ReauthenticateForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password"].help_text = ""
        self._mfa = None
        if is_mfa_enabled(self.user):
            self.fields["code"] = forms.CharField(
                label="Authentication code",
                help_text="From your authenticator app, or one of your recovery codes.",
                widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
            )

    def clean(self):
        cleaned = super().clean()
        if "code" in self.fields and "code" in cleaned and not self.errors:
            # allauth's own 2FA form checks the code (TOTP window, recovery codes, its rate limit).
            self._mfa = MfaReauthenticateForm(data={"code": cleaned["code"]}, user=self.user)
            if not self._mfa.is_valid():
                for error in self._mfa.errors.get("code", []):
                    self.add_error("code", error)
        return cleaned
