from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "Runtime API"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from projects.models import ApiKey
        from projects.models.api_key import key_rows_changed

        from .invalidation import on_key_deleted, on_key_rows_changed, on_key_saved

        post_save.connect(on_key_saved, sender=ApiKey, dispatch_uid="api-keycache-save")
        post_delete.connect(on_key_deleted, sender=ApiKey, dispatch_uid="api-keycache-delete")
        key_rows_changed.connect(on_key_rows_changed, sender=ApiKey, dispatch_uid="api-keycache-update")
