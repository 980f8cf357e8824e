"""Issue 12, item 8: the event log as the project's audit log.

Each test is named after a finding: details printed Python reprs and microsecond stamps, "1 events",
deleted keys vanished from the filter, no actor or date filter, no export, and only key events
existed ("who removed this member?" had no answer).
"""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from keys.services import api_key_create, api_key_delete, api_key_revoke, api_key_rotate
from projects.actors import Actor
from projects.event_text import details_text, sentence
from projects.membership import MembershipRefused, membership_change_role, membership_leave
from projects.models import Invitation, KeyEvent, Membership, Question, Role
from projects.models.event import EventKind
from projects.models.project import RoleChangeRefused
from projects.services import project_rename
from projects.views.events import csv_cell
from tests.factories import ApiKeyFactory, MembershipFactory, QuestionFactory, UserFactory
from tests.helpers import HX, page_text
from tests.urls import project_url

pytestmark = pytest.mark.django_db


def _url(project, name="events"):
    return project_url(name, args=[project.slug])


def _sentences(response) -> list[str]:
    """The sentence of each row of the event table, in order, as text."""
    import html

    found = re.findall(r'<span class="sentence">([^<]*)</span>', response.content.decode())
    return [html.unescape(s) for s in found]


def _kinds(project) -> list[str]:
    return list(KeyEvent.objects.filter(project=project).order_by("id").values_list("kind", flat=True))


