"""Leaked keys stop themselves: THE handling of a report that keys were found in public.

Called by GitHub's secret-scanning partner endpoint (`POST /api/v1/secret-scanning/github`), the
public report endpoint (`POST /api/v1/leaked-keys`) and the console's **Report a leaked key**
page. Holding a key already grants its power, so revoking a reported key is safe whoever reports
it. For each candidate:

1. the format and checksum are checked offline (`keygen.is_well_formed`): a made-up string costs
   no query;
2. the key is looked up by its hash (as `api.auth` does) and checked once more in constant time;
3. a key that still authenticates (active, or rotating inside a grace period) is revoked through
   `services.api_key_revoke` (event LEAKED: where it was found and who reported it; the record
   cache gets its tombstone, so every worker refuses it on the next request);
4. after the commit, its holder (personal key) or its project's owners and admins get a mail
   (`keys.notify.send_key_mail`).

The verdicts (ours or not, revoked now or not) go back to the caller; the public endpoints never
show them to the reporter.
"""

import hashlib
import logging
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from keys_console.client_ip import throttle_address
from keys_console.errors import Refused
from projects.actors import Actor
from projects.invitations import neutralise

from . import keygen
from .errors import KeyNotActive
from .models import ApiKey
from .models.api_key import AUTHENTICATING
from .notify import send_key_mail
from .services import api_key_revoke

logger = logging.getLogger("keys")

# THE limits of a public report (the console's form and the API's schema both read them).
MAX_KEYS_PER_REPORT = 100  # keys in one report
REPORTED_KEY_MAX_LENGTH = 200  # characters of one reported key (ours have 41)
REPORTED_PLACE_MAX_LENGTH = 2000  # characters of "where it was found", as sent
FOUND_AT_MAX_LENGTH = 500  # ... and as the event log keeps it
PUBLIC_REPORTER = "a public report"
THROTTLE_WINDOW = 60  # seconds


class ReportThrottled(Refused):
    """Too many public reports from one client address (API: 429 rate_limited, Retry-After)."""

    code, status = "rate_limited", 429

    def __init__(self, retry_after: int):
        super().__init__(f"Too many reports from this address; retry in {retry_after} s.", retry_after=retry_after)


class ReportRefused(Refused):
    """A report breaks the limits above (the sentence says which)."""


def clean_report(keys, found_at: str | None) -> tuple[list[str], str]:
    """THE judgement of a public report's size: the keys (a list, or text with one a line; blank
    lines dropped) and the place. Raises ReportRefused naming the field."""
    lines = keys.splitlines() if isinstance(keys, str) else list(keys or [])
    candidates = [line.strip() for line in lines if isinstance(line, str) and line.strip()]
    if not candidates:
        raise ReportRefused("Paste at least one key.", field="keys")
    if len(candidates) > MAX_KEYS_PER_REPORT:
        raise ReportRefused(f"At most {MAX_KEYS_PER_REPORT} keys a report.", field="keys")
    if any(len(c) > REPORTED_KEY_MAX_LENGTH for c in candidates):
        raise ReportRefused(f"A key has at most {REPORTED_KEY_MAX_LENGTH} characters.", field="keys")
    place = str(found_at or "")
    if len(place) > REPORTED_PLACE_MAX_LENGTH:
        raise ReportRefused(f"Say where in at most {REPORTED_PLACE_MAX_LENGTH:,} characters.", field="url")
    return candidates, place


@dataclass(frozen=True)
class Verdict:
    token_hash: str  # SHA-256 of the candidate, hex (GitHub's feedback names tokens by it)
    ours: bool  # one of our keys (whatever its status)
    revoked: bool  # revoked by this report


def token_hash(candidate: str) -> str:
    return hashlib.sha256(candidate.encode("utf-8", "surrogatepass")).hexdigest()


