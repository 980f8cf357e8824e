from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        from django.db.models.signals import post_save

        from keys import settings_sections
        from keys.reminders import reminders_sent
        from projects.models import KeyEvent

        from .expiring import on_reminders_sent
        from .outbox import on_event_recorded

        # Every line of the event log, whichever door wrote it (console, CLI, admin, API, leak
        # report), is the one source of webhooks: record_event writes the line, this maps it.
        post_save.connect(on_event_recorded, sender=KeyEvent, dispatch_uid="webhooks-event-recorded")
        reminders_sent.connect(on_reminders_sent, dispatch_uid="webhooks-key-expiring")
        # The Settings tab's Webhooks section, below the Key policy (keys renders the tab).
        settings_sections.register("webhooks/_settings_section.html", order=10)
