from django.contrib import admin
from django.db.models import Count, Q

from .actors import Actor
from .events import record_event
from .membership import membership_delete_logged
from .models import Invitation, KeyEvent, Membership, Project, Question
from .models.event import EventKind
from .questions import question_create, question_delete, question_set_active, question_update
from .services import project_rename

# Secrets' stored forms: no admin page shows, filters, orders, searches or links to them.
SECRET_FIELDS = frozenset({"key_hash", "token_hash", "password"})


class NoSecretLookups:
    """Refuse `?key_hash__startswith=…`-style URL lookups (a prefix oracle on a secret's hash),
    on the model itself and through relations (`?api_key__key_hash__…`)."""

    def lookup_allowed(self, lookup, value, request=None):
        if SECRET_FIELDS.intersection(lookup.split("__")):
            return False
        return super().lookup_allowed(lookup, value, request)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(NoSecretLookups, admin.ModelAdmin):
    list_display = ["name", "slug", "is_sandbox", "created_by", "created_at", "active_questions", "key_count"]
    list_filter = ["is_sandbox"]
    search_fields = ["name", "slug", "created_by__email"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at", "is_sandbox"]
    inlines = [MembershipInline]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("created_by")
            .annotate(
                _active_questions=Count("questions", filter=Q(questions__is_active=True), distinct=True),
                _keys=Count("api_keys", distinct=True),
            )
        )

    def save_model(self, request, obj, form, change):
        # A rename goes through the same service as the console's (validated, logged).
        new_name = obj.name
        if change and "name" in form.changed_data:
            obj.name = form.initial.get("name", obj.name)
            super().save_model(request, obj, form, change)
            project_rename(project=obj, name=new_name, actor=_admin(request))
            obj.name = new_name
            return
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        """Membership rows changed here are logged like changes made in the console."""
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        actor = _admin(request)
        instances = formset.save(commit=False)
        for membership in formset.deleted_objects:
            membership_delete_logged(membership=membership, kind=EventKind.MEMBER_REMOVED, actor=actor)
        for membership in instances:
            _save_membership(membership, actor)
        formset.save_m2m()

    @admin.display(description="Active questions", ordering="_active_questions")
    def active_questions(self, obj):
        return obj._active_questions

    @admin.display(description="API keys", ordering="_keys")
    def key_count(self, obj):
        return obj._keys


def _admin(request) -> Actor:
    return Actor.from_request(request, prefix="admin: ")


def _save_membership(membership, actor) -> None:
    """Save a membership edited in the admin, logging it as added or as a role change."""
    if membership.pk is None:
        membership.save()
        record_event(
            project=membership.project,
            kind=EventKind.MEMBER_ADDED,
            actor=actor,
            subject=membership.user.email,
            details={"role": membership.role},
        )
        return
    stored = Membership.objects.get(pk=membership.pk)
    if stored.role != membership.role:
        record_event(
            project=membership.project,
            kind=EventKind.MEMBER_ROLE_CHANGED,
            actor=actor,
            subject=membership.user.email,
            details={"old_role": stored.role, "role": membership.role},
        )
    membership.save()


@admin.register(Membership)
class MembershipAdmin(NoSecretLookups, admin.ModelAdmin):
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "project__name", "project__slug"]
    list_select_related = ["user", "project"]
    autocomplete_fields = ["user", "project"]

    def save_model(self, request, obj, form, change):
        _save_membership(obj, _admin(request))

    def delete_model(self, request, obj):
        record_event(
            project=obj.project,
            kind=EventKind.MEMBER_REMOVED,
            actor=_admin(request),
            subject=obj.user.email,
            details={"role": obj.role},
        )
        obj.delete()

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("user", "project"):
            self.delete_model(request, membership)


@admin.register(Invitation)
class InvitationAdmin(NoSecretLookups, admin.ModelAdmin):
    list_display = ["email", "project", "role", "status", "invited_by", "created_at", "expires_at"]
    list_filter = ["role", ("accepted_at", admin.EmptyFieldListFilter)]
    search_fields = ["email", "project__name"]
    list_select_related = ["project", "invited_by"]
    readonly_fields = ["created_at", "accepted_at", "accepted_by", "invited_via_key_id"]
    exclude = ["token_hash"]  # and no get_absolute_url: the admin's "View on site" cannot lead to a link


@admin.register(Question)
class QuestionAdmin(NoSecretLookups, admin.ModelAdmin):
    list_display = ["text", "project", "priority", "is_active", "updated_at"]
    list_filter = ["is_active", "project"]
    search_fields = ["text", "project__name"]
    list_select_related = ["project"]
    actions = ["activate", "deactivate"]

    # Every change goes through projects/questions.py, so the project's event log records it.
    def save_model(self, request, obj, form, change):
        if not change:
            created = question_create(
                project=obj.project,
                actor=_admin(request),
                text=obj.text,
                priority=obj.priority,
                is_active=obj.is_active,
            )
            obj.pk, obj.created_at, obj.updated_at = created.pk, created.created_at, created.updated_at
            return
        stored = Question.objects.select_related("project").get(pk=obj.pk)
        question_update(
            question=stored, actor=_admin(request), **{f: getattr(obj, f) for f in ("text", "priority", "is_active")}
        )

    def delete_model(self, request, obj):
        question_delete(question=obj, actor=_admin(request))

    def delete_queryset(self, request, queryset):
        for question in queryset.select_related("project"):
            question_delete(question=question, actor=_admin(request))

    @admin.action(description="Activate selected questions", permissions=["change"])
    def activate(self, request, queryset):
        for question in queryset.select_related("project"):
            question_set_active(question=question, active=True, actor=_admin(request))

    @admin.action(description="Deactivate selected questions", permissions=["change"])
    def deactivate(self, request, queryset):
        for question in queryset.select_related("project"):
            question_set_active(question=question, active=False, actor=_admin(request))


@admin.register(KeyEvent)
class KeyEventAdmin(NoSecretLookups, admin.ModelAdmin):
    """The project event log, read-only: nothing is added, changed or deleted here."""

    list_display = ["created_at", "kind", "description", "project", "account", "actor_label", "ip"]
    list_filter = ["kind", "project"]
    search_fields = ["key_id", "key_name", "subject", "actor_label", "project__name", "account__email"]
    list_select_related = ["project", "account"]
    date_hierarchy = "created_at"

    # Append-only for everyone, superusers included: the audit trail is not edited or pruned here.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="What happened")
    def description(self, obj):
        details = obj.details_text
        return f"{obj.sentence} — {details}" if details else obj.sentence
