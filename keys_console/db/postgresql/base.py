"""Django's PostgreSQL backend with a connection health check that needs no round trip.

Persistent connections (`CONN_MAX_AGE`) must not outlive the server: after a PostgreSQL restart a
worker would otherwise try its dead connection, answer 503 once, and only then reconnect. Django's
`CONN_HEALTH_CHECKS` guards against that with a `SELECT 1` before the first query of every request:
one more round trip and one more PostgreSQL transaction per request, as many as the API's data
queries themselves (docs/performance.md).

This backend keeps the health check and makes it free: a connection at rest has nothing to read.
When the server goes away (restart, `pg_terminate_backend`, `idle_session_timeout`, a crashed
backend) it sends a FATAL error and closes the socket, or the kernel closes it; either way the
socket becomes readable, and `poll()` with a zero timeout sees it without sending anything. A
connection psycopg already knows to be closed or broken is unusable too. What this cannot see (a
silent network partition) fails the next query instead; Django then marks the connection as having
had errors and closes it at the end of that request (`close_if_unusable_or_obsolete`), so the
worker reconnects on its next request, with no process restart either way.

Subclassing a built-in backend is the documented way to change its behaviour
(https://docs.djangoproject.com/en/stable/ref/databases/#subclassing-the-built-in-database-backends);
`is_usable()` is the backend hook Django calls for its health checks.
"""

import select

from django.db.backends.postgresql import base
from psycopg import pq

_BAD_EVENTS = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        conn = self.connection
        if conn is None or conn.closed or conn.broken:
            return False
        if conn.pgconn.status != pq.ConnStatus.OK:
            return False
        if conn.info.transaction_status == pq.TransactionStatus.INERROR:
            return False
        try:
            poller = select.poll()
            poller.register(conn.fileno(), _BAD_EVENTS)
            # Anything to read on an idle connection is the server speaking unasked (a FATAL
            # before it hangs up, or the hang-up itself): treat the connection as dead.
            return not poller.poll(0)
        except (OSError, ValueError):
            return False
