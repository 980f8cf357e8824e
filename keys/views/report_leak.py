"""**Report a leaked key** (the console's footer): anyone, signed in or not, reports keys found in
public. The same handling as the API's `POST /leaked-keys` (`keys.leaks`), the same budget per
address, and the same answer whatever the keys are. Plain form post: works without JavaScript."""

from django.shortcuts import render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from keys_console.client_ip import client_ip
from keys_console.errors import add_to_form
from projects.actors import Actor

from ..forms import LeakReportForm
from ..leaks import PUBLIC_REPORTER, ReportThrottled, report_leaked_keys, throttle_public_report


@sensitive_post_parameters("keys")
@require_http_methods(["GET", "POST"])
def report_leak(request):
    form = LeakReportForm(request.POST or None)
    received = None
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            throttle_public_report(client_ip(request))
        except ReportThrottled as exc:
            add_to_form(form, exc)  # the API's sentence too
            status = 429
        else:
            actor = Actor.from_request(request, prefix="leak report by ")
            report_leaked_keys(
                form.cleaned_data["keys"], found_at=form.cleaned_data["url"], reporter=PUBLIC_REPORTER, actor=actor
            )
            received = len(form.cleaned_data["keys"])
            form = LeakReportForm()
    elif request.method == "POST":
        status = 400
    return render(request, "keys/report_leak.html", {"form": form, "received": received}, status=status)
