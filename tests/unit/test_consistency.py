"""Cross-file promises: pyscript.toml loads every app module and wheel, the browser loads
nothing from outside, pure modules stay pure, and README's commands really exist."""

import ast
import re
import tomllib
from pathlib import Path

import pytest

from app.version import __version__

ROOT = Path(__file__).resolve().parents[2]
PURE_MODULES = ["app/version.py", "app/errors.py", "app/model.py", "app/schema.py",
                "app/recipe.py", "app/pngmeta.py", "app/timeline.py"]
BROWSER_ONLY_IMPORTS = {"js", "pyodide", "pyodide_js", "pyscript"}
# XML namespace names are identifiers, not addresses the browser fetches.
HARMLESS_URLS = {"http://www.w3.org/2000/svg"}
BINARY_SUFFIXES = {".png"}  # pixels, not text: nothing in them is fetched


def pyscript_files() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyscript.toml").read_text())["files"]


def browser_modules() -> set[str]:
    """app/**/*.py: everything the page may import (server code lives in proxy/)."""
    return {f"./{p.relative_to(ROOT).as_posix()}" for p in (ROOT / "app").rglob("*.py")}


def test_every_app_module_is_listed_in_pyscript_toml():
    on_disk = browser_modules()
    listed = {src for src in pyscript_files() if src.startswith("./app/")}
    assert on_disk == listed


def test_listed_app_modules_keep_their_path_in_the_virtual_file_system():
    for source, target in pyscript_files().items():
        if source.startswith("./app/"):
            assert source == target


def test_every_browser_wheel_is_unpacked_at_boot():
    pinned = [line.split("==")[0].strip().replace("-", "_") for line in
              (ROOT / "requirements-browser.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    wheels = {src: dst for src, dst in pyscript_files().items() if src.endswith(".whl")}
    assert wheels == {f"./static/vendor/wheels/{name}.whl": "./*" for name in pinned}


def test_interpreter_is_the_vendored_pyodide():
    config = tomllib.loads((ROOT / "pyscript.toml").read_text())
    assert config["interpreter"] == "./static/vendor/pyodide/pyodide.mjs"
    assert "packages" not in config  # would pull micropip from a CDN


def browser_loaded_sources():
    yield ROOT / "index.html"
    yield ROOT / "pyscript.toml"
    yield from (ROOT / module for module in sorted(browser_modules()))
    yield from (p for p in (ROOT / "static").rglob("*") if p.is_file() and "vendor" not in p.parts
                and p.suffix not in BINARY_SUFFIXES)


@pytest.mark.parametrize("path", list(browser_loaded_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_external_url_in_what_the_browser_loads(path):
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'<>)]*", path.read_text()))
    assert urls <= HARMLESS_URLS


def test_index_loads_pyscript_from_the_vendor_folder():
    html = (ROOT / "index.html").read_text()
    assert '<script type="module" src="static/vendor/pyscript/core.js">' in html
    assert 'data-app-state="loading"' in html


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_modules_import_nothing_from_the_browser(module):
    tree = ast.parse((ROOT / module).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & BROWSER_ONLY_IMPORTS


def test_version_is_one_value_everywhere():
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    assert f'version = "{__version__}"' in (ROOT / "pyproject.toml").read_text()
    assert f'"version": "{__version__}"' in (ROOT / "package.json").read_text()


def test_readme_commands_are_make_targets_and_ci_runs_the_same_one():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for command in ("make run", "make test", "make bench"):
        assert command in readme
        assert re.search(rf"^{command.split()[1]}:", makefile, re.M)
    assert re.search(r"^\s*make test\s*$", (ROOT / ".ci/run").read_text(), re.M)


def test_every_module_says_what_it_owns():
    for path in [*(ROOT / "app").rglob("*.py"), *(ROOT / "proxy").rglob("*.py"), ROOT / "server.py"]:
        assert ast.get_docstring(ast.parse(path.read_text())), path


@pytest.mark.parametrize("path", sorted((ROOT / "bench").glob("*.py")), ids=lambda p: p.name)
def test_benchmark_scripts_compile(path):
    """A SyntaxError in a benchmark raises here instead of at `make bench` time."""
    code = compile(path.read_text(), str(path), "exec")
    assert code.co_filename == str(path) and code.co_consts


def test_test_files_have_unique_names():
    """pytest's default import mode cannot collect two test modules with the same file name."""
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert sorted(set(names)) == sorted(names)
