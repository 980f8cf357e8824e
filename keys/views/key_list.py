"""The key list's search, filters and sort (**Search keys**): read from the URL's query string, so
a view can be shared and reloads the same without JavaScript; with htmx the same GET form swaps
the results only (and pushes the URL).

Filtering is done on the holder's rows in Python, after the one query that lists them: a
project holds at most a few hundred keys (10 active, the rest revoked or expired), and the status
filter then uses `ApiKey.status_at` itself — the one status rule — instead of a second copy. What
is rendered is one page of the result (`KEYS_PER_PAGE` rows, `?page=` in the URL like the rest): a
project whose automation rotates daily gathers thousands of dead keys, and rendering each row is
what costs (docs/performance.md, "Console pages at scale").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

from django.core.paginator import Paginator
from django.http import QueryDict

from keys.models import ApiKey
from keys.models.api_key import Status

STATUS_CHOICES = [
    ("", "Any status"),
    ("active", "Active"),
    ("rotating", "Rotating"),
    ("disabled", "Disabled"),
    ("revoked", "Revoked"),
    ("expired", "Expired"),
]
KIND_CHOICES = [("", "Any kind"), ("live", "Live keys"), ("test", "Test keys (Sandbox)")]
EXPIRES_CHOICES = [
    ("", "Any expiry"),
    ("7", "Expires within 7 days"),
    ("30", "Expires within 30 days"),
    ("90", "Expires within 90 days"),
]
# Sortable columns; the first click on one sorts it the way people look for first.
SORT_COLUMNS = {"name": "Name", "created": "Created", "last_used": "Last used", "expires": "Expires"}
FIRST_DIRECTION = {"name": "", "created": "-", "last_used": "-", "expires": ""}
DEFAULT_SORT = "-created"
SORT_CHOICES = [
    ("-created", "Newest first"),
    ("created", "Oldest first"),
    ("name", "Name, A to Z"),
    ("-name", "Name, Z to A"),
    ("-last_used", "Last used, most recent first"),
    ("last_used", "Last used, longest ago first"),
    ("expires", "Expires, soonest first"),
    ("-expires", "Expires, latest first"),
]
NO_CREATOR = "none"
PARAMS = ("q", "status", "kind", "created_by", "expires", "sort", "page")
KEYS_PER_PAGE = 50


def _choice(value: str, choices) -> str:
    return value if value in {c for c, _ in choices} else ""


@dataclass(frozen=True)
class KeyListQuery:
    q: str = ""
    status: str = ""
    kind: str = ""
    created_by: str = ""
    expires: str = ""
    sort: str = DEFAULT_SORT
    page: int = 1

    @classmethod
    def from_params(cls, params: QueryDict) -> KeyListQuery:
        sort = params.get("sort", "")
        if sort.lstrip("-") not in SORT_COLUMNS:
            sort = DEFAULT_SORT
        created_by = params.get("created_by", "").strip()
        if created_by != NO_CREATOR and not created_by.isdigit():
            created_by = ""
        return cls(
            q=params.get("q", "").strip()[:100],
            status=_choice(params.get("status", ""), STATUS_CHOICES),
            kind=_choice(params.get("kind", ""), KIND_CHOICES),
            created_by=created_by,
            expires=_choice(params.get("expires", ""), EXPIRES_CHOICES),
            sort=sort,
            page=_page_number(params.get("page", "")),
        )

    @classmethod
    def from_request(cls, request) -> KeyListQuery:
        """From the GET query; for an htmx request that changes something (a POST), from the page's
        own URL (`HX-Current-URL`), so the list it sends back keeps its search and sort."""
        if request.method == "GET" and any(name in request.GET for name in PARAMS):
            return cls.from_params(request.GET)
        current = request.headers.get("HX-Current-URL", "") if getattr(request, "htmx", False) else ""
        if current:
            return cls.from_params(QueryDict(urlsplit(current).query))
        return cls()

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.status or self.kind or self.created_by or self.expires)

    @property
    def is_default(self) -> bool:
        return not self.filtered and self.sort == DEFAULT_SORT

    def as_params(self, **changes) -> str:
        values = {name: getattr(self, name) for name in PARAMS} | changes
        if values["sort"] == DEFAULT_SORT:
            values["sort"] = ""
        if values["page"] == 1:
            values["page"] = ""
        return urlencode({k: v for k, v in values.items() if v})

    def sort_link(self, column: str) -> str:
        """The query of a column header's link: its first direction, or the other one when sorted by it."""
        current = self.sort.lstrip("-")
        if current == column:
            new = column if self.sort.startswith("-") else "-" + column
        else:
            new = FIRST_DIRECTION[column] + column
        return self.as_params(sort=new, page=1)  # another order starts again at its first page

    def aria_sort(self, column: str) -> str:
        if self.sort.lstrip("-") != column:
            return "none"
        return "descending" if self.sort.startswith("-") else "ascending"

    # --- applying it ----------------------------------------------------------------------------
    def matches(self, key: ApiKey, now: datetime) -> bool:
        if self.q:
            needle = self.q.lower().removeprefix("…").removeprefix("...")
            haystacks = (key.name.lower(), key.key_id.lower(), key.masked.lower())
            if not (needle == key.last4.lower() or any(needle in h for h in haystacks)):
                return False
        if self.status and list_status(key, now) != self.status:
            return False
        if self.kind == "live" and key.is_test or self.kind == "test" and not key.is_test:
            return False
        if self.created_by == NO_CREATOR and key.created_by_id is not None:
            return False
        if self.created_by.isdigit() and key.created_by_id != int(self.created_by):
            return False
        if self.expires:  # keys that work now and stop within the chosen days
            if list_status(key, now) not in ("active", "rotating", "disabled"):
                return False
            limit = now + timedelta(days=int(self.expires))
            if key.expires_at is None or not (now < key.expires_at <= limit):
                return False
        return True

    def apply(self, keys: Sequence[ApiKey], now: datetime) -> list[ApiKey]:
        chosen = [k for k in keys if self.matches(k, now)]
        column, descending = self.sort.lstrip("-"), self.sort.startswith("-")
        if column == "name":
            chosen.sort(key=lambda k: (k.name.casefold(), k.key_id), reverse=descending)
        elif column == "created":
            chosen.sort(key=lambda k: (k.created_at, k.pk), reverse=descending)
        else:  # last use or expiry: keys without one go last, whichever the direction
            attribute = "last_used_at" if column == "last_used" else "expires_at"
            dated = [k for k in chosen if getattr(k, attribute) is not None]
            undated = [k for k in chosen if getattr(k, attribute) is None]
            dated.sort(key=lambda k: getattr(k, attribute), reverse=descending)
            chosen = dated + undated
        for key in chosen:
            key.lineage_depth = 0  # a filtered or re-sorted list is flat (no "replaced by" nesting)
        return chosen


