"""The code's layout: one app per concern, imports one way, no circles.

No cap on a module's length: a module splits when it does two jobs, as
Django's own do, not when it passes a number of lines."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from testsupport.servers import ROOT

APPS = ("config", "core", "accounts", "audit", "mfa", "signin", "health")
# Who may import whom (besides itself): signin -> mfa -> audit -> accounts -> config;
# health -> config; core, the small shared pieces, imports no app and every app
# may import it. Only these modules of config import the apps.
MAY_IMPORT = {
    "signin": {"mfa", "audit", "accounts", "core", "config"},
    "mfa": {"audit", "accounts", "core", "config"},
    "audit": {"accounts", "core", "config"},
    "accounts": {"core", "config"},
    "health": {"core", "config"},
    "core": set(),
    "config": set(),
}
CONFIG_DOORS = {"config/urls.py", "config/api.py", "config/wsgi.py"}


def production_modules() -> list[Path]:
    return sorted(
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "tests" not in path.parts and "migrations" not in path.parts
    )


def imported(path: Path) -> set[str]:
    """Every project module `path` imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name.split(".")[0] in APPS}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize(
    "path", production_modules(), ids=lambda p: str(p.relative_to(ROOT))
)
def test_imports__go_one_way(path):
    app = path.relative_to(ROOT).parts[0]
    allowed = MAY_IMPORT[app] | {app}
    if str(path.relative_to(ROOT)) in CONFIG_DOORS:
        allowed = set(APPS)
    assert {name.split(".")[0] for name in imported(path)} <= allowed


def test_no_import_circles():
    modules = {module_name(path): path for path in production_modules()}
    graph = {
        name: {m for m in imported(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    state: dict[str, str] = {}

    def visit(name, trail):
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", " -> ".join([*trail, name])
        state[name] = "open"
        for other in sorted(graph[name]):
            visit(other, [*trail, name])
        state[name] = "done"

    for name in sorted(graph):
        visit(name, [])


# An admin URL name, `admin:<app label>_<model>_<view>`, in code or a template.
ADMIN_URL = re.compile(r"admin:([a-z]+)_[a-z]+_[a-z]+")


@pytest.mark.parametrize(
    "path",
    [
        *production_modules(),
        *sorted(p for app in APPS for p in (ROOT / app).rglob("templates/**/*.html")),
    ],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_admin_links__go_the_same_way_as_imports(path):
    """A page may link to another app's admin only where its code may import it:
    accounts' admin does not know the audit trail's URLs (audit adds its link)."""
    app = path.relative_to(ROOT).parts[0]
    linked = set(ADMIN_URL.findall(path.read_text())) & set(APPS)
    assert linked <= MAY_IMPORT[app] | {app}


def test_bench__imports_no_test_module():
    for path in (ROOT / "bench").rglob("*.py"):
        assert not any(m.split(".")[0] == "tests" for m in _all_imports(path)), path


def test_test_support__imports_neither_the_tests_nor_bench():
    """bench/ and the tests import the harness, never the other way round."""
    for path in (ROOT / "testsupport").rglob("*.py"):
        imports = _all_imports(path)
        assert not any(m.split(".")[0] in {"tests", "bench"} for m in imports), path


def _all_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names
