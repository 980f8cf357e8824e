from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.urls import reverse

from .actors import Actor
from .errors import KeyRuleError
from .events import record_event
from .invitations import InvitationRefused, invitation_cancel, invitation_create
from .membership import membership_add, membership_change_role, membership_delete_logged, membership_move
from .models import ApiKey, Invitation, KeyEvent, KeyUsageDay, Membership, Project, Question, Role
from .models.api_key import Kind, Status
from .models.event import EventKind
from .questions import question_create, question_delete, question_set_active, question_update
from .services import api_key_delete, api_key_revoke

# Secrets' stored forms: no admin page shows, filters, orders, searches or links to them.
SECRET_FIELDS = frozenset({"key_hash", "token_hash", "password"})


class NoSecretLookups:
    """Refuse `?key_hash__startswith=…`-style URL lookups (a prefix oracle on a secret's hash),
    on the model itself and through relations (`?api_key__key_hash__…`)."""

    def lookup_allowed(self, lookup, value, request=None):
        if SECRET_FIELDS.intersection(lookup.split("__")):
            return False
        return super().lookup_allowed(lookup, value, request)


class MembershipAdminForm(forms.ModelForm):
    """Shows the membership rules' refusals on the form (the services in membership.py hold them):
    a project has one owner, and the owner's role is not changed here."""

    class Meta:
        model = Membership
        fields = ["project", "user", "role"]

    def clean(self):
        cleaned = super().clean()
        role = cleaned.get("role")
        if role is None:
            return cleaned
        if self.instance.pk is None:
            project = cleaned.get("project") or getattr(self.instance, "project", None)
            if (
                role == Role.OWNER
                and project is not None
                and project.pk is not None
                and project.memberships.filter(role=Role.OWNER).exists()
            ):
                self.add_error("role", "A project has one owner; add this person as Admin or Viewer.")
            return cleaned
        stored = Membership.objects.get(pk=self.instance.pk)
        if role != stored.role:
            problem = stored.role_change_problem(role)
            if problem:
                self.add_error("role", problem)
        return cleaned


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipAdminForm
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(NoSecretLookups, admin.ModelAdmin):
    list_display = ["name", "slug", "created_by", "created_at", "active_questions", "key_count"]
    search_fields = ["name", "slug", "created_by__email"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at"]
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
        # A rename or a new slug (the project's address) is a project change like any other: it
        # goes to the project's event log, with the change, in the same transaction.
        stored = type(obj).objects.filter(pk=obj.pk).values("name", "slug").first() if change else None
        super().save_model(request, obj, form, change)
        if stored is None:
            return
        details = {}
        if stored["name"] != obj.name:
            details["old_name"] = stored["name"]
        if stored["slug"] != obj.slug:
            details |= {"old_slug": stored["slug"], "slug": obj.slug}
        if details:
            record_event(
                project=obj, kind=EventKind.PROJECT_RENAMED, actor=_admin(request), subject=obj.name, details=details
            )

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
    """Save a membership edited in the admin through the membership services: added, moved to
    another person, role changed (each logged; the API sees each at once). Its project is not
    changed here (read-only on the change page)."""
    if membership.pk is None:
        created = membership_add(project=membership.project, user=membership.user, role=membership.role, actor=actor)
        membership.pk, membership.created_at = created.pk, created.created_at
        return
    stored = Membership.objects.select_related("user", "project").get(pk=membership.pk)
    if stored.user_id != membership.user_id:
        stored = membership_move(membership=stored, user=membership.user, actor=actor)
    if stored.role != membership.role:
        membership_change_role(membership=stored, role=membership.role, actor=actor)


@admin.register(Membership)
class MembershipAdmin(NoSecretLookups, admin.ModelAdmin):
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "project__name", "project__slug"]
    list_select_related = ["user", "project"]
    autocomplete_fields = ["user", "project"]
    form = MembershipAdminForm

    def get_readonly_fields(self, request, obj=None):
        return ["project"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        _save_membership(obj, _admin(request))

    def delete_model(self, request, obj):
        membership_delete_logged(membership=obj, kind=EventKind.MEMBER_REMOVED, actor=_admin(request))

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("user", "project"):
            self.delete_model(request, membership)


class InvitationAddForm(forms.ModelForm):
    """An invitation made in the admin is made by `invitation_create`, as in the console: roles a
    project admin may grant (no owner), the event, the mail and its limits. The call happens in
    `clean`, so a refusal (already pending, too many mails) is shown on the form."""

    role = forms.ChoiceField(choices=[(r.value, r.label) for r in (Role.ADMIN, Role.VIEWER)], initial=Role.VIEWER)

    class Meta:
        model = Invitation
        fields = ["project", "email", "role"]

    request = None  # set by InvitationAdmin.get_form

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        request = self.request
        try:
            self.instance = invitation_create(
                project=cleaned["project"],
                email=cleaned["email"],
                role=cleaned["role"],
                invited_by=request.user,
                actor=_admin(request),
                accept_url=lambda token: request.build_absolute_uri(reverse("projects:invitation_open", args=[token])),
            )
        except InvitationRefused as refused:
            self.add_error(refused.field if refused.field in self.fields else None, refused.message)
        return cleaned

    def _post_clean(self):
        pass  # the instance was made by invitation_create; nothing to copy onto it

    def save(self, commit=True):
        return self.instance

    def save_m2m(self):
        pass


@admin.register(Invitation)
class InvitationAdmin(NoSecretLookups, admin.ModelAdmin):
    """Invitations are made by `invitation_create` (InvitationAddForm) and cancelled by
    `invitation_cancel` (logged); a made invitation is not edited here (its role is what was
    mailed and logged)."""

    list_display = ["email", "project", "role", "status", "invited_by", "created_at", "expires_at"]
    list_filter = ["role", ("accepted_at", admin.EmptyFieldListFilter)]
    search_fields = ["email", "project__name"]
    list_select_related = ["project", "invited_by"]
    fields = ["project", "email", "role", "invited_by", "invited_via_key", "created_at", "expires_at", "accepted_at"]
    exclude = ["token_hash"]  # and no get_absolute_url: the admin's "View on site" cannot lead to a link

    def get_fields(self, request, obj=None):
        return ["project", "email", "role"] if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else [*self.fields, "accepted_by"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)
        return type("InvitationAddForm", (InvitationAddForm,), {"request": request})

    def save_model(self, request, obj, form, change):
        pass  # made by invitation_create in the add form; a made invitation has no editable field

    def delete_model(self, request, obj):
        invitation_cancel(invitation=obj, actor=_admin(request))

    def delete_queryset(self, request, queryset):
        for invitation in queryset.select_related("project"):
            invitation_cancel(invitation=invitation, actor=_admin(request))


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


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return Status.choices

    def queryset(self, request, queryset):
        if self.value() in Status.values:
            return queryset.with_status(self.value())
        return queryset


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return Kind.choices

    def queryset(self, request, queryset):
        if self.value() == Kind.ACCOUNT:
            return queryset.filter(owner__isnull=False)
        if self.value() == Kind.PROJECT:
            return queryset.filter(project__isnull=False)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(NoSecretLookups, admin.ModelAdmin):
    """Oversight of keys. The hash is never shown; keys are generated in the console or the CLI,
    where the plaintext can be revealed once, so there is no "add" here."""

    list_display = [
        "name",
        "key_id",
        "masked",
        "kind_label",
        "project",
        "owner",
        "scope",
        "permission_list",
        "status_badge",
        "created_at",
        "last_used_at",
        "expires_at",
        "rate_limit_per_minute",
    ]
    list_filter = [StatusFilter, KindFilter, "project"]
    search_fields = ["name", "key_id", "project__name", "project__slug", "owner__email"]
    list_select_related = ["project", "owner"]
    fields = [
        "project",
        "owner",
        "all_projects",
        "scope",
        "name",
        "key_id",
        "masked",
        "permissions",
        "expiry_rule",
        "created_by",
        "created_at",
        "expires_at",
        "state",
        "stops_at",
        "revoked_at",
        "revoked_by",
        "rotated_from",
        "last_used_at",
        "last_used_ip",
        "rate_limit_per_minute",
    ]
    # Everything is shown read-only but the per-key rate limit (the one thing operators tune here).
    readonly_fields = [f for f in fields if isinstance(f, str) and f != "rate_limit_per_minute"]
    actions = ["revoke_selected"]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("scope_projects")

    @admin.display(description="Kind")
    def kind_label(self, obj):
        return Kind(obj.kind).label

    @admin.display(description="Scope")
    def scope(self, obj):
        if not obj.is_account_key:
            return "—"
        if obj.all_projects:
            return "All their projects"
        return ", ".join(p.slug for p in obj.scope_projects.all()) or "—"

    @admin.display(description="Key")
    def masked(self, obj):
        return obj.masked

    @admin.display(description="Permissions")
    def permission_list(self, obj):
        return ", ".join(obj.sorted_permissions)

    @admin.display(description="Status")
    def status_badge(self, obj):
        return obj.status_label

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke_selected(self, request, queryset):
        """Like "Delete selected": a page listing the keys first; revoking happens on its POST,
        through the same service as the console (event logged, caches invalidated)."""
        keys = list(queryset.select_related("project", "owner").order_by("project__name", "owner__email", "name"))
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Revoke API keys?",
                "opts": self.model._meta,
                "keys": keys,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "media": self.media,
            }
            return TemplateResponse(request, "admin/projects/apikey/revoke_selected_confirmation.html", context)
        actor = Actor.from_request(request, prefix="admin: ")
        revoked = skipped = 0
        for key in keys:
            try:
                api_key_revoke(key=key, actor=actor)
                revoked += 1
            except KeyRuleError:
                skipped += 1
        self.message_user(
            request,
            f"Revoked {revoked} key(s)." + (f" {skipped} were already revoked." if skipped else ""),
            messages.SUCCESS,
        )
        return None

    def delete_model(self, request, obj):
        api_key_delete(key=obj, actor=Actor.from_request(request, prefix="admin: "))

    def delete_queryset(self, request, queryset):
        actor = Actor.from_request(request, prefix="admin: ")
        for key in queryset.select_related("project"):
            api_key_delete(key=key, actor=actor)


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


@admin.register(KeyUsageDay)
class KeyUsageDayAdmin(NoSecretLookups, admin.ModelAdmin):
    list_display = ["day", "api_key", "success", "client_error", "server_error"]
    list_filter = ["day"]
    search_fields = ["api_key__key_id", "api_key__name"]
    list_select_related = ["api_key"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
