from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from api.api import api

from .health import healthz

admin.site.site_header = "NBQ Keys Console — administration"
admin.site.site_title = "NBQ Keys Console admin"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", RedirectView.as_view(pattern_name="projects:list", permanent=False)),
    path("accounts/", include("accounts.urls")),
    path("projects/", include("projects.urls")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]
