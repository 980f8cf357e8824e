"""Repeated failures folded into one log line per minute, so a flood cannot decide how much is logged.

The request log (`keys_console.observability.RequestIdMiddleware`) writes one line per request,
except for failures (status >= 400) that repeat: the first failure of a *kind* in a minute is
logged as usual; the next ones of that kind in the same minute are only counted, and once the
minute is over one line reports the count (`"folded": 9999`). A kind is (who, status, error code):
who is the API key's Key ID when the request authenticated, else the client address (an IPv6
client's /64: `client_ip.throttle_address`). So 10,000 identical bad-key requests from one
address write 2 lines, while every success still writes its line. Every failure line carries the
client address (`client`).

The counts live in the worker process (no shared state, no I/O): with gunicorn -w N a flood can
write up to N first lines and N summaries per minute and kind. A summary is written by the next
request the worker handles after its minute ended (a worker that stops loses its last minute's
counts). At most MAX_KINDS kinds are kept per minute; a new kind past that pushes out the
oldest one (whose count, if it has one, is written at once as its summary line). So the first
failure of every kind is written, with its client address, whatever the table holds: 10,000 /64s
sending one 401 each cannot blind the log to the next brute force or a leaked key's refusal
(issue #27, finding 9); memory stays bounded; and a flood writes at most one line per kind it
pushes through the table (an attacker needs a fresh /64 or key for each line).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

WINDOW_SECONDS = 60
MAX_KINDS = 10_000

Kind = tuple[str, int, str]  # (who, status, error code or "")


@dataclass(frozen=True)
class Fold:
    """`count` failures of `kind` that were not logged one by one, in the minute from `window_start`."""

    kind: Kind
    count: int
    window_start: int  # epoch seconds


class FailureFolds:
    def __init__(self, window_seconds: int = WINDOW_SECONDS, max_kinds: int = MAX_KINDS):
        self.window_seconds = window_seconds
        self.max_kinds = max_kinds
        self._window = -1
        self._counts: dict[Kind, int] = {}  # kind -> failures not logged (0: only the first, logged)
        self._lock = threading.Lock()

    def record(self, kind: Kind | None, now: float) -> tuple[bool, list[Fold]]:
        """Note a request at `now`: a failure of `kind`, or a success (None). Returns whether to log
        it (a success, or the first failure of its kind this minute) and the folds of a minute that
        ended since the last call (empty almost always)."""
        window = int(now // self.window_seconds)
        if kind is None and window == self._window:
            return True, []  # a success in the current minute: one comparison, no lock
        with self._lock:
            ended = self._roll(window) if window != self._window else []
            if kind is None:
                return True, ended
            count = self._counts.get(kind)
            if count is None:
                if len(self._counts) >= self.max_kinds:  # the oldest kind makes room (dicts keep order)
                    oldest = next(iter(self._counts))
                    pushed = self._counts.pop(oldest)
                    if pushed:
                        ended = [*ended, Fold(oldest, pushed, self._window * self.window_seconds)]
                self._counts[kind] = 0
                return True, ended
            self._counts[kind] = count + 1
            return False, ended

    def _roll(self, window: int) -> list[Fold]:
        start = self._window * self.window_seconds
        folds = [Fold(kind, count, start) for kind, count in self._counts.items() if count]
        self._window = window
        self._counts = {}
        return folds
