"""The apps' layers, checked by reading the source (docs/architecture.md draws them):

    keys_console (settings, urls: the composition root; base.html, the site's layout)
      └─ api → webhooks → keys → projects → accounts → keys_console's helpers (env, client_ip, ...)

The layers are written once, as import-linter's contract in pyproject.toml (`lint-imports`, run
by `make check` and CI, enforces it on imports). This module reads that list and adds what
import-linter does not see: an app may name another app's URLs (`reverse("ns:name")`,
`{% url 'ns:name' %}`) only if it may import it; every top-level app is placed in the contract;
and no two modules import each other, directly or through others (imports inside functions and
under `if TYPE_CHECKING:` count too: a type-only cycle is still a cycle)."""

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_IMPORTLINTER = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
_LAYERS = next(c for c in _IMPORTLINTER["contracts"] if c["type"] == "layers")["layers"]
APPS = list(_IMPORTLINTER["root_packages"])
# The composition root sits above everything; keys_console's other modules are shared helpers below.
TOP = {"keys_console.settings", "keys_console.urls", "keys_console.wsgi", "keys_console.asgi"}
# From the contract: the first layer is the highest (api: 5, ..., accounts: 1, keys_console: 0).
RANK = {layer: len(_LAYERS) - 1 - i for i, layer in enumerate(_LAYERS)}


def rank(module: str) -> int:
    if module in TOP:
        return 9
    return RANK.get(module.split(".")[0], 0)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            found[_module_name(path)] = path
    return found


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `module` imports (resolved to modules, not names inside them)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):  # every import, `if TYPE_CHECKING:` ones and their `else:` included
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                targets.add(candidate if candidate in known else source)
    resolved = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != module:
            resolved.add(target)
    return resolved


def _graph() -> dict[str, set[str]]:
    sources = _sources()
    known = set(sources)
    return {module: _imports(module, path, known) for module, path in sources.items()}


def test_no_app_imports_from_a_layer_above_it():
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        for target in targets
        if rank(target) > rank(module)
    )
    assert upward == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_between_modules():
    assert _cycles(_graph()) == []


def test_the_checks_see_a_cycle_and_an_upward_import():
    # The walker itself works: a made-up graph with a cycle and an upward edge is caught.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
    graph = _graph()
    assert "keys.models.api_key" in graph["keys.services"]
    assert "projects.models" in graph["keys.services"] or "projects.models.project" in graph["keys.services"]
    assert rank("api.auth") > rank("keys.services") > rank("projects.events") > rank("accounts.models")


def test_the_key_model_lives_in_the_keys_app():
    from django.apps import apps

    assert apps.get_model("keys", "ApiKey").__module__ == "keys.models.api_key"


def test_projects_holds_at_most_a_third_of_the_code():
    def lines(app: str) -> int:
        return sum(
            len(path.read_text().splitlines()) for path in (ROOT / app).rglob("*.py") if "migrations" not in path.parts
        )

    total = sum(lines(app) for app in APPS)
    assert lines("projects") <= total / 3


# Names with one leading underscore that the product may read on objects not its own: Django's
# documented model metadata (`Model._meta`), namedtuple's documented `_replace`, and the
# annotations its own querysets add (projects/admin.py).
PUBLIC_UNDERSCORED = {"_meta", "_replace", "_active_questions", "_keys"}


def _private_uses(source: str) -> list[str]:
    uses = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute) or not node.attr.startswith("_") or node.attr.startswith("__"):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"}:
            continue  # the class's own
        if node.attr not in PUBLIC_UNDERSCORED:
            uses.append(f"{node.lineno}: {ast.unparse(node)}")
    return uses


def test_no_private_name_of_a_framework_is_used():
    """The frameworks are used through their public APIs only: no `_private` attribute of an
    object the product does not own (django-ninja's routers, a model's `_state`, ...)."""
    used = {module: uses for module, path in _sources().items() if (uses := _private_uses(path.read_text()))}
    assert used == {}


def test_the_private_name_check_sees_one():
    assert _private_uses("for r in self.api._get_bound_routers(): pass") == ["1: self.api._get_bound_routers"]
    assert _private_uses("project._state.adding = False") == ["1: project._state"]
    assert _private_uses("self._cache = 1; key._meta.fields") == []


# --- the contract covers every app ---------------------------------------------------------------
def test_every_top_level_app_is_placed_in_the_layer_contract():
    """A new app (a top-level folder with apps.py) must be given its layer in pyproject.toml's
    import-linter contract, or `lint-imports` would not check it."""
    apps = sorted(path.parent.name for path in ROOT.glob("*/apps.py"))
    assert apps and set(apps) <= set(_LAYERS), f"place {sorted(set(apps) - set(_LAYERS))} in [tool.importlinter]"
    assert set(_LAYERS) <= set(APPS) and _LAYERS[-1] == "keys_console"


def test_type_only_imports_count():
    path = ROOT / "tests" / "_layers_probe.py"
    source = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from api import auth\n"
        "else:\n    from keys import services\n"
    )
    try:
        path.write_text(source)
        assert _imports("projects.probe", path, {"api.auth", "keys.services"}) == {"api.auth", "keys.services"}
    finally:
        path.unlink()


