from allauth.mfa.models import Authenticator
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET


@login_required
@require_GET
def account(request):
    """Account: password, email addresses and two-factor authentication, in one place."""
    types = set(Authenticator.objects.filter(user=request.user).values_list("type", flat=True))
    return render(request, "accounts/account.html", {"has_totp": Authenticator.Type.TOTP in types})