def _csv(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode("utf-8")  # type: ignore[arg-type]  # sync: bytes
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


@pytest.fixture
def actor(user):
    return Actor(user=user, label=user.email, ip="198.51.100.7")


# --- words, not reprs ----------------------------------------------------------------------------


def test_details_have_no_python_reprs_or_microsecond_stamps(owner_client, unlocked_project, actor):
    key, _ = api_key_create(
        project=unlocked_project,
        name="Nightly import",
        permissions=["read", "write"],
        expiry_rule="date",
        expires_on=datetime(2027, 2, 24).date(),
        actor=actor,
    )
    api_key_revoke(key=key, actor=actor)
    response = owner_client.get(_url(unlocked_project))
    body = response.content.decode()
    text = page_text(response)
    assert "['" not in text and "[&#x27;" not in body and "{'" not in text
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d{6}", text)  # no microsecond ISO stamps
    assert "T00:00:00" not in text
    owner = actor.label
    assert _sentences(response)[:2] == [
        f"{owner} revoked “Nightly import” ({key.key_id})",
        f"{owner} created “Nightly import” ({key.key_id})",
    ]
    assert "permissions: read, write; expires 25 Feb 2027" in text


def test_rotation_details_read_as_words(unlocked_project, actor):
    key, _ = api_key_create(project=unlocked_project, name="web", permissions=["read"], actor=actor)
    new, _ = api_key_rotate(key=key, actor=actor, grace="24h")
    rotated = KeyEvent.objects.get(kind=EventKind.ROTATED)
    stops = new.rotated_from.stops_at.astimezone(UTC)
    assert details_text(rotated) == (
        f"replaced by {new.key_id}; old key stops {stops.day} {stops:%b %Y}, {stops:%H:%M} UTC"
    )
    created = KeyEvent.objects.filter(kind=EventKind.CREATED, key_id=new.key_id).get()
    assert details_text(created).startswith(f"replaces {key.key_id}; permissions: read; expires ")


def test_grace_period_ended_by_a_rotation_reads_as_words(unlocked_project, actor):
    first, _ = api_key_create(project=unlocked_project, name="web", permissions=["read"], actor=actor)
    second, _ = api_key_rotate(key=first, actor=actor, grace="24h")
    api_key_rotate(key=second, actor=actor, grace="24h")
    ended = KeyEvent.objects.get(kind=EventKind.REVOKED, key_id=first.key_id)
    assert sentence(ended) == f"{actor.label} revoked “web” ({first.key_id})"
    assert details_text(ended) == f"grace period ended by rotation; successor {second.key_id}"


def test_key_edit_reads_as_words(unlocked_project, actor):
    from keys.services import api_key_update

    key, _ = api_key_create(project=unlocked_project, name="web", permissions=["read"], actor=actor)
    api_key_update(key=key, actor=actor, name="Web app", permissions=["read", "write"], rate_limit_per_minute=120)
    event = KeyEvent.objects.get(kind=EventKind.UPDATED)
    assert sentence(event) == f"{actor.label} changed “Web app” ({key.key_id})"
    assert details_text(event) == "name: “web” → “Web app”; permissions: read → read, write; rate limit: default → 120"


def test_one_event_is_counted_in_the_singular(owner_client, unlocked_project, actor):
    api_key_create(project=unlocked_project, name="only", permissions=["read"], actor=actor)
    text = page_text(owner_client.get(_url(unlocked_project)))
    assert "1 event" in text and "1 events" not in text


# --- every change is in the log --------------------------------------------------------------


def test_member_removal_is_logged_with_who_did_it(owner_client, unlocked_project, user):
    member = MembershipFactory(project=unlocked_project, user=UserFactory(email="bob@example.com"), role=Role.ADMIN)
    response = owner_client.post(reverse("projects:member_remove", args=[unlocked_project.slug, member.pk]))
    assert response.status_code == 302
    event = KeyEvent.objects.get(project=unlocked_project, kind=EventKind.MEMBER_REMOVED)
    assert (event.actor, event.subject) == (user, "bob@example.com")
    assert f"{user.email} removed bob@example.com from the project" in _sentences(
        owner_client.get(_url(unlocked_project))
    )


def test_member_leaving_and_role_change_are_logged(unlocked_project, user, client):
    bob = UserFactory(email="bob@example.com")
    membership = MembershipFactory(project=unlocked_project, user=bob, role=Role.VIEWER)
    membership_change_role(membership=membership, role=Role.ADMIN, actor=Actor(user=user, label=user.email))
    client.force_login(bob)
    assert client.post(reverse("projects:member_leave", args=[unlocked_project.slug])).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    events = KeyEvent.objects.filter(project=unlocked_project).order_by("id")
    assert [sentence(e) for e in events] == [
        f"{user.email} changed the role of bob@example.com from Viewer to Admin",
        "bob@example.com left the project",
    ]


def test_owner_cannot_leave_nor_be_demoted(unlocked_project, user, owner_client):
    owner = Membership.objects.get(project=unlocked_project, user=user)
    assert owner_client.post(reverse("projects:member_leave", args=[unlocked_project.slug])).status_code == 403
    with pytest.raises(RoleChangeRefused):
        membership_change_role(membership=owner, role=Role.VIEWER, actor=Actor.cli())
    with pytest.raises(MembershipRefused):
        membership_leave(membership=owner, actor=Actor.cli())
    assert Membership.objects.get(pk=owner.pk).role == Role.OWNER
    assert KeyEvent.objects.filter(project=unlocked_project).count() == 0


def test_invitations_sent_accepted_and_cancelled_are_logged(owner_client, unlocked_project, user, client):
    members = _url(unlocked_project, "members")
    owner_client.post(members, {"email": "joiner@example.com", "role": "admin"})
    owner_client.post(members, {"email": "never@example.com", "role": "viewer"})
    never = Invitation.objects.get(email="never@example.com")
    owner_client.post(reverse("projects:invitation_cancel", args=[unlocked_project.slug, never.pk]))
    joiner = UserFactory(email="joiner@example.com")
    client.force_login(joiner)
    joining = Invitation.objects.get(email="joiner@example.com")
    assert client.post(reverse("projects:invitation_join", args=[joining.pk])).status_code == 302
    events = list(KeyEvent.objects.filter(project=unlocked_project).order_by("id"))
    assert [sentence(e) for e in events] == [
        f"{user.email} invited joiner@example.com as Admin",
        f"{user.email} invited never@example.com as Viewer",
        f"{user.email} cancelled the invitation to never@example.com",
        "joiner@example.com accepted the invitation and joined as Admin",
    ]
    assert events[-1].actor == joiner


def test_invitation_through_the_api_names_the_key(unlocked_project, client):
    key = ApiKeyFactory(project=unlocked_project, permissions=["invite"])
    response = client.post(
        "/api/v1/invitations",
        {"email": "api@example.com", "role": "viewer"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key.plaintext}",
    )
    assert response.status_code == 201, response.content
    event = KeyEvent.objects.get(project=unlocked_project, kind=EventKind.INVITATION_SENT)
    assert sentence(event) == "api invited api@example.com as Viewer"
    assert details_text(event) == f"through the API key {key.key_id}"


def test_question_changes_in_the_console_are_logged(owner_client, project, user):
    url = _url(project, "questions")
    owner_client.post(url, {"text": "What is 2 + 2?", "priority": "5", "is_active": "on"})
    owner_client.post(_url(project, "questions_bulk"), {"questions": "One?\nTwo?\nThree?"})
    question = Question.objects.get(text="What is 2 + 2?")
    owner_client.post(
        reverse("projects:question_edit", args=[project.slug, question.pk]),
        {"text": "What is 2 + 3?", "priority": "7", "is_active": "on"},
    )
    owner_client.post(reverse("projects:question_toggle", args=[project.slug, question.pk]))
    owner_client.post(reverse("projects:question_toggle", args=[project.slug, question.pk]))
    owner_client.post(reverse("projects:question_delete", args=[project.slug, question.pk]))
    events = list(KeyEvent.objects.filter(project=project).order_by("id"))
    me = user.email
    assert [(sentence(e), details_text(e)) for e in events] == [
        (f"{me} added the question “What is 2 + 2?”", "priority 5; active"),
        (f"{me} added 3 questions in bulk", ""),
        (f"{me} edited the question “What is 2 + 3?”", "text changed; priority: 5 → 7"),
        (f"{me} deactivated the question “What is 2 + 3?”", ""),
        (f"{me} activated the question “What is 2 + 3?”", ""),
        (f"{me} deleted the question “What is 2 + 3?”", ""),
    ]


def test_question_changes_through_the_api_are_logged(unlocked_project, client):
    key = ApiKeyFactory(project=unlocked_project, permissions=["create", "write", "delete"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key.plaintext}"}
    created = client.post(
        "/api/v1/questions", {"text": "From the API?", "priority": 3}, content_type="application/json", **auth
    )
    assert created.status_code == 201
    qid = created.json()["id"]
    assert (
        client.patch(
            f"/api/v1/questions/{qid}", {"is_active": False}, content_type="application/json", **auth
        ).status_code
        == 200
    )
    assert client.delete(f"/api/v1/questions/{qid}", **auth).status_code == 204
    events = list(KeyEvent.objects.filter(project=unlocked_project).order_by("id"))
    assert [e.kind for e in events] == [
        EventKind.QUESTION_ADDED,
        EventKind.QUESTION_DEACTIVATED,
        EventKind.QUESTION_DELETED,
    ]
    assert {e.actor_label for e in events} == {"api"}
    assert all(e.details["via_key"] == key.key_id for e in events)


def test_project_created_and_renamed_are_logged(owner_client, user):
    owner_client.post(reverse("projects:list"), {"name": "Trivia"})
    project = user.memberships.get().project
    project_rename(project=project, name="Trivia night", actor=Actor(user=user, label=user.email))
    assert [sentence(e) for e in KeyEvent.objects.filter(project=project).order_by("id")] == [
        f"{user.email} created the project “Trivia”",
        f"{user.email} renamed the project from “Trivia” to “Trivia night”",
    ]


def test_admin_changes_are_logged(admin_client, admin_user, unlocked_project):
    question = QuestionFactory(project=unlocked_project, text="Admin edits me?")
    admin_client.post(
        reverse("admin:projects_question_changelist"), {"action": "deactivate", "_selected_action": [str(question.pk)]}
    )
    member = MembershipFactory(project=unlocked_project, role=Role.VIEWER)
    admin_client.post(
        reverse("admin:projects_membership_change", args=[member.pk]),
        {"user": member.user.pk, "project": unlocked_project.pk, "role": "admin"},
    )
    kinds = _kinds(unlocked_project)
    assert kinds == [EventKind.QUESTION_DEACTIVATED, EventKind.MEMBER_ROLE_CHANGED]
    assert set(KeyEvent.objects.values_list("actor_label", flat=True)) == {f"admin: {admin_user.email}"}


def test_events_stay_append_only_in_the_admin(admin_client, unlocked_project, actor):
    api_key_create(project=unlocked_project, name="web", permissions=["read"], actor=actor)
    event = KeyEvent.objects.get()
    assert (
        admin_client.post(reverse("admin:projects_keyevent_delete", args=[event.pk]), {"post": "yes"}).status_code
        == 403
    )
    admin_client.post(
        reverse("admin:projects_keyevent_changelist"),
        {"action": "delete_selected", "_selected_action": [str(event.pk)], "post": "yes"},
    )
    assert KeyEvent.objects.filter(pk=event.pk).exists()


def test_old_key_events_still_read_after_the_migration(unlocked_project):
    """Rows written before the event model grew (no subject, old details) still make sentences."""
    event = KeyEvent.objects.create(
        project=unlocked_project,
        key_id="key_old",
        key_name="legacy",
        kind="created",
        actor_label="cli",
        details={"permissions": ["read"], "expires_at": None},
    )
    assert (sentence(event), details_text(event)) == (
        "cli created “legacy” (key_old)",
        "permissions: read; never expires",
    )


# --- filters --------------------------------------------------------------------------------


@pytest.fixture
def mixed_log(unlocked_project, user):
    """Events of several kinds, actors and days."""
    ana = Actor(user=user, label=user.email)
    key, _ = api_key_create(project=unlocked_project, name="gone", permissions=["read"], actor=ana)
    api_key_delete(key=key, actor=Actor.cli())
    old = datetime(2026, 1, 10, 12, tzinfo=UTC)
    KeyEvent.objects.create(
        project=unlocked_project, kind=EventKind.QUESTION_ADDED, subject="Old one?", actor_label="cli", created_at=old
    )
    KeyEvent.objects.create(
        project=unlocked_project,
        kind=EventKind.QUESTION_ADDED,
        subject="Later one?",
        actor_label=user.email,
        actor=user,
        created_at=old + timedelta(days=5),
    )
    return {"key": key}


def test_filter_by_a_deleted_key(owner_client, unlocked_project, mixed_log):
    key = mixed_log["key"]
    body = owner_client.get(_url(unlocked_project)).content.decode()
    assert f'<option value="{key.key_id}">gone ({key.key_id})</option>' in body
    response = owner_client.get(_url(unlocked_project), {"key": key.key_id})
    assert [s.split(" ", 1)[1] for s in _sentences(response)] == [
        f"deleted “gone” ({key.key_id})",
        f"created “gone” ({key.key_id})",
    ]


def test_filter_by_actor(owner_client, unlocked_project, mixed_log, user):
    response = owner_client.get(_url(unlocked_project), {"actor": "cli"})
    assert _sentences(response) == [
        f"cli deleted “gone” ({mixed_log['key'].key_id})",
        "cli added the question “Old one?”",
    ]
    body = owner_client.get(_url(unlocked_project)).content.decode()
    assert f'<option value="{user.email}">' in body  # suggested actors


def test_filter_by_date_range(owner_client, unlocked_project, mixed_log):
    response = owner_client.get(_url(unlocked_project), {"since": "2026-01-10", "until": "2026-01-14"})
    assert _sentences(response) == ["cli added the question “Old one?”"]
    both = owner_client.get(_url(unlocked_project), {"since": "2026-01-10", "until": "2026-01-15"})
    assert len(_sentences(both)) == 2
    assert "2 events match these filters" in page_text(both)


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"until": "9999-12-31"},
        {"since": "2026-02-01", "until": "2026-01-01"},
        {"kind": "nope"},
        {"page": "-3"},
    ],
)
def test_bad_filters_never_fail(owner_client, unlocked_project, mixed_log, params):
    response = owner_client.get(_url(unlocked_project), params)
    assert response.status_code == 200
    assert owner_client.get(_url(unlocked_project, "events_csv"), params).status_code == 200


