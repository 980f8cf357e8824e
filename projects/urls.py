from django.http import HttpRequest
from django.urls import path

from accounts.sensitive import changes, classify, confirm, confirm_if, reads

from .models import Role
from .views import events, members, projects, questions

app_name = "projects"


def _role_above_viewer(request: HttpRequest) -> bool:
    # Anything but "viewer" asks (an unknown role too: the form refuses it after the password).
    return request.POST.get("role", "") != Role.VIEWER


# Inviting a viewer does not ask to Confirm access; any role above does (an admin invitation).
INVITE = confirm_if(_role_above_viewer, "the role is above viewer")

# Each route declares whether it asks to Confirm access (accounts/sensitive.py): `reads`,
# `changes` (never asks), `confirm` (asks before the form opens too), or another rule.
urlpatterns = [
    path("", changes(projects.project_list), name="list"),  # POST creates a project
    path("invitations/accept/", changes(members.invitation), name="invitation"),  # accepting one's own
    path("invitations/<int:pk>/join/", changes(members.invitation_join), name="invitation_join"),
    path("invitations/<str:token>/", reads(members.invitation_open), name="invitation_open"),
    path("<slug:slug>/", reads(projects.project_detail), name="detail"),
    path("<slug:slug>/questions/", changes(questions.questions), name="questions"),
    path("<slug:slug>/questions/bulk/", changes(questions.questions_bulk), name="questions_bulk"),
    path(
        "<slug:slug>/questions/samples/delete/",
        changes(questions.sample_questions_delete),
        name="sample_questions_delete",
    ),
    path("<slug:slug>/questions/<int:pk>/edit/", changes(questions.question_edit), name="question_edit"),
    path("<slug:slug>/questions/<int:pk>/toggle/", changes(questions.question_toggle), name="question_toggle"),
    path("<slug:slug>/questions/<int:pk>/delete/", changes(questions.question_delete), name="question_delete"),
    path("<slug:slug>/members/", classify(members.members, INVITE), name="members"),
    path("<slug:slug>/members/<int:pk>/remove/", confirm(members.member_remove), name="member_remove"),
    path("<slug:slug>/members/leave/", changes(members.member_leave), name="member_leave"),  # one's own membership
    path("<slug:slug>/members/<int:pk>/role/", confirm(members.member_role), name="member_role"),
    # takes access away, like revoking
    path("<slug:slug>/invitations/<int:pk>/cancel/", changes(members.invitation_cancel), name="invitation_cancel"),
    # a new link for the same role (admin included)
    path(
        "<slug:slug>/invitations/<int:pk>/resend/",
        confirm(members.invitation_resend_view),
        name="invitation_resend",
    ),
    path("<slug:slug>/events/", reads(events.events), name="events"),
    path("<slug:slug>/events/export.csv", reads(events.events_csv), name="events_csv"),
]