# --- URL names are dependencies too --------------------------------------------------------------
_REVERSERS = {"reverse", "reverse_lazy", "redirect", "resolve_url"}
_URL_TAG = re.compile(r"""{%\s*url\s+["']([\w:-]+)["']""")
# Template folders of apps other than their own name (allauth's and django-ninja's overrides).
TEMPLATE_OWNERS = {"account": "accounts", "allauth": "accounts", "mfa": "accounts", "ninja": "api"}


def url_name_owners() -> dict[str, str]:
    """Every URL name ("ns:name" or "name") of the project's apps -> the app whose view serves it."""
    from django.urls import URLPattern, URLResolver, get_resolver

    owners: dict[str, str] = {}

    def walk(patterns, namespace: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                callback = pattern.callback
                module = getattr(callback, "view_class", callback).__module__.split(".")[0]
                if module in RANK:
                    owners.setdefault(f"{namespace}{pattern.name}", module)

    walk(get_resolver().url_patterns, "")
    return owners


def python_url_names(source: str, owners: dict[str, str]) -> set[str]:
    """URL names a Python module uses: a namespaced name anywhere in a string, any name passed to
    reverse(), reverse_lazy(), redirect() or resolve_url()."""
    used = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and ":" in node.value:
            if node.value in owners:
                used.add(node.value)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name in _REVERSERS and node.args[0].value in owners:
                used.add(node.args[0].value)
    return used


def template_layer(path: Path) -> str | None:
    """The app a template belongs to (None: the site's layout, part of the composition root)."""
    parts = path.relative_to(ROOT / "templates").parts
    if len(parts) == 1:
        return None
    folder = parts[1] if parts[0] == "admin" else parts[0]
    return TEMPLATE_OWNERS.get(folder, folder)


def _url_name_references() -> list[tuple[str, str | None, str]]:
    """(who, its layer or None for the composition root, the URL name) for every reference."""
    owners = url_name_owners()
    found = []
    for module, path in _sources().items():
        layer = None if module in TOP else module.split(".")[0]
        found += [(module, layer, name) for name in python_url_names(path.read_text(), owners)]
    for path in sorted((ROOT / "templates").rglob("*.html")) + sorted((ROOT / "templates").rglob("*.txt")):
        for name in _URL_TAG.findall(path.read_text()):
            if name in owners:
                found.append((str(path.relative_to(ROOT)), template_layer(path), name))
    return found


def test_every_template_folder_belongs_to_a_layer():
    folders = {template_layer(p) for p in (ROOT / "templates").rglob("*") if p.is_file()} - {None}
    assert folders <= set(RANK), f"unplaced template folders: {sorted(folders - set(RANK))}"


# Upward URL references still allowed: none (issue #27 removed the last), and none is to be added. A
# lower page that shows a higher app's page has the higher app register it from its
# AppConfig.ready() (projects/tabs.py, accounts/tabs.py, keys/settings_sections.py,
# projects.sandbox.open_new_sandboxes_on), as signals do for events. A new upward reference fails
# the test, and so would an entry here that no longer exists.
KNOWN_UPWARD_URL_REFERENCES: dict[str, str] = {}


def test_no_app_names_the_urls_of_a_layer_above_it():
    """`reverse("project_keys:…")` from projects/ (or `{% url 'project_keys:…' %}` in a projects
    template) depends on keys as surely as an import: the lower layer would break without the higher."""
    owners = url_name_owners()
    upward = {
        (who, f"{name} ({owners[name]})")
        for who, layer, name in _url_name_references()
        if layer is not None and RANK[owners[name]] > RANK[layer]
    }
    assert sorted(u for u in upward if u[0] not in KNOWN_UPWARD_URL_REFERENCES) == []
    assert sorted(set(KNOWN_UPWARD_URL_REFERENCES) - {who for who, _ in upward}) == [], "remove it from the list"


def test_the_url_check_sees_a_reference():
    owners = {"project_keys:list": "keys", "projects:list": "projects"}
    source = 'from django.urls import reverse\nreverse("project_keys:list", args=[1])\nX = "projects:list"\n'
    assert python_url_names(source, owners) == {"project_keys:list", "projects:list"}
    real = url_name_owners()
    assert real["projects:list"] == "projects" and real["project_keys:api_keys"] == "keys"
    assert template_layer(ROOT / "templates" / "projects" / "list.html") == "projects"
    assert template_layer(ROOT / "templates" / "base.html") is None


# --- the docs draw the same apps -----------------------------------------------------------------
def _table_paths(text: str) -> set[str]:
    """The first column's `path/` of every Markdown table row."""
    return set(re.findall(r"^\| `([\w.]+)/`", text, re.MULTILINE))


def test_the_readme_layout_and_the_architecture_name_every_app():
    """README's Layout table and docs/architecture.md's app table have a row for every app (a
    folder with apps.py) and for nothing that does not exist."""
    apps = {path.parent.name for path in ROOT.glob("*/apps.py")}
    readme = (ROOT / "README.md").read_text().split("## Layout", 1)[1]
    layout = _table_paths(readme)
    assert apps <= layout, f"README's Layout table lacks {sorted(apps - layout)}"
    assert all((ROOT / path).is_dir() for path in layout), "README's Layout table names a folder that is gone"
    architecture = _table_paths((ROOT / "docs" / "architecture.md").read_text())
    assert apps - {"keys_console"} <= architecture, f"docs/architecture.md lacks {sorted(apps - architecture)}"
    for app in apps:
        assert f"{app}/" in (ROOT / "docs" / "architecture.md").read_text().split("```")[1], f"{app} not drawn"
