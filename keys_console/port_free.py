"""`make run`'s first step: is the port free? (Standard library only: it runs before .venv exists.)

python keys_console/port_free.py 8000   → exit 0, or a sentence naming PORT and exit 1
"""

import socket
import sys


def port_problem(port: str, host: str = "127.0.0.1") -> str | None:
    """Why `make run` cannot serve on `port`, or None when it can."""
    if not port.isdigit() or not 0 < int(port) < 65536:
        return f"PORT={port!r} is not a port number (1-65535): e.g. PORT=8123 make run"
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, int(port)))
        except OSError:
            return f"Port {port} on {host} is in use: serve on another one with PORT, e.g. PORT=8123 make run"
    return None


if __name__ == "__main__":
    problem = port_problem(sys.argv[1] if len(sys.argv) > 1 else "")
    if problem:
        sys.exit(problem)
