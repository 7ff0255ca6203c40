"""Cross-file promises: pyscript.toml loads every app module (in the app archive) and wheel, the browser loads
nothing from outside, and README's commands really exist."""

import ast
import re
import tomllib
from pathlib import Path

import pytest

from app.core.version import __version__

ROOT = Path(__file__).resolve().parents[2]
# XML namespace names and IPTC vocabulary terms are identifiers written into files, not
# addresses the browser fetches (the SVG namespace; XMP's; the IPTC digital source types).
HARMLESS_URL_PREFIXES = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
                         "http://www.w3.org/XML/1998/namespace",
                         "http://ns.adobe.com/", "http://purl.org/dc/elements/1.1/",
                         "http://iptc.org/std/Iptc4xmpExt/", "http://cv.iptc.org/newscodes/",
                         "https://scenevault.app/ns/")
# Pixels, not text: nothing in them is fetched; and the app archive (static/app.zip), whose
# modules are each checked below as app/**/*.py and whose bytecode is compiled from them.
BINARY_SUFFIXES = {".png", ".zip"}


def pyscript_files() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyscript.toml").read_text())["files"]


def browser_modules() -> set[str]:
    """app/**/*.py: everything the page may import (server code lives in proxy/)."""
    return {f"./{p.relative_to(ROOT).as_posix()}" for p in (ROOT / "app").rglob("*.py")}


def test_every_app_module_reaches_the_page_in_the_archive_or_as_the_entry_script():
    """The app archive (tools/bundle.py) is copied into ./lib/ and put on sys.path by the entry
    script, index.html's <script src>. Together they are every app module."""
    import zipfile

    assert pyscript_files()["./static/app.zip"] == "./lib/app.zip"
    assert '<script type="py" src="app/main.py"' in (ROOT / "index.html").read_text()
    with zipfile.ZipFile(ROOT / "static" / "app.zip") as archive:
        archived = {f"./{name}" for name in archive.namelist() if name.endswith(".py")}
    assert archived | {"./app/main.py"} == browser_modules()


def test_every_browser_wheel_is_on_sys_path_at_boot():
    pinned = [line.split("==")[0].strip().replace("-", "_") for line in
              (ROOT / "requirements-browser.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    wheels = {src: dst for src, dst in pyscript_files().items() if src.endswith(".whl")}
    assert wheels == {f"./static/vendor/wheels/{name}.whl": f"./lib/{name}.whl" for name in pinned}


def test_interpreter_is_the_vendored_pyodide():
    config = tomllib.loads((ROOT / "pyscript.toml").read_text())
    assert config["interpreter"] == "./static/vendor/pyodide/pyodide.mjs"
    assert "packages" not in config  # would pull micropip from a CDN


def pyscript_js_modules() -> dict[str, str]:
    """pyscript.toml's [js_modules.main]: ES module path -> the name Python imports it by."""
    return tomllib.loads((ROOT / "pyscript.toml").read_text()).get("js_modules", {}).get("main", {})


def test_every_js_module_in_pyscript_toml_exists_and_every_bridge_module_is_listed():
    modules = pyscript_js_modules()
    for source, name in modules.items():
        assert source.startswith("./static/js/bridge/") and source.endswith(".mjs"), source
        assert (ROOT / source).is_file(), f"pyscript.toml loads {source}, which does not exist"
        assert name.isidentifier() and name.startswith("sv_"), name
    assert len(set(modules.values())) == len(modules)
    on_disk = {f"./{p.relative_to(ROOT).as_posix()}" for p in (ROOT / "static/js/bridge").glob("*.mjs")}
    assert on_disk == set(modules)


def test_every_js_module_the_app_imports_is_loaded_by_pyscript_toml():
    loaded = set(pyscript_js_modules().values())
    for path in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "pyscript.js_modules":
                assert {alias.name for alias in node.names} <= loaded, path


def test_pyscript_exposes_no_js_module_to_workers():
    # Worker modules would load in a second interpreter the app does not start.
    assert set(tomllib.loads((ROOT / "pyscript.toml").read_text()).get("js_modules", {})) <= {"main"}


# JavaScript belongs in static/js/ (ES modules), not in Python strings. A string counts as
# JavaScript when it is passed to Function.new / eval / run_js, or reads like JavaScript.
MAX_JS_LINES_PER_PYTHON_FILE = 5
JS_SIGNS = re.compile(r"=>|\bfunction\s*\w*\s*\(|\b(?:const|let|var)\s+[\w{\[]+\s*=|\breturn\b[^\n]*;")
JS_EVALUATORS = {"Function", "eval", "run_js", "runJS"}


def javascript_lines(source: str) -> int:
    """Non-blank lines of JavaScript in the string literals of a Python source (not docstrings)."""
    tree = ast.parse(source)
    scopes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree) if isinstance(node, scopes)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    evaluated = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            names = {node.func.attr}
            if isinstance(node.func.value, ast.Attribute):
                names.add(node.func.value.attr)
            if names & JS_EVALUATORS:
                evaluated |= {id(arg) for arg in node.args if isinstance(arg, ast.Constant)}
    return sum(sum(1 for line in node.value.splitlines() if line.strip())
               for node in ast.walk(tree)
               if isinstance(node, ast.Constant) and isinstance(node.value, str)
               and id(node) not in docstrings
               and (id(node) in evaluated or JS_SIGNS.search(node.value)))


def test_the_javascript_line_counter_sees_javascript_and_only_javascript():
    assert javascript_lines('f = js.Function.new("a", """\nconst b = a;\nreturn b;\n""")') == 3
    assert javascript_lines('S = r"""\nlet x = 1\nconst f = (y) => y\n"""') == 2
    assert javascript_lines('"""A function (docstring) => not code; return x;"""\nx = "; ".join([])') == 0


@pytest.mark.parametrize("path", sorted((ROOT / "app").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_python_file_carries_more_than_5_lines_of_javascript(path):
    assert javascript_lines(path.read_text()) <= MAX_JS_LINES_PER_PYTHON_FILE, (
        "move the JavaScript into an ES module under static/js/bridge/ ([js_modules.main])")


def browser_loaded_sources():
    yield ROOT / "index.html"
    yield ROOT / "pyscript.toml"
    yield from (ROOT / module for module in sorted(browser_modules()))
    yield from (p for p in (ROOT / "static").rglob("*") if p.is_file() and "vendor" not in p.parts
                and p.suffix not in BINARY_SUFFIXES)


@pytest.mark.parametrize("path", list(browser_loaded_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_external_url_in_what_the_browser_loads(path):
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'<>)]*", path.read_text()))
    assert [url for url in urls if not url.startswith(HARMLESS_URL_PREFIXES)] == []


def test_index_loads_pyscript_from_the_vendor_folder():
    html = (ROOT / "index.html").read_text()
    assert '<script type="module" src="static/vendor/pyscript/core.js">' in html
    assert 'data-app-state="loading"' in html


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