def test_filtering_with_htmx_swaps_the_table_only(owner_client, unlocked_project, mixed_log):
    response = owner_client.get(_url(unlocked_project), {"actor": "cli"}, **HX)
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="event-table">') and "<html" not in body
    assert len(_sentences(response)) == 2
    assert f'href="/projects/{unlocked_project.slug}/events/export.csv?actor=cli"' in body


# --- export ---------------------------------------------------------------------------------


def test_export_csv_is_what_the_filter_shows(owner_client, unlocked_project, mixed_log, user):
    params = {"kind": EventKind.QUESTION_ADDED}
    page = owner_client.get(_url(unlocked_project), params)
    response = owner_client.get(_url(unlocked_project, "events_csv"), params)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0] == ["When (UTC)", "Event", "Description", "Details", "Key ID", "Key name", "Actor", "IP"]
    assert [r[2] for r in rows[1:]] == _sentences(page)
    assert rows[1][:3] == ["2026-01-15 12:00:00", "Question added", f"{user.email} added the question “Later one?”"]


def test_export_csv_has_every_page(owner_client, unlocked_project):
    KeyEvent.objects.bulk_create(
        KeyEvent(project=unlocked_project, kind=EventKind.QUESTION_ADDED, subject=f"Q{i}", actor_label="cli")
        for i in range(60)
    )
    rows = _csv(owner_client.get(_url(unlocked_project, "events_csv")))
    assert len(rows) == 1 + 60


