"""The Event log tab: the project's audit log, newest first, filtered by key, kind, actor and
dates, with an Export CSV of exactly what the filter shows.

Built for large logs: a page reads one slice through an index and counts matching rows only up
to EVENT_LOG_COUNT_CAP ("1,000+ events"), never the whole log; the export streams.
"""

import csv
import io
import re
from datetime import UTC, datetime, time, timedelta

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from ..access import membership_for
from ..event_text import plural
from ..models import KeyEvent
from ..models.event import EventKind

PAGE = "projects/events.html"
EXPORT_CHUNK = 2000


class EventFilterForm(forms.Form):
    key = forms.CharField(label="Key", required=False, max_length=32)
    kind = forms.ChoiceField(label="Event", required=False, choices=[("", "All events"), *EventKind.choices])
    actor = forms.CharField(
        label="Actor",
        required=False,
        max_length=254,
        widget=forms.TextInput(attrs={"list": "actor-choices", "autocomplete": "off"}),
    )
    since = forms.DateField(
        label="From",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )
    until = forms.DateField(
        label="To",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            # Neither date is applied (the message says the filter is ignored: so it is, whole).
            self.add_error(None, "The end date comes before the start date: both dates")
            cleaned.pop("since", None)
            cleaned.pop("until", None)
        return cleaned


def filtered_events(project, form: EventFilterForm):
    """The project's events that the (validated) filter form selects; invalid fields are ignored."""
    events = KeyEvent.objects.filter(project=project)
    data = form.cleaned_data if form.is_bound else {}
    if data.get("key"):
        events = events.filter(key_id=data["key"])
    if data.get("kind"):
        events = events.filter(kind=data["kind"])
    if data.get("actor"):  # any part of it, in any case: "CLI" finds "cli", "demo" finds demo@…
        events = events.filter(actor_label__icontains=data["actor"].strip())
    if data.get("since"):
        events = events.filter(created_at__gte=datetime.combine(data["since"], time.min, tzinfo=UTC))
    if data.get("until"):
        try:
            end = datetime.combine(data["until"] + timedelta(days=1), time.min, tzinfo=UTC)
        except OverflowError:
            end = None
        if end is not None:
            events = events.filter(created_at__lt=end)
    return events.order_by("-created_at", "-id")


def _filter_form(request) -> EventFilterForm:
    form = EventFilterForm(request.GET)
    form.is_valid()  # fills cleaned_data with the valid fields; errors are shown beside the filter
    return form


# Every distinct key id of one project's log, each with the name of its latest event. A recursive
# "loose index scan" on (project, key_id, -created_at): one index probe per key, however many
# events the log holds (a plain DISTINCT would read every event of the project).
KEY_CHOICES_SQL = """
WITH RECURSIVE keys(key_id) AS (
    SELECT MIN(key_id) FROM {table} WHERE project_id = %(project)s AND key_id > ''
    UNION ALL
    SELECT (SELECT MIN(e.key_id) FROM {table} e WHERE e.project_id = %(project)s AND e.key_id > keys.key_id)
    FROM keys WHERE keys.key_id IS NOT NULL
)
SELECT keys.key_id,
       (SELECT n.key_name FROM {table} n WHERE n.project_id = %(project)s AND n.key_id = keys.key_id
        ORDER BY n.created_at DESC LIMIT 1)
FROM keys WHERE keys.key_id IS NOT NULL
"""


def _key_choices(project) -> list[tuple[str, str]]:
    """Every key the log mentions, deleted ones too: from the events themselves, not the key table."""
    with connection.cursor() as cursor:
        cursor.execute(
            KEY_CHOICES_SQL.format(table=connection.ops.quote_name(KeyEvent._meta.db_table)), {"project": project.pk}
        )
        rows = cursor.fetchall()
    return sorted(((key_id, name or "") for key_id, name in rows), key=lambda row: (row[1].lower(), row[0]))


def _actor_choices(project):
    emails = project.memberships.values_list("user__email", flat=True).order_by("user__email")
    return [*emails, "cli", "api"]


class _Page:
    """One page of events without counting the whole log: the matching rows are counted up to a cap."""

    def __init__(self, events, number: str, size: int, cap: int):
        try:
            self.number = max(int(number), 1)
        except (TypeError, ValueError):
            self.number = 1
        self.count_capped = events[: cap + 1].count()  # SELECT COUNT(*) FROM (… LIMIT cap + 1)
        self.count_is_exact = self.count_capped <= cap
        if self.count_is_exact:
            self.num_pages = max((self.count_capped + size - 1) // size, 1)
            self.number = min(self.number, self.num_pages)
        else:
            self.num_pages = None
        start = (self.number - 1) * size
        rows = list(events[start : start + size + 1])
        self.has_next = len(rows) > size
        self.object_list = rows[:size]
        self.has_previous = self.number > 1
        self.previous_page_number = self.number - 1
        self.next_page_number = self.number + 1
        self.count_text = plural(self.count_capped, "event") if self.count_is_exact else f"{cap:,}+ events"


def _query_without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@login_required
@require_GET
def events(request, slug):
    membership = membership_for(request, slug)
    project = membership.project
    form = _filter_form(request)
    page = _Page(
        filtered_events(project, form),
        request.GET.get("page"),
        settings.EVENT_LOG_PAGE_SIZE,
        settings.EVENT_LOG_COUNT_CAP,
    )
    filtered = any(form.cleaned_data.get(f) for f in form.fields)
    context = {
        "membership": membership,
        "project": project,
        "tab": "events",
        "form": form,
        "page": page,
        "filtered": filtered,
        "query_without_page": _query_without_page(request),
    }
    if request.htmx:
        return render(request, PAGE + "#event-table", context)
    context.update(key_choices=_key_choices(project), actor_choices=_actor_choices(project))
    return render(request, PAGE, context)


# --- CSV export -----------------------------------------------------------------------------
CSV_HEADER = ["When (UTC)", "Event", "Description", "Details", "Key ID", "Key name", "Actor", "IP"]
# A spreadsheet may read the file with another separator than ours (`;` in many locales, tab), so
# any piece of a cell that follows `,` `;` a tab or a line break can become a field of its own. Each
# such piece (and the cell's start) that begins like a formula — `= + - @`, or a tab or CR that
# some spreadsheets strip first — gets an apostrophe in front: a spreadsheet shows it as text.
# Quotes and spaces between the separator and the formula do not hide it.
FORMULA_PIECE = re.compile(r"(^|[,;\t\r\n])([ \"]*)(?=[=+\-@\t\r])")


def csv_cell(value) -> str:
    """A cell a spreadsheet shows as text, however it splits it into fields: every piece starting
    like a formula gets a leading apostrophe ("x;=cmd" -> "x;'=cmd")."""
    text = "" if value is None else str(value)
    return FORMULA_PIECE.sub(r"\1\2'", text)


def csv_row(event) -> list[str]:
    return [
        csv_cell(v)
        for v in (
            event.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            event.get_kind_display(),
            event.sentence,
            event.details_text,
            event.key_id,
            event.key_name,
            event.actor_label,
            event.ip or "",
        )
    ]


@login_required
@require_GET
def events_csv(request, slug):
    """Export CSV: every event the same filter shows on the page (all pages), streamed in chunks
    of EXPORT_CHUNK rows (one write per chunk, not per row), never held in memory whole."""
    membership = membership_for(request, slug)
    project = membership.project
    events = filtered_events(project, _filter_form(request))

    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    return streamed_csv(CSV_HEADER, events, csv_row, filename=f"{project.slug}-events-{stamp}.csv")


def streamed_csv(header, queryset, to_row, *, filename: str) -> StreamingHttpResponse:
    """A CSV download of `queryset` (one `to_row(item)` a line, after `header`), streamed in chunks
    of EXPORT_CHUNK rows (one write per chunk, not per row), never held in memory whole. The event
    log's and the Usage tab's exports both go through it."""

    def chunks():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")  # BOM: spreadsheets then read the file as UTF-8
        writer.writerow(header)
        yield buffer.getvalue()  # the header at once: the download starts before the first query
        buffer.seek(0)
        buffer.truncate()
        for n, item in enumerate(queryset.iterator(chunk_size=EXPORT_CHUNK), 1):
            writer.writerow(to_row(item))
            if n % EXPORT_CHUNK == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = StreamingHttpResponse(chunks(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
