from django import forms
from django.contrib import admin
from django.db.models import Count, Q
from django.urls import reverse

from .actors import Actor
from .events import record_event
from .invitations import InvitationRefused, invitation_cancel, invitation_create
from .membership import (
    ONE_OWNER,
    membership_add,
    membership_change_role,
    membership_delete_logged,
    membership_move,
    owner_problem,
)
from .models import Invitation, KeyEvent, Membership, Project, Question, Role
from .models.event import EventKind
from .questions import question_create, question_delete, question_set_active, question_update
from .services import project_rename, slug_problem

# Secrets' stored forms: no admin page shows, filters, orders, searches or links to them.
SECRET_FIELDS = frozenset({"key_hash", "token_hash", "password"})


class NoSecretLookups:
    """Refuse `?key_hash__startswith=…`-style URL lookups (a prefix oracle on a secret's hash),
    on the model itself and through relations (`?api_key__key_hash__…`)."""

    def lookup_allowed(self, lookup, value, request=None):
        if SECRET_FIELDS.intersection(lookup.split("__")):
            return False
        return super().lookup_allowed(lookup, value, request)


class ReadOnlyAdmin(NoSecretLookups, admin.ModelAdmin):
    """A log or a record changed elsewhere: listed and shown, never added, changed or deleted here
    (superusers included). The event log, key policies and approvals, webhook deliveries."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
            problem = owner_problem(project, role) if project is not None else None
            if problem:
                self.add_error("role", problem)
            return cleaned
        stored = Membership.objects.get(pk=self.instance.pk)
        if role != stored.role:
            problem = stored.role_change_problem(role)
            if problem:
                self.add_error("role", problem)
        return cleaned


class MembershipInlineFormSet(forms.BaseInlineFormSet):
    """A project's member rows together: one owner among them (`owner_problem` judges each new row
    against the stored ones; this judges rows added side by side)."""

    def clean(self):
        super().clean()
        rows = [f.cleaned_data for f in self.forms if getattr(f, "cleaned_data", None)]
        if sum(1 for row in rows if row.get("role") == Role.OWNER and not row.get("DELETE")) > 1:
            raise forms.ValidationError(ONE_OWNER)


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipAdminForm
    formset = MembershipInlineFormSet
    extra = 0
    autocomplete_fields = ["user"]


class ProjectAdminForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = "__all__"  # noqa: DJ007  # what the admin showed before: name, slug, created_by

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        problem = slug_problem(slug)
        if problem:
            raise forms.ValidationError(problem)
        return slug


@admin.register(Project)
class ProjectAdmin(NoSecretLookups, admin.ModelAdmin):
    form = ProjectAdminForm
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
        if not change:
            super().save_model(request, obj, form, change)
            return
        # A rename goes through the console's own service (validated, logged); a new slug (the
        # project's address) is logged too, in the same request.
        stored = type(obj).objects.values("name", "slug").get(pk=obj.pk)
        new_name, obj.name = obj.name, stored["name"]
        super().save_model(request, obj, form, change)
        if stored["slug"] != obj.slug:
            record_event(
                project=obj,
                kind=EventKind.PROJECT_RENAMED,
                actor=_admin(request),
                subject=obj.name,
                details={"old_slug": stored["slug"], "slug": obj.slug},
            )
        if new_name != stored["name"]:
            project_rename(project=obj, name=new_name, actor=_admin(request))
            obj.name = new_name

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
    fields = ["project", "email", "role", "invited_by", "invited_via_key_id", "created_at", "expires_at", "accepted_at"]
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


@admin.register(KeyEvent)
class KeyEventAdmin(ReadOnlyAdmin):
    """The project event log, read-only: append-only for everyone, superusers included (the audit
    trail is not edited or pruned here)."""

    list_display = ["created_at", "kind", "description", "project", "account", "actor_label", "ip"]
    list_filter = ["kind", "project"]
    search_fields = ["key_id", "key_name", "subject", "actor_label", "project__name", "account__email"]
    list_select_related = ["project", "account"]
    date_hierarchy = "created_at"

    @admin.display(description="What happened")
    def description(self, obj):
        details = obj.details_text
        return f"{obj.sentence} — {details}" if details else obj.sentence
