from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "Runtime API"

    def ready(self):
        from django.db.models.signals import post_delete, post_save, pre_save

        from keys.models import ApiKey
        from keys.models.api_key import key_rows_changed
        from projects.models import Membership, Project, Question
        from projects.signals import questions_bulk_added

        from .invalidation import (
            on_key_deleted,
            on_key_rows_changed,
            on_key_saved,
            on_membership_changed,
            on_membership_saving,
            on_project_deleted,
            on_project_saved,
            on_question_changed,
            on_questions_bulk_added,
            on_user_saved,
        )

        post_save.connect(on_key_saved, sender=ApiKey, dispatch_uid="api-keycache-save")
        post_delete.connect(on_key_deleted, sender=ApiKey, dispatch_uid="api-keycache-delete")
        key_rows_changed.connect(on_key_rows_changed, sender=ApiKey, dispatch_uid="api-keycache-update")
        # Account keys: what they reach is checked at each request, from records these keep fresh.
        pre_save.connect(on_membership_saving, sender=Membership, dispatch_uid="api-keycache-membership-move")
        post_save.connect(on_membership_changed, sender=Membership, dispatch_uid="api-keycache-membership-save")
        post_delete.connect(on_membership_changed, sender=Membership, dispatch_uid="api-keycache-membership-delete")
        post_save.connect(on_question_changed, sender=Question, dispatch_uid="api-keycache-question-save")
        post_delete.connect(on_question_changed, sender=Question, dispatch_uid="api-keycache-question-delete")
        questions_bulk_added.connect(on_questions_bulk_added, dispatch_uid="api-keycache-questions-bulk")
        questions_bulk_added.connect(on_questions_bulk_added, dispatch_uid="api-keycache-questions-bulk")
        post_save.connect(on_project_saved, sender=Project, dispatch_uid="api-keycache-project-save")
        post_delete.connect(on_project_deleted, sender=Project, dispatch_uid="api-keycache-project-delete")
        from django.contrib.auth import get_user_model

        post_save.connect(on_user_saved, sender=get_user_model(), dispatch_uid="api-keycache-user-save")
        # Key policies (keys/policy.py): the records carry a project's cap, approvals and the 2FA rule.
        from allauth.mfa.models import Authenticator

        from keys.models import KeyApproval
        from projects.models import KeyPolicy

        from .invalidation import on_authenticator_changed, on_key_approval_changed, on_key_policy_changed

        post_save.connect(on_key_policy_changed, sender=KeyPolicy, dispatch_uid="api-keycache-policy-save")
        post_delete.connect(on_key_policy_changed, sender=KeyPolicy, dispatch_uid="api-keycache-policy-delete")
        post_save.connect(on_key_approval_changed, sender=KeyApproval, dispatch_uid="api-keycache-approval-save")
        post_delete.connect(on_key_approval_changed, sender=KeyApproval, dispatch_uid="api-keycache-approval-delete")
        post_save.connect(on_authenticator_changed, sender=Authenticator, dispatch_uid="api-keycache-2fa-save")
        post_delete.connect(on_authenticator_changed, sender=Authenticator, dispatch_uid="api-keycache-2fa-delete")
