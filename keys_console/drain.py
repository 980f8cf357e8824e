"""Whether this web host is draining: stopping soon, so `/healthz` answers 503 while it still serves.

One byte of memory shared by gunicorn's master and every worker it forks (an anonymous shared
mapping made when the master imports this module through `keys_console/gunicorn_conf.py`): the
master sets it on SIGTERM, and each worker's `/healthz` reads it, with no file, no signal to the
workers and no system call. Outside gunicorn (runserver, tests) it is this process's own flag.
"""

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
