from django.urls import path

from .views import events, members, projects, questions

app_name = "projects"

urlpatterns = [
    path("", projects.project_list, name="list"),
    path("invitations/accept/", members.invitation, name="invitation"),
    path("invitations/<int:pk>/join/", members.invitation_join, name="invitation_join"),
    path("invitations/<str:token>/", members.invitation_open, name="invitation_open"),
    path("<slug:slug>/", projects.project_detail, name="detail"),
    path("<slug:slug>/questions/", questions.questions, name="questions"),
    path("<slug:slug>/questions/bulk/", questions.questions_bulk, name="questions_bulk"),
    path("<slug:slug>/questions/samples/delete/", questions.sample_questions_delete, name="sample_questions_delete"),
    path("<slug:slug>/questions/<int:pk>/edit/", questions.question_edit, name="question_edit"),
    path("<slug:slug>/questions/<int:pk>/toggle/", questions.question_toggle, name="question_toggle"),
    path("<slug:slug>/questions/<int:pk>/delete/", questions.question_delete, name="question_delete"),
    path("<slug:slug>/members/", members.members, name="members"),
    path("<slug:slug>/members/<int:pk>/remove/", members.member_remove, name="member_remove"),
    path("<slug:slug>/members/leave/", members.member_leave, name="member_leave"),
    path("<slug:slug>/members/<int:pk>/role/", members.member_role, name="member_role"),
    path("<slug:slug>/invitations/<int:pk>/cancel/", members.invitation_cancel, name="invitation_cancel"),
    path("<slug:slug>/invitations/<int:pk>/resend/", members.invitation_resend_view, name="invitation_resend"),
    path("<slug:slug>/events/", events.events, name="events"),
    path("<slug:slug>/events/export.csv", events.events_csv, name="events_csv"),
]
