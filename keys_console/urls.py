from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.sensitive import guard_urlpatterns
from api.api import api
from keys.settings_urls import settings_patterns
from keys.urls import account_patterns, project_patterns, usage_patterns
from keys.views.report_leak import report_leak

from .health import healthz

admin.site.site_header = "NBQ Keys Console — administration"
admin.site.site_title = "NBQ Keys Console admin"
# The admin logs in through the console's login (allauth: rate limits, 2FA), never its own form.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]  # the public hook

urlpatterns = [
    # The runtime API first: Django tries patterns in order, and every API request pays for the
    # ones tried before it (each non-matching include raises and catches a Resolver404).
    path("api/v1/", api.urls),
    path("healthz", healthz, name="healthz"),
    path("", RedirectView.as_view(pattern_name="projects:list", permanent=False)),
    path("accounts/", include("accounts.urls")),
    path("account/", include(account_patterns)),
    path("projects/<slug:slug>/keys/", include(project_patterns)),
    path("projects/<slug:slug>/usage/", include(usage_patterns)),
    path("projects/<slug:slug>/settings/", include(settings_patterns)),  # Settings: Key policy (#29)
    path("projects/<slug:slug>/settings/webhooks/", include("webhooks.urls")),
    path("projects/", include("projects.urls")),
    path("report-leak/", report_leak, name="report_leak"),
    path("admin/", admin.site.urls),
]

# Confirm access, for every route at once: each is classified in accounts/sensitive.py.
guard_urlpatterns(urlpatterns)
