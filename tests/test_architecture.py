"""The code's shape, checked by walking its imports and definitions with ``ast`` (ARCHITECTURE.md).

- Layers only point down: accounts, customers, products ← events ← insights ← ml, alerts. The project
  package's base modules (settings, env, …) sit below every app; its wiring modules (urls, asgi,
  routing, celery, wsgi, admin site) sit above them all.
- No import circle between modules (imports inside functions count: a lazy import is still a
  dependency).
- No module over ~400 lines and no function over ~50 (migrations, tests and bench aside).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("analytics_site", "accounts", "customers", "products", "events", "insights", "experiments", "ml", "demostore",
        "alerts", "reports")
# demostore (the instrumented demo shop) reads products and its ingest key: beside insights.
LAYER = {"accounts": 1, "customers": 1, "products": 1, "events": 2, "insights": 3, "demostore": 3,
         "experiments": 4, "alerts": 4, "reports": 4, "ml": 5}
# The project package itself (its __init__ loads the Celery app) and its wiring modules.
WIRING = {"analytics_site", "analytics_site.urls", "analytics_site.asgi", "analytics_site.routing",
          "analytics_site.celery", "analytics_site.wsgi", "analytics_site.admin_site", "analytics_site.apps"}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            found[_module_name(path)] = path
    return found


SOURCES = _sources()


def _layer(module: str) -> int:
    if module in WIRING:
        return 9
    app = module.split(".")[0]
    return LAYER.get(app, 0)


def _resolve(name: str) -> str | None:
    """The project module a dotted import name refers to (the longest known prefix)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in SOURCES:
            return candidate
        parts.pop()
    return None


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import mod`` depends on pkg.mod when that is a module, else on pkg.
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in SOURCES else base for alias in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                out.add(target)
    return out


GRAPH = {module: _imports(module, path) for module, path in SOURCES.items()}


def test_layers_only_import_downwards():
    wrong = sorted(f"{m} imports {t}" for m, targets in GRAPH.items() for t in targets if _layer(t) > _layer(m))
    assert wrong == []


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in GRAPH:
        if start in index:
            continue
        work = [(start, iter(sorted(GRAPH[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(GRAPH[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_no_import_circles():
    assert _cycles() == []


def _function_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    lines = node.end_lineno - node.lineno + 1  # type: ignore[operator]
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        lines -= first.end_lineno - first.lineno + 1  # type: ignore[operator]
    return lines


def test_modules_and_functions_stay_small():
    too_long = []
    for module, path in sorted(SOURCES.items()):
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{module}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and _function_lines(node) > MAX_FUNCTION_LINES:
                too_long.append(f"{module}.{node.name}: {_function_lines(node)} lines")
    assert too_long == []


def test_the_walk_sees_the_project():
    """Guards the checks above against passing vacuously."""
    assert {"events.services", "insights.services", "ml.services"} <= set(SOURCES)
    assert any(GRAPH[m] for m in SOURCES)
