"""What can happen in a project, as the event log names it (the sentences: event_text.py)."""

from django.db import models


class EventKind(models.TextChoices):
    """What happened. New kinds go here (and their sentence in event_text.py)."""

    # keys
    CREATED = "created", "Key created"
    ROTATED = "rotated", "Key rotated"
    REVOKED = "revoked", "Key revoked"
    DELETED = "deleted", "Key deleted"
    UPDATED = "updated", "Key changed"
    REVOKED_KEY_USED = "revoked_key_used", "Revoked key presented"
    EXPIRED_KEY_USED = "expired_key_used", "Expired key presented"
    RATE_LIMITED = "rate_limited", "Rate limit reached"
    PROJECT_LOCKED = "project_locked", "Call refused: project locked"
    LEAKED = "leaked", "Key found in public and revoked"
    IP_REFUSED = "ip_refused", "Call refused: address not allowed"
    REMINDER_SENT = "reminder_sent", "Reminder sent"
    DISABLED = "disabled", "Key disabled"
    ENABLED = "enabled", "Key enabled"
    DISABLED_KEY_USED = "disabled_key_used", "Disabled key presented"
    # members
    MEMBER_ADDED = "member_added", "Member added"
    MEMBER_ROLE_CHANGED = "member_role_changed", "Member role changed"
    MEMBER_REMOVED = "member_removed", "Member removed"
    MEMBER_LEFT = "member_left", "Member left"
    # invitations
    INVITATION_SENT = "invitation_sent", "Invitation sent"
    INVITATION_ACCEPTED = "invitation_accepted", "Invitation accepted"
    INVITATION_CANCELLED = "invitation_cancelled", "Invitation cancelled"
    # questions
    QUESTION_ADDED = "question_added", "Question added"
    QUESTIONS_BULK_ADDED = "questions_bulk_added", "Questions added in bulk"
    QUESTION_EDITED = "question_edited", "Question edited"
    QUESTION_ACTIVATED = "question_activated", "Question activated"
    QUESTION_DEACTIVATED = "question_deactivated", "Question deactivated"
    QUESTION_DELETED = "question_deleted", "Question deleted"
    SAMPLE_QUESTIONS_DELETED = "sample_questions_deleted", "Sample questions deleted"
    # the project itself
    PROJECT_CREATED = "project_created", "Project created"
    PROJECT_RENAMED = "project_renamed", "Project renamed"
    # the project's key policy (keys/policy.py); a webhook names POLICY_CHANGED `policy.changed`
    POLICY_CHANGED = "policy_changed", "Key policy changed"
    APPROVAL_REQUESTED = "approval_requested", "Personal key asked for approval"
    KEY_APPROVED = "key_approved", "Personal key approved"
    KEY_DENIED = "key_denied", "Personal key denied"
    # the project's webhook endpoints (webhooks/services.py)
    WEBHOOK_ADDED = "webhook_added", "Webhook endpoint added"
    WEBHOOK_SECRET_ROTATED = "webhook_secret_rotated", "Webhook secret rotated"
    WEBHOOK_DISABLED = "webhook_disabled", "Webhook endpoint disabled"
    WEBHOOK_ENABLED = "webhook_enabled", "Webhook endpoint enabled"
    WEBHOOK_DELETED = "webhook_deleted", "Webhook endpoint deleted"