def test_export_csv_streams_in_chunks(owner_client, unlocked_project, monkeypatch):
    from projects.views import events as events_view

    monkeypatch.setattr(events_view, "EXPORT_CHUNK", 25)
    KeyEvent.objects.bulk_create(
        KeyEvent(project=unlocked_project, kind=EventKind.QUESTION_ADDED, subject=f"Q{i}", actor_label="cli")
        for i in range(60)
    )
    response = owner_client.get(_url(unlocked_project, "events_csv"))
    chunks = [chunk.decode("utf-8") for chunk in response.streaming_content]
    assert len(chunks) == 1 + 3  # the header at once, then 25 + 25 + 10 rows
    assert chunks[0] == "\ufeffWhen (UTC),Event,Description,Details,Key ID,Key name,Actor,IP\r\n"
    assert [c.count("\r\n") for c in chunks[1:]] == [25, 25, 10]


def test_long_question_texts_are_shortened_in_sentences(unlocked_project):
    event = KeyEvent.objects.create(
        project=unlocked_project, kind=EventKind.QUESTION_DELETED, subject="x" * 150, actor_label="cli"
    )
    assert sentence(event) == "cli deleted the question “" + "x" * 79 + "…”"


def test_export_csv_is_safe_from_formula_injection(owner_client, unlocked_project, user):
    owner_client.post(
        _url(unlocked_project, "questions"),
        {"text": '=HYPERLINK("http://evil.example","x")', "priority": "0", "is_active": "on"},
    )
    KeyEvent.objects.create(project=unlocked_project, kind=EventKind.QUESTION_ADDED, subject="x", actor_label="@evil")
    rows = _csv(owner_client.get(_url(unlocked_project, "events_csv")))
    cells = [cell for row in rows[1:] for cell in row]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert "'@evil" in cells
    assert csv_cell("-1") == "'-1" and csv_cell("+x") == "'+x" and csv_cell("plain") == "plain"


