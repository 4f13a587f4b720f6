"""The documentation keeps up with the code.

Fails when a URL route (HTTP or WebSocket), a management command of our apps or an environment
variable the settings (or the run scripts) read is missing from ``docs/``; when a docs page cannot
be reached from README.md; when a relative link in README.md, CHANGELOG.md or ``docs/`` (or a
``docs/…md#anchor`` link in the product code) points to a missing file or heading; and when the
README grows past a page or the docs speak of history instead of the product.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import get_commands
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
CHANGELOG = ROOT / "CHANGELOG.md"
CONFIGURATION = DOCS / "configuration.md"
# settings.py and the feature modules it star-imports (settings_<feature>.py)
SETTINGS_FILES = sorted((ROOT / "analytics_site").glob("settings*.py"))
OUR_APPS = ("accounts", "customers", "products", "events", "insights", "ml", "demostore", "analytics_site")
PRODUCT_DIRS = OUR_APPS + ("templates", "static", "scripts", "bench")
ENV_METHODS = {"str", "bool", "int", "float", "list", "optional"}
README_MAX_LINES = 150
FORBIDDEN = re.compile(r"DESIGN §|\bissue \d|\bround \d", re.IGNORECASE)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_LINK = re.compile(r"(?<![\w/.-])docs/([\w./-]+\.md)(?:#([\w-]+))?")  # not inside a URL


# --- reading the docs ------------------------------------------------------------------------

def _doc_pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def _all_markdown() -> list[Path]:
    return [README, CHANGELOG, *_doc_pages()]


def _without_fences(text: str) -> str:
    """Markdown with fenced code blocks blanked (a ``#`` line in them is no heading)."""
    return re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.MULTILINE | re.DOTALL)


def _without_code(text: str) -> str:
    """Markdown with fenced code blocks and inline code spans blanked (their brackets are not links)."""
    return re.sub(r"`[^`\n]*`", "``", _without_fences(text))


def _links(path: Path) -> list[str]:
    return LINK.findall(_without_code(path.read_text(encoding="utf-8")))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: rendered text, lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").replace("&lt;", "").replace("&gt;", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for line in _without_fences(path.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        slug = _slug(match.group(1))
        n = seen.get(slug, 0)
        anchors.add(slug if n == 0 else f"{slug}-{n}")
        seen[slug] = n + 1
    return anchors


def _docs_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in _doc_pages())


# --- routes ----------------------------------------------------------------------------------

def _pattern_text(pattern: object) -> str:
    if isinstance(pattern, RegexPattern):
        text = str(pattern.regex.pattern).lstrip("^").rstrip("$").replace("\\Z", "")
        return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", text)
    return str(pattern)


def _walk(patterns: list, prefix: str = "") -> Iterator[str]:
    for entry in patterns:
        here = prefix + _pattern_text(entry.pattern)
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                yield here  # Django admin's own per-model routes are generated, not ours to document
                continue
            yield from _walk(entry.url_patterns, here)
        elif isinstance(entry, URLPattern):
            yield here


def _http_routes() -> list[str]:
    return sorted({"/" + route for route in _walk(get_resolver().url_patterns)})


def _websocket_routes() -> list[str]:
    from analytics_site import routing

    lists = [value for name, value in vars(routing).items() if name.endswith("urlpatterns") and isinstance(value, list)]
    assert lists, "analytics_site.routing names no WebSocket url patterns"
    return sorted({"/" + route for patterns in lists for route in _walk(patterns)})


def _normalised(text: str) -> str:
    """Path parameters in any spelling (``<int:pk>``, ``<id>``, ``&lt;slug&gt;``) become ``<>``."""
    text = re.sub(r"&lt;[^&\s]*?&gt;", "<>", text)
    return re.sub(r"<[^<>\s]*(?: [^<>\s]+)*>", "<>", text)


def _documented(route: str, docs: str) -> bool:
    needle = re.escape(_normalised(route))
    return re.search(rf"(?<![\w/<>.-]){needle}(?![\w/<>-])", docs) is not None


@pytest.mark.parametrize("kind", ["http", "websocket"])
def test_every_url_route_is_documented(kind):
    routes = _http_routes() if kind == "http" else _websocket_routes()
    assert routes
    docs = _normalised(_docs_text())
    missing = [route for route in routes if not _documented(route, docs)]
    assert not missing, f"{kind} routes missing from docs/ (add them to docs/api.md): {missing}"


# --- management commands ---------------------------------------------------------------------

def test_every_management_command_is_documented():
    ours = sorted(name for name, app in get_commands().items() if app.rsplit(".", 1)[-1] in OUR_APPS)
    assert "import_events" in ours  # the walk found our apps' commands
    docs = _docs_text()
    missing = [name for name in ours if not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", docs)]
    assert not missing, f"management commands missing from docs/ (add them to docs/commands.md): {missing}"


# --- environment variables -------------------------------------------------------------------

def _is_env_call(node: ast.Call) -> bool:
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr in ENV_METHODS
            and isinstance(func.value, ast.Name) and func.value.id == "env")


def _is_os_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "environ"
            and isinstance(node.value, ast.Name) and node.value.id == "os")


def _forwarders(tree: ast.Module) -> dict[str, int]:
    """Functions that pass one of their parameters to ``env.<method>`` as the name: function → position."""
    out: dict[str, int] = {}
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef):
            continue
        params = [a.arg for a in fn.args.args]
        for node in ast.walk(fn):
            if (isinstance(node, ast.Call) and _is_env_call(node) and node.args
                    and isinstance(node.args[0], ast.Name) and node.args[0].id in params):
                out[fn.name] = params.index(node.args[0].id)
    return out


