from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.sensitive import (
    CHANGES,
    CONFIRM_ON_SUBMIT,
    READS,
    Rule,
    changes,
    guard_admin,
    guard_urlpatterns,
    outside_the_console,
    reads,
)
from api.api import api
from keys.settings_urls import settings_patterns
from keys.urls import account_patterns, project_patterns, usage_patterns
from keys.views.report_leak import report_leak

from .health import healthz

admin.site.site_header = "NBQ Keys Console — administration"
admin.site.site_title = "NBQ Keys Console admin"
# The admin logs in through the console's login (allauth: rate limits, 2FA), never its own form.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]  # the public hook

# The Django admin's own pages, by their name in the admin (each model's pages are classified from
# the admin's URL names: its list, history and short URL read; adding, changing, deleting and bulk
# actions ask on submit, but for the actions its ModelAdmin names in `actions_without_confirm_access`).
ADMIN_SITE_ROUTES: dict[str, Rule] = {
    "index": READS,
    "app_list": READS,
    "login": CHANGES,
    "logout": CHANGES,
    "password_change": CONFIRM_ON_SUBMIT,
    "password_change_done": READS,
    "autocomplete": READS,
    "jsi18n": READS,
    "view_on_site": READS,
    "auth_user_password_change": CONFIRM_ON_SUBMIT,  # UserAdmin's "change password" form
    "route:(?P<url>.*)$": READS,  # the admin's catch-all (a redirect or a 404)
}

# Each route declares whether it asks to Confirm access, here and in each app's urls.py
# (accounts/sensitive.py has the rules).
urlpatterns = [
    # The runtime API first: Django tries patterns in order, and every API request pays for the
    # ones tried before it (each non-matching include raises and catches a Resolver404). Every API
    # request is authenticated by its key, never by a session: no Confirm access there.
    outside_the_console(path("api/v1/", api.urls)),
    path("healthz", reads(healthz), name="healthz"),
    path("", reads(RedirectView.as_view(pattern_name="projects:list", permanent=False))),
    path("accounts/", include("accounts.urls")),
    path("account/", include(account_patterns)),
    path("projects/<slug:slug>/keys/", include(project_patterns)),
    path("projects/<slug:slug>/usage/", include(usage_patterns)),
    path("projects/<slug:slug>/settings/", include(settings_patterns)),  # Settings: Key policy (#29)
    path("projects/<slug:slug>/settings/webhooks/", include("webhooks.urls")),
    path("projects/", include("projects.urls")),
    # anyone may report a leaked key: it is revoked (never held back)
    path("report-leak/", changes(report_leak), name="report_leak"),
    path("admin/", guard_admin(admin.site, ADMIN_SITE_ROUTES)),
]

# A route whose rule was not declared asks to Confirm access on submit (closed, not open), with a
# warning; tests/accounts/test_route_sweep.py names it until it is classified.
guard_urlpatterns(urlpatterns)
