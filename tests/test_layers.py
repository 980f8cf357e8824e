"""The apps' layers, checked by reading the source (docs/architecture.md draws them):

    keys_console (settings, urls: the composition root)
      └─ api → webhooks → keys → projects → accounts → keys_console's helpers (env, client_ip, ...)

An app may import from its own layer and the layers below, never from one above; and no two
modules import each other, directly or through others (imports inside functions count too,
`if TYPE_CHECKING:` ones do not: they never run)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ["keys_console", "accounts", "projects", "keys", "webhooks", "api"]
# The composition root sits above everything; keys_console's other modules are shared helpers below.
TOP = {"keys_console.settings", "keys_console.urls", "keys_console.wsgi", "keys_console.asgi"}
RANK = {"accounts": 1, "projects": 2, "keys": 3, "webhooks": 4, "api": 5}


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


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `module` imports (resolved to modules, not names inside them)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skipped = {
        id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node) for n in ast.walk(node)
    }
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
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
