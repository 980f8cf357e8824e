from django.apps import AppConfig


class KeysConfig(AppConfig):
    name = "keys"
    verbose_name = "API keys"

    def ready(self):
        from accounts import tabs as account_tabs
        from keys_console.metrics import register_collector
        from projects import sandbox
        from projects import tabs as project_tabs

        from .metrics import key_metrics

        register_collector(key_metrics)  # keys by status in GET /metrics
        # keys' pages in the lower apps' tab bars (projects/tabs.py, accounts/tabs.py), and the page
        # a new Sandbox opens on: its Generate dialog (projects/sandbox.py).
        project_tabs.register("api_keys", "API Key", "project_keys:api_keys", order=30)
        project_tabs.register("usage", "Usage", "project_usage:usage", order=40)
        project_tabs.register("settings", "Settings", "project_settings:settings", order=60)
        account_tabs.register(
            "Personal keys",
            "account_keys:api_keys",
            order=10,
            description="your own keys, for all or chosen projects",
        )
        account_tabs.register(
            "Security log", "account_keys:security_log", order=20, description="what happened to your API keys"
        )
        sandbox.open_new_sandboxes_on("project_keys:key_new")
