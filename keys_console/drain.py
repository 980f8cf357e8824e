"""Whether this web host is draining: stopping soon, so `/healthz` answers 503 while it still serves.

One byte of memory shared by gunicorn's master and every worker it forks (an anonymous shared
mapping made when the master imports this module through `keys_console/gunicorn_conf.py`): the
master sets it on SIGTERM, and each worker's `/healthz` reads it, with no file, no signal to the
workers and no system call. Outside gunicorn (runserver, tests) it is this process's own flag.
"""

import logging
import mmap

_flag = mmap.mmap(-1, 1)  # MAP_SHARED | MAP_ANONYMOUS: the same page in every forked child


def start() -> None:
    """From now on `/healthz` says this host is draining (503)."""
    _flag[0] = 1


def stop() -> None:
    """Serve as usual again (tests; a drain is otherwise never called off)."""
    _flag[0] = 0


def draining() -> bool:
    return _flag[0] == 1


class DrainAnswers(logging.Filter):
    """Keeps Django's "Service Unavailable: /healthz" error line out of the log while draining.

    A draining host answers 503 on purpose (the balancer is meant to take it out), three or four
    times per drain: logged at ERROR (and sent to Sentry, where it is on), the expected answer looked
    like an incident. Attached to the `django.request` logger (settings.LOGGING), whose records carry
    the request and the status code; a 503 of `/healthz` for a failing database is still logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != 503 or not draining():
            return True
        match = getattr(getattr(record, "request", None), "resolver_match", None)
        return getattr(match, "url_name", None) != "healthz"