def test_export_is_for_members_only(stranger_client, viewer_client, unlocked_project):
    assert stranger_client.get(_url(unlocked_project, "events_csv")).status_code == 404
    assert viewer_client.get(_url(unlocked_project, "events_csv")).status_code == 200


# --- at scale: no COUNT(*) over the whole log ---------------------------------------------------


def test_event_log_never_counts_the_whole_log(owner_client, unlocked_project, settings):
    settings.EVENT_LOG_COUNT_CAP = 30
    KeyEvent.objects.bulk_create(
        KeyEvent(project=unlocked_project, kind=EventKind.QUESTION_ADDED, subject=f"Q{i}", actor_label="cli")
        for i in range(80)
    )
    with CaptureQueriesContext(connection) as ctx:
        response = owner_client.get(_url(unlocked_project))
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT 31" in sql for sql in counts), counts
    text = page_text(response)
    assert "30+ events" in text and "Older →" in text
    assert "80" not in text


def test_export_csv_neutralises_formulas_in_every_field_a_spreadsheet_could_split_out(
    owner_client, unlocked_project, user
):
    """A spreadsheet splitting on `;` (or tab) finds fields inside our cells: none may start like a
    formula. The key name of issue 19: `x;=cmd|' /C calc'!A0;y`."""
    name = "x;=cmd|' /C calc'!A0;y"
    api_key_create(project=unlocked_project, name=name, permissions=["read"], actor=Actor(user=user, label=user.email))
    KeyEvent.objects.create(
        project=unlocked_project, kind=EventKind.QUESTION_ADDED, subject='a,\t+b; "=c"\n@d', actor_label="x;-1"
    )
    response = owner_client.get(_url(unlocked_project, "events_csv"))
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "=cmd|" in body  # the name is there, as text
    for separator in (",", ";", "\t"):
        for line in body.splitlines():
            for field in line.split(separator):
                assert not field.lstrip(' "').startswith(("=", "+", "-", "@")), (separator, field)
    # and read back as CSV (our separator), the name is whole, one apostrophe added
    rows = _csv(owner_client.get(_url(unlocked_project, "events_csv")))
    assert "x;'=cmd|' /C calc'!A0;y" in [cell for row in rows[1:] for cell in row]
    assert csv_cell(name) == "x;'=cmd|' /C calc'!A0;y"
    assert csv_cell("2026-12-04 10:00:00") == "2026-12-04 10:00:00" and csv_cell("read, write") == "read, write"
