from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "Projects"

    def ready(self):
        from allauth.account.signals import email_confirmed

        from .sandbox import on_email_confirmed

        email_confirmed.connect(on_email_confirmed, dispatch_uid="projects-sandbox-on-email-confirmed")
