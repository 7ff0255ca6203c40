"""The layout's rules, checked on the source (docs/design.md, "Layout"): which package may import
which, that only app/store touches IndexedDB, that the zip layer knows no backup policy, and that
the pure core is derived by scanning (a module is pure if and only if nothing it imports, directly
or through other app modules, is `js`, `pyodide` or `pyscript`), then imported under CPython."""

from __future__ import annotations

import ast
import importlib
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROWSER_ONLY = {"js", "pyodide", "pyodide_js", "pyscript"}

# Which package may import which (lazy imports inside functions count too). A new edge is a
# design change: add it here and to docs/design.md, or move the code.
ALLOWED = {
    "app.core": set(),
    "app.store": {"app.core", "app.backup.merge"},  # the store applies the (pure) import plan
    "app.render": {"app.core"},
    "app.generation": {"app.core", "app.store", "app.render"},
    "app.backup": {"app.core", "app.store"},
    "app.ui.parts": {"app.core", "app.store", "app.generation", "app.backup", "app.render"},
    "app.ui.views": {"app.core", "app.ui.parts"},
    "app.ui": {"app.core", "app.generation", "app.ui.parts", "app.ui.views"},
    "app.startup": {"app.core", "app.store", "app.generation", "app.ui"},
    "app.main": {"app.startup", "app.core.codecache"},  # the code table, before any dataclass
    "app": {"app.core"},
}


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


MODULES = {module_name(p): p for p in sorted((ROOT / "app").rglob("*.py"))}


@cache
def imports_of(module: str) -> frozenset[str]:
    """Every module `module` imports (top level or inside a function), as full dotted names; a
    `from package import name` counts as importing `package.name` when that is a module."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names
                      if f"{node.module}.{alias.name}" in MODULES}
    return frozenset(found)


def layer_of(module: str) -> str:
    """The ALLOWED key a module belongs to (its longest matching package)."""
    return max((key for key in ALLOWED if module == key or module.startswith(key + ".")), key=len)


@cache
def is_pure(module: str) -> bool:
    """No browser import, directly or through the app modules it imports. Each module is looked
    at once, so an import cycle (source.py's lazy import of a reader that imports source.py
    back) ends."""
    seen, pending = {module}, [module]
    while pending:
        imported = imports_of(pending.pop())
        if {name.split(".")[0] for name in imported} & BROWSER_ONLY:
            return False
        for name in imported:
            if name in MODULES and name not in seen:
                seen.add(name)
                pending.append(name)
    return True


PURE = sorted(m for m in MODULES if is_pure(m))
SAYS_PURE = sorted(m for m in MODULES if "(pure" in (ast.get_docstring(ast.parse(
    MODULES[m].read_text())) or "").split("\n\n")[0])


def test_the_scan_finds_the_pure_core_and_the_browser_edges():
    """Guards the scanner itself: known pure modules are found, known browser modules are not."""
    assert {"app.core.model", "app.core.recipe", "app.backup.manifest", "app.render.timeline"} <= set(PURE)
    assert not {"app.store.idb", "app.store.vault", "app.ui.app", "app.startup"} & set(PURE)
    assert len(SAYS_PURE) >= 10


def test_every_module_whose_docstring_says_pure_is_pure():
    assert [m for m in SAYS_PURE if m not in PURE] == []


@pytest.mark.parametrize("module", PURE)
def test_every_pure_module_imports_under_cpython(module):
    assert importlib.import_module(module).__name__ == module


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("app.core")))
def test_the_core_is_pure(module):
    assert is_pure(module), f"{module} reaches the browser; app/core must import under CPython"


def test_only_the_store_imports_the_indexeddb_adapter():
    importers = sorted(m for m in MODULES if "app.store.idb" in imports_of(m))
    assert importers and all(m.startswith("app.store.") for m in importers), importers


def test_the_zip_layer_imports_no_backup_policy():
    for module in (m for m in MODULES if m.startswith("app.backup.zip")):
        outside = [name for name in imports_of(module)
                   if name.startswith("app.backup") and not name.startswith("app.backup.zip")]
        assert outside == [], f"{module} imports {outside}: pass limits and rules as arguments"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_imports_only_from_the_layers_it_may(module):
    mine = layer_of(module)
    for name in imports_of(module):
        if name not in MODULES and not any(m.startswith(name + ".") for m in MODULES):
            continue  # stdlib, js, pyodide, pyscript
        theirs = layer_of(name)
        if theirs == mine or (name == "app" and module.startswith("app.")):
            continue
        assert theirs in ALLOWED[mine] or any(
            name == allowed or name.startswith(allowed + ".") for allowed in ALLOWED[mine]), (
            f"{module} ({mine}) imports {name} ({theirs}): not an allowed edge")


def test_no_module_sits_outside_a_package_but_the_entry_points():
    loose = sorted(p.name for p in (ROOT / "app").glob("*.py"))
    assert loose == ["__init__.py", "main.py", "startup.py"]


def test_no_dangling_reference_to_a_moved_module():
    """Every `app/....py` path that code, docs, benchmarks and browser tests cite exists (unit
    tests of the build tools make small fake trees, so they are not scanned)."""
    cited = re.compile(r"\bapp/[\w/]+\.py\b")
    sources = [*ROOT.glob("*.md"), *(ROOT / "docs").glob("*.md"), *(ROOT / "app").rglob("*.py"),
               *(ROOT / "tests" / "browser").rglob("*.py"), *(ROOT / "bench").glob("*.py"),
               *(ROOT / "static" / "js").rglob("*.*js")]
    missing = sorted({f"{path.relative_to(ROOT)}: {name}" for path in sources
                      for name in cited.findall(path.read_text())
                      if not (ROOT / name).exists()})
    assert missing == []
