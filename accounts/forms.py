"""Sign-up and password reset (an address of SSO_REQUIRED_DOMAINS is refused: accounts/sso.py), and
Confirm access (settings.ACCOUNT_FORMS["reauthenticate"]): the password, and for an account with
two-factor authentication also a code from the authenticator app (or a recovery code)."""

from allauth.account.forms import ReauthenticateForm
from allauth.account.forms import ResetPasswordForm as AllauthResetPasswordForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.mfa.base.forms import ReauthenticateForm as MfaReauthenticateForm
from allauth.mfa.utils import is_mfa_enabled
from django import forms

from . import sso


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
        if sso.required_for(self.user.email):  # its password is no credential here: the provider is
            raise forms.ValidationError(sso.refusal(self.user.email))
        cleaned = super().clean()
        if "code" in self.fields and "code" in cleaned and not self.errors:
            # allauth's own 2FA form checks the code (TOTP window, recovery codes, its rate limit).
            self._mfa = MfaReauthenticateForm(data={"code": cleaned["code"]}, user=self.user)
            if not self._mfa.is_valid():
                for error in self._mfa.errors.get("code", []):
                    self.add_error("code", error)
        return cleaned


class SignupForm(AllauthSignupForm):
    """Sign-up with a password; an address of SSO_REQUIRED_DOMAINS is pointed to the button."""

    def clean_email(self):
        email = super().clean_email()
        if sso.required_for(email):
            raise forms.ValidationError(sso.refusal(email))
        return email


class ResetPasswordForm(AllauthResetPasswordForm):
    """Password reset; an address of SSO_REQUIRED_DOMAINS has no password here to reset (the same
    answer whether or not it has an account: it depends on the domain only)."""

    def clean_email(self):
        email = self.cleaned_data["email"]
        if sso.required_for(email):
            raise forms.ValidationError(sso.refusal(email))
        return super().clean_email()
