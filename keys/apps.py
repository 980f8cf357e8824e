from django.apps import AppConfig


class KeysConfig(AppConfig):
    name = "keys"
    verbose_name = "API keys"

    def ready(self):
        from keys_console.metrics import register_collector

        from .metrics import key_metrics

        register_collector(key_metrics)  # keys by status in GET /metrics
