"""Docs that cannot drift (issue #27): every environment variable read through keys_console/env.py
is named in the first column of the README's configuration table, and every variable that table
names is read somewhere. Variables are found in the code itself: a call to one of env.py's readers
(`env_str`, `env_int`, … any `env_*` it defines) whose first argument is the variable's name.

When this fails, its message says which variable is missing where: add a row to the table in
README.md (section "Configuration": | `NAME` | default | meaning |), or drop a row nothing reads.
"""

import ast
import re
from pathlib import Path

from keys_console import env

REPO = Path(__file__).resolve().parents[1]
SKIPPED_DIRS = {".venv", ".tools", "tests", "node_modules", ".git", "test-artifacts", "build", "dist"}
READERS = {name for name in dir(env) if name.startswith("env_") and callable(getattr(env, name))}
NAME = re.compile(r"`([A-Z][A-Z0-9_]+)`")


def variables_read() -> dict[str, str]:
    """{variable: "path:line" of its first read} for every env.py reader called with a literal name."""
    found: dict[str, str] = {}
    for path in sorted(REPO.rglob("*.py")):
        relative = path.relative_to(REPO)
        if SKIPPED_DIRS & set(relative.parts[:-1]):
            continue
        tree = ast.parse(path.read_text(), filename=str(relative))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            function = node.func
            called = function.id if isinstance(function, ast.Name) else getattr(function, "attr", None)
            first = node.args[0]
            if called in READERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.setdefault(first.value, f"{relative}:{node.lineno}")
    return found


def table_rows() -> dict[str, int]:
    """{variable: README line} for every variable in the first column of the configuration table."""
    lines = (REPO / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "## Configuration")
    named: dict[str, int] = {}
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        if line.startswith("## "):
            break
        if line.startswith("|"):
            first_cell = line.split("|")[1]
            for variable in NAME.findall(first_cell):
                named.setdefault(variable, number)
    return named


def test_the_scan_finds_the_readers_and_the_table():
    read, table = variables_read(), table_rows()
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"} <= set(read)
    assert {"DATABASE_URL", "REDIS_URL"} <= set(table)
    assert {"env_str", "env_int", "env_bool", "env_url"} <= READERS


def test_every_variable_read_is_in_the_readme_table():
    table = table_rows()
    missing = {name: where for name, where in variables_read().items() if name not in table}
    assert not missing, "README.md's configuration table (section Configuration) has no row for: " + "; ".join(
        f"{name} (read at {where})" for name, where in sorted(missing.items())
    )


def test_every_variable_in_the_readme_table_is_read():
    read = variables_read()
    stale = {name: line for name, line in table_rows().items() if name not in read}
    assert not stale, (
        "README.md's configuration table names variables that nothing reads through keys_console/env.py: "
        + "; ".join(f"{name} (README.md:{line})" for name, line in sorted(stale.items()))
    )