def clean_found_at(found_at: str | None) -> str:
    """Where a key was found, as the event log keeps it: one line, at most 500 characters."""
    text = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", str(found_at or "")).strip()
    # A key pasted into the place (e.g. `?key=nbq_live_…`) is kept masked, as everywhere else.
    text = keygen.KEY_PATTERN.sub(lambda m: keygen.mask(m.group(0)[-4:], prefix=m.group(0)[:9]), text)
    return text[:FOUND_AT_MAX_LENGTH]


def find_key(candidate: str) -> ApiKey | None:
    """The key a candidate string is, or None (no query unless it is well formed)."""
    return find_keys([candidate]).get(candidate)


def find_keys(candidates: Iterable[str]) -> dict[str, ApiKey]:
    """The keys among `candidates`, by candidate: ONE query for all the well-formed ones (none
    when no candidate is well formed), so a 100-key report costs one lookup, not 100."""
    by_hash = {keygen.hash_key(c): c for c in candidates if isinstance(c, str) and keygen.is_well_formed(c)}
    if not by_hash:
        return {}
    found = ApiKey.objects.select_related("project", "owner").filter(key_hash__in=list(by_hash))
    return {by_hash[k.key_hash]: k for k in found if keygen.verify_key(by_hash[k.key_hash], k.key_hash)}


def report_leaked_keys(
    candidates: Iterable[str], *, found_at: str | None, reporter: str, actor: Actor
) -> list[Verdict]:
    """Revoke every live key among `candidates` and tell their holders. One verdict per distinct
    candidate, in order. `reporter` says who reported (e.g. "GitHub secret scanning")."""
    where = clean_found_at(found_at)
    verdicts: list[Verdict] = []
    seen: set[str] = set()
    cleaned = [candidate.strip() if isinstance(candidate, str) else "" for candidate in candidates]
    keys = find_keys(cleaned)
    for candidate in cleaned:
        digest = token_hash(candidate)
        if digest in seen:
            continue
        seen.add(digest)
        key = keys.get(candidate)
        revoked = False
        if key is not None and key.status in AUTHENTICATING:
            try:
                key = api_key_revoke(key=key, actor=actor, found_at=where, reported_by=reporter)
            except KeyNotActive:  # revoked meanwhile by someone else
                pass
            else:
                revoked = True
                logger.warning("Leaked key revoked: %s (reported by %s)", key.key_id, reporter)
                transaction.on_commit(_mail_later(key, where, reporter))
        verdicts.append(Verdict(token_hash=digest, ours=key is not None, revoked=revoked))
    return verdicts


def _mail_later(key: ApiKey, where: str, reporter: str):
    def send() -> None:
        send_key_mail(key, "leaked", {"found_at": _one_line(where) or "not given", "reporter": reporter})

    return send


def _one_line(text: str) -> str:
    return neutralise(text, limit=FOUND_AT_MAX_LENGTH)


def throttle_public_report(client: str | None) -> None:
    """Count a public report (the API's `POST /leaked-keys` and the console's form share one
    budget per client address: settings.LEAK_REPORTS_PER_MINUTE; an IPv6 client's whole /64, as
    every per-address throttle counts: `keys_console.client_ip.throttle_address`). Raises
    ReportThrottled over it. Counted in Django's cache (Redis in production: shared by every
    process); fails open."""
    now = time.time()
    window = int(now // THROTTLE_WINDOW)
    name = f"leak-reports:{throttle_address(client)}:{window}"
    try:
        count = 1 if cache.add(name, 1, timeout=THROTTLE_WINDOW + 5) else cache.incr(name)
    except ValueError:  # expired between add() and incr()
        count = 1
    except Exception as exc:  # cache down: reports still work
        logger.warning("Leak reports: cache unavailable (%s); not counting", type(exc).__name__)
        return
    if count > settings.LEAK_REPORTS_PER_MINUTE:
        raise ReportThrottled(max(1, math.ceil((window + 1) * THROTTLE_WINDOW - now)))
