"""Account → Security log: what happened to the signed-in person's account keys."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from projects.models import KeyEvent


@login_required
@require_GET
def security_log(request):
    events = KeyEvent.objects.filter(account=request.user).select_related("project")
    key_filter = request.GET.get("key", "").strip()[:32]
    if key_filter:
        events = events.filter(key_id=key_filter)
    return render(
        request,
        "keys/account_security_log.html",
        {
            "title": "Security log",
            "tab": "security_log",
            "events": events[:200],
            "key_filter": key_filter,
        },
    )
