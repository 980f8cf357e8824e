"""The test suite's own child processes (redis-server, HAProxy, PgBouncer, an OpenID provider)."""

from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen | None, grace: float = 5) -> None:
    """Stop a child process the suite started: SIGTERM, `grace` seconds to finish, then SIGKILL.
    Waits for it either way, so that no zombie and no listening port outlives the test."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