def _constant(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def settings_env_names() -> set[str]:
    """Every environment variable ``analytics_site/settings*.py`` reads: ``env.<method>("NAME", …)``,
    ``os.environ[...]`` / ``os.environ.get`` / ``os.getenv``, and calls of local helpers that pass a
    name on to ``env``."""
    names: set[str] = set()
    for path in SETTINGS_FILES:
        names |= _env_names(ast.parse(path.read_text(encoding="utf-8")))
    return names


def _env_names(tree: ast.Module) -> set[str]:
    forwarders = _forwarders(tree)
    names: set[str] = set()
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if _is_env_call(node) or (isinstance(func, ast.Attribute) and func.attr in ("get", "setdefault", "pop")
                                      and _is_os_environ(func.value)):
                name = _constant(node.args[0])
            elif isinstance(func, ast.Attribute) and func.attr == "getenv":
                name = _constant(node.args[0])
            elif isinstance(func, ast.Name) and func.id in forwarders and len(node.args) > forwarders[func.id]:
                name = _constant(node.args[forwarders[func.id]])
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            name = _constant(node.slice)
        if name:
            names.add(name)
    return names


def script_env_names() -> set[str]:
    """Variables ``make run``'s scripts and the compose file take from the environment (``${NAME:-…}``)."""
    names: set[str] = set()
    for path in [*sorted((ROOT / "scripts").glob("*.sh")), ROOT / "docker-compose.yml"]:
        names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):?[-?=+]", path.read_text(encoding="utf-8")))
    return names


def _configuration_names() -> set[str]:
    """Names in the first column of the tables in docs/configuration.md."""
    names: set[str] = set()
    for line in CONFIGURATION.read_text(encoding="utf-8").splitlines():
        if line.startswith("|"):
            first = line.strip("|").split("|", 1)[0]
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]*)`", first))
    return names


def test_settings_env_parser_finds_what_settings_read():
    names = settings_env_names()
    # one of each kind of read: env.str, env.optional, env.bool, env.int, env.float, env.list, a helper
    assert {"LOCAL_DIR", "SECRET_KEY", "DEBUG", "CONN_MAX_AGE", "INGEST_RATE_LIMIT", "ALLOWED_HOSTS",
            "LOG_LEVEL", "LOG_CONSOLE_LEVEL"} <= names


@pytest.mark.parametrize("source", ["settings", "scripts"])
def test_every_environment_variable_is_in_the_configuration_table(source):
    names = settings_env_names() if source == "settings" else script_env_names()
    assert names
    missing = sorted(names - _configuration_names())
    assert not missing, f"environment variables missing from the table in docs/configuration.md: {missing}"


# --- pages and links -------------------------------------------------------------------------

def _relative_targets(path: Path) -> Iterator[tuple[str, Path, str | None]]:
    for link in _links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", link, re.IGNORECASE):  # http:, https:, mailto:
            continue
        target, _, anchor = link.partition("#")
        yield link, (path.parent / target).resolve() if target else path, anchor or None


def test_every_docs_page_is_reachable_from_the_readme():
    linked = set()
    for source in (README, DOCS / "README.md"):
        linked |= {target for _link, target, _anchor in _relative_targets(source)}
    assert DOCS / "README.md" in linked, "README.md must link docs/README.md"
    unreachable = [str(p.relative_to(ROOT)) for p in _doc_pages() if p not in linked]
    assert not unreachable, f"docs pages linked neither from README.md nor from docs/README.md: {unreachable}"


def test_every_relative_link_resolves():
    broken = []
    for path in _all_markdown():
        for link, target, anchor in _relative_targets(path):
            if not target.exists():
                broken.append(f"{path.relative_to(ROOT)}: {link} (no such file)")
            elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
                broken.append(f"{path.relative_to(ROOT)}: {link} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def _product_files() -> Iterator[Path]:
    for top in PRODUCT_DIRS:
        for path in sorted((ROOT / top).rglob("*")):
            if path.suffix in {".py", ".html", ".js", ".sh", ".css", ".txt"} and "migrations" not in path.parts:
                yield path


def test_links_from_the_code_into_the_docs_resolve():
    broken = []
    for path in _product_files():
        for page, anchor in CODE_LINK.findall(path.read_text(encoding="utf-8", errors="replace")):
            target = DOCS / page
            if not target.is_file():
                broken.append(f"{path.relative_to(ROOT)}: docs/{page} (no such page)")
            elif anchor and anchor not in _anchors(target):
                broken.append(f"{path.relative_to(ROOT)}: docs/{page}#{anchor} (no such heading)")
    assert not broken, "links from the code into docs/ that do not resolve:\n" + "\n".join(broken)


def test_readme_fits_on_a_page():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; keep it to {README_MAX_LINES} and link docs/"


def test_docs_speak_of_the_product_not_its_history():
    found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
             for p in _all_markdown()
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if FORBIDDEN.search(line)]
    assert not found, "history markers in the docs (describe it by date or version):\n" + "\n".join(found)


def test_the_anchor_rule_is_githubs():
    assert _slug("Segment's analytics.js") == "segments-analyticsjs"
    assert _slug("Changing `SECRET_KEY`") == "changing-secret_key"
    assert _slug("Accounts, admin and service routes") == "accounts-admin-and-service-routes"
    assert _normalised("/customers/<int:pk>/") == _normalised("/customers/<id>/") == "/customers/<>/"
