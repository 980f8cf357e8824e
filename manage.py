#!/usr/bin/env python
"""Django's command-line entry point, made to work as written in the README.

- Any `python` will do: when Django is not importable (pyenv's or the system's interpreter) and the
  checkout has a `.venv` (`make run` made it), the command runs again with `.venv/bin/python`.
- Development by default, as `make run`: with neither SECRET_KEY nor DEBUG in the environment and
  the embedded SQLite database, manage.py runs with DEBUG=1 (a production shell has its SECRET_KEY
  and a server database; the WSGI entry point, keys_console/wsgi.py, keeps the production default
  DEBUG=0 whatever the environment lacks).
"""

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
VENV = BASE_DIR / ".venv"


def development_default(environ) -> str | None:
    """The DEBUG value manage.py adds to `environ`, or None when the environment decides: only on
    the embedded SQLite database (`make run`'s), never against a server database, where a shell
    without SECRET_KEY gets the production profile's refusal instead of development settings."""
    if "SECRET_KEY" in environ or "DEBUG" in environ:
        return None
    if environ.get("DATABASE_URL", "sqlite:").split(":", 1)[0] != "sqlite":
        return None
    return "1"


def run_in_project_venv() -> None:
    """Re-run this command with the checkout's .venv when this interpreter has no Django."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve() or not python.exists():
        sys.exit(
            f"Django is not installed for {sys.executable}. Run `make run` (or `make venv`) in {BASE_DIR} "
            "first: it creates .venv, which manage.py then uses by itself."
        )
    os.execv(python, [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


def main() -> None:
    try:
        import django  # noqa: F401
    except ImportError:
        run_in_project_venv()
    debug = development_default(os.environ)
    if debug is not None:
        os.environ["DEBUG"] = debug
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keys_console.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
