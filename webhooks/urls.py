from django.urls import path

from . import views

app_name = "webhooks"

# Included under /projects/<slug>/settings/webhooks/ (keys_console/urls.py).
urlpatterns = [
    path("", views.endpoints, name="endpoints"),
    path("new/", views.endpoint_new, name="endpoint_new"),
    path("<int:pk>/", views.endpoint_detail, name="endpoint_detail"),
    path("<int:pk>/rotate/", views.endpoint_rotate, name="endpoint_rotate"),
    path("<int:pk>/disable/", views.endpoint_disable, name="endpoint_disable"),
    path("<int:pk>/enable/", views.endpoint_enable, name="endpoint_enable"),
    path("<int:pk>/delete/", views.endpoint_delete, name="endpoint_delete"),
    path("<int:pk>/test/", views.endpoint_test, name="endpoint_test"),
    path("<int:pk>/deliveries/<str:delivery_id>/resend/", views.delivery_resend, name="delivery_resend"),
]
