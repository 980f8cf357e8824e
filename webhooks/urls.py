from django.urls import path

from accounts.sensitive import confirm

from . import views

app_name = "webhooks"

# Included under /projects/<slug>/settings/webhooks/ (keys_console/urls.py). The endpoints, their
# secrets and deliveries: every page asks to Confirm access, reading too (accounts/sensitive.py).
urlpatterns = [
    path("", confirm(views.endpoints), name="endpoints"),
    path("new/", confirm(views.endpoint_new), name="endpoint_new"),
    path("<int:pk>/", confirm(views.endpoint_detail), name="endpoint_detail"),
    path("<int:pk>/rotate/", confirm(views.endpoint_rotate), name="endpoint_rotate"),
    path("<int:pk>/disable/", confirm(views.endpoint_disable), name="endpoint_disable"),
    path("<int:pk>/enable/", confirm(views.endpoint_enable), name="endpoint_enable"),
    path("<int:pk>/delete/", confirm(views.endpoint_delete), name="endpoint_delete"),
    path("<int:pk>/test/", confirm(views.endpoint_test), name="endpoint_test"),
    path("<int:pk>/deliveries/<str:delivery_id>/resend/", confirm(views.delivery_resend), name="delivery_resend"),
]
