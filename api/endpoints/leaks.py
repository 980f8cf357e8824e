"""POST /leaked-keys: anyone who found keys reports them (no authentication).

Holding a key already grants its power, so revoking a reported key is safe whoever reports it
(as GitHub's credential-revocation API does). The answer is 202 `{"received": N}` whatever the
keys are: it never tells which were real. Reports are limited per client address
(settings.LEAK_REPORTS_PER_MINUTE; over it 429 `rate_limited`), one budget shared with the
console's **Report a leaked key** form (`keys.leaks.throttle_public_report`).
"""

from ninja import Router
from ninja.responses import Status

from keys.leaks import PUBLIC_REPORTER, report_leaked_keys, throttle_public_report
from keys_console.client_ip import client_ip
from projects.actors import Actor

from ..schemas import ErrorOut, LeakReportIn, LeakReportOut

router = Router(tags=["Leaked keys"])


@router.post(
    "/leaked-keys",
    auth=None,
    response={202: LeakReportOut, 400: ErrorOut, 429: ErrorOut},
    operation_id="reportLeakedKeys",
    summary="Report API keys found in public (no authentication)",
)
def report_leaked(request, payload: LeakReportIn):
    """Every live key among `keys` is revoked at once; the event log of its project (or its
    holder's Security log) says where it was found, and its owners and admins (or its holder) get a
    mail. The answer is the same whatever the keys are. At most 100 keys per report; reports are
    limited per client address (429 `rate_limited`)."""
    throttle_public_report(client_ip(request))  # ReportThrottled: 429 through the API's one handler
    actor = Actor(
        user=None, label="leak report", ip=client_ip(request), user_agent=request.META.get("HTTP_USER_AGENT", "")[:256]
    )
    report_leaked_keys(payload.keys, found_at=payload.url, reporter=PUBLIC_REPORTER, actor=actor)
    return Status(202, {"received": len(payload.keys)})