def _page_number(value: str) -> int:
    """`?page=`: a positive number (anything else is page 1; one past the end is the last page)."""
    value = value.strip()
    return min(int(value), 1_000_000) if value.isdigit() and int(value) >= 1 else 1


@dataclass(frozen=True)
class Pager:
    """One page of the listed keys, and the links to its neighbours (same search, filters, sort)."""

    keys: list[ApiKey]
    number: int
    count: int  # pages
    first: int  # the page's first and last row, counted from 1
    last: int
    total: int  # rows on every page
    previous_href: str | None
    next_href: str | None

    @property
    def several(self) -> bool:
        return self.count > 1


def paginate(keys: Sequence[ApiKey], query: KeyListQuery, per_page: int = KEYS_PER_PAGE) -> Pager:
    page = Paginator(keys, per_page).get_page(query.page)  # out of range: the last page
    number, count = page.number, page.paginator.num_pages
    return Pager(
        keys=list(page.object_list),
        number=number,
        count=count,
        first=page.start_index(),
        last=page.end_index(),
        total=len(keys),
        previous_href="?" + query.as_params(page=number - 1) if page.has_previous() else None,
        next_href="?" + query.as_params(page=number + 1) if page.has_next() else None,
    )


def list_status(key: ApiKey, now: datetime) -> str:
    """The status the list's badge and filter show: a working key that is paused is "disabled"."""
    status = key.status_at(now)
    if key.is_disabled and status in (Status.ACTIVE, Status.ROTATING):
        return "disabled"
    return str(status)


def creators(keys: Sequence[ApiKey]) -> list[tuple[str, str]]:
    """The people who made the listed keys, for the **Created by** filter."""
    seen: dict[str, str] = {}
    anonymous = False
    for key in keys:
        if key.created_by_id is None:
            anonymous = True
        elif str(key.created_by_id) not in seen:
            seen[str(key.created_by_id)] = key.created_by.email if key.created_by else "?"
    options = sorted(seen.items(), key=lambda item: item[1].casefold())
    if anonymous:
        options.append((NO_CREATOR, "The CLI or the admin"))
    return options
