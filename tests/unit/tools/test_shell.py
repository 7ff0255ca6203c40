"""The one shell list (tools/shell.py): pyscript.toml's [files] is generated from
requirements-browser.txt and the app archive and the committed file never drifts; the built
archive holds exactly app/'s modules (tools/bundle.py); the server and the service worker take
their lists from it; server code and packaging are never on any of them."""

import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from proxy.static import servable_files
from tools import bundle, shell

ROOT = Path(__file__).resolve().parents[3]


def test_the_committed_pyscript_toml_is_what_the_tool_generates():
    """Fails when a wheel is added or removed without `python3 tools/shell.py`, or when the
    built archive drifts from app/ (the check covers both)."""
    assert shell.render_files_table(ROOT) in (ROOT / "pyscript.toml").read_text()
    assert tomllib.loads((ROOT / "pyscript.toml").read_text())["files"] == shell.pyscript_files(ROOT)
    assert shell.main(["--check"]) == 0


def test_the_table_lists_every_wheel_then_the_app_archive_each_copied_into_lib():
    table = shell.pyscript_files(ROOT)
    assert table == {"./static/vendor/wheels/pyodide_http.whl": "./lib/pyodide_http.whl",
                     "./static/app.zip": "./lib/app.zip"}
    main = (ROOT / "app" / "main.py").read_text()
    assert 'LIB = os.path.abspath("lib")' in main and shell.PAGE_LIB == "lib"  # mounted there


def test_the_built_archive_holds_exactly_app_and_the_bytecode_of_every_module():
    """Fails when a module is edited, added or removed and the archive was not rebuilt (`python3
    tools/shell.py`, `make setup`; the server rebuilds it too, but without bytecode)."""
    modules = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "app").rglob("*.py")
                     if "__pycache__" not in p.parts and p.relative_to(ROOT).as_posix() != "app/main.py")
    with zipfile.ZipFile(ROOT / "static" / "app.zip") as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
        tag = archive.comment.decode()
    sources = sorted(name for name in entries if name.endswith(".py"))
    assert sources == modules, "static/app.zip is stale: run `python3 tools/shell.py`"
    assert [m for m in modules if entries[m] != (ROOT / m).read_bytes()] == []
    pycs = {name for name in entries if name.endswith(".pyc")}
    assert tag == bundle.page_cache_tag(ROOT) and tag != sys.implementation.cache_tag  # the page's
    assert pycs == {m + "c" for m in modules}, "modules without bytecode: run `python3 tools/shell.py`"
    assert all(bundle.pyc_matches(entries[m + "c"], entries[m]) for m in modules)
    assert bundle.archive_drift(ROOT) == [] and bundle.main(["--check"]) == 0


def test_no_list_holds_server_code_or_packaging():
    for paths in (shell.served_paths(ROOT), shell.make_prerequisites(ROOT),
                  [src.removeprefix("./") for src in shell.pyscript_files(ROOT)]):
        assert paths and not [p for p in paths if p.startswith(
            ("proxy/", "server.py", "tools/", "tests/", "bench/", "node_modules/", "."))]
        assert not [p for p in paths if "__pycache__" in p or "/." in p]


def test_the_server_serves_exactly_the_served_list():
    real = {str((ROOT / p).resolve()) for p in shell.served_paths(ROOT)}
    assert servable_files(ROOT) == frozenset(real)


@pytest.fixture
def tree(tmp_path) -> Path:
    for folder in ("app/ui", "app/core", "app/__pycache__"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    for name in ("app/__init__.py", "app/core/model.py", "app/ui/view.py", "app/__pycache__/x.py",
                 "app/notes.txt", "index.html"):
        (tmp_path / name).write_text("")
    (tmp_path / "requirements-browser.txt").write_text(
        "# comment\nPyodide-HTTP==0.2.2 --hash=sha256:00\nsome.lib>=1 --hash=sha256:11\n")
    (tmp_path / "pyscript.toml").write_text(
        f'name = "x"\n\n[files]\n{shell.BEGIN}\n"./app/gone.py" = "./app/gone.py"\n{shell.END}\n\n'
        '[js_modules.main]\n"./static/js/bridge/a.mjs" = "sv_a"\n')
    return tmp_path


def test_regenerating_replaces_only_the_generated_part(tree):
    assert shell.main(["--root", str(tree), "--check"]) == 1  # app/gone.py is stale
    assert shell.update_pyscript_toml(tree) is True
    config = tomllib.loads((tree / "pyscript.toml").read_text())
    assert config["files"] == {
        "./static/vendor/wheels/pyodide_http.whl": "./lib/pyodide_http.whl",
        "./static/vendor/wheels/some_lib.whl": "./lib/some_lib.whl", "./static/app.zip": "./lib/app.zip"}
    assert config["name"] == "x" and config["js_modules"]["main"] == {"./static/js/bridge/a.mjs": "sv_a"}
    assert shell.update_pyscript_toml(tree) is False  # idempotent
    assert shell.main(["--root", str(tree), "--check"]) == 1  # no archive yet
    bundle.write_archive(tree, compile=False)
    assert shell.main(["--root", str(tree), "--check"]) == 0


def test_a_pyscript_toml_without_the_markers_is_refused_by_name(tree):
    (tree / "pyscript.toml").write_text('[files]\n"./app/core/model.py" = "./app/core/model.py"\n')
    with pytest.raises(ValueError, match="markers"):
        shell.update_pyscript_toml(tree)


def test_the_entry_script_and_the_archive_are_on_the_offline_list(tree):
    shell.update_pyscript_toml(tree)
    (tree / "app" / "main.py").write_text("import app\n")
    (tree / "pyscript.toml").write_text((tree / "pyscript.toml").read_text())
    bundle.write_archive(tree, compile=False)
    (tree / "static" / "vendor" / "wheels").mkdir(parents=True)
    for wheel in ("pyodide_http.whl", "some_lib.whl"):
        (tree / "static" / "vendor" / "wheels" / wheel).write_bytes(b"PK")
    paths = shell.shell_paths(tree)
    assert {"app/main.py", "static/app.zip"} <= set(paths)
    assert not [p for p in paths if p.startswith("app/") and p != "app/main.py"]
    assert "static/app.zip" not in shell.make_prerequisites(tree)  # generated, not a source


def test_the_committed_index_html_preloads_what_the_tool_generates():
    """Fails when a vendored PyScript or Pyodide changes its file names without
    `python3 tools/shell.py`: a preload of a file that is gone would fail the boot."""
    assert shell.render_preloads(ROOT) in (ROOT / "index.html").read_text()
    preloads = shell.boot_preloads(ROOT)
    assert [kind for kind, _ in preloads] == ["module", "module", "fetch", "module", "module"]
    assert all((ROOT / path).is_file() for _, path in preloads)
    assert preloads[2] == ("fetch", "pyscript.toml")
    assert preloads[3] == ("module", "static/vendor/pyodide/pyodide.mjs")


@pytest.fixture
def vendored(tree) -> Path:
    """`tree` with a PyScript core, its chunk and parser, and Pyodide's two modules."""
    pyscript = tree / "static" / "vendor" / "pyscript"
    pyodide = tree / "static" / "vendor" / "pyodide"
    pyscript.mkdir(parents=True)
    pyodide.mkdir(parents=True)
    (pyscript / "core.js").write_text('export{a as b}from"./core-AbC1.js";\n')
    (pyscript / "core-AbC1.js").write_text('const t=async e=>(await import("./toml-Xy_9.js")).parse(e);')
    (pyscript / "toml-Xy_9.js").write_text("export const parse = () => ({});")
    for name in ("pyodide.mjs", "pyodide.asm.mjs"):
        (pyodide / name).write_text("")
    config = tree / "pyscript.toml"
    config.write_text('interpreter = "./static/vendor/pyodide/pyodide.mjs"\n' + config.read_text())
    (tree / "index.html").write_text(f"<head>\n  <title>x</title>\n  {shell.PRELOAD_BEGIN}\n"
                                     f"  {shell.PRELOAD_END}\n  <script></script>\n</head>\n")
    return tree


def test_the_preloads_follow_the_vendored_names_and_touch_nothing_else(vendored):
    assert shell.update_index_html(vendored) is True
    page = (vendored / "index.html").read_text()
    assert page.startswith("<head>\n  <title>x</title>\n") and page.endswith("<script></script>\n</head>\n")
    assert '<link rel="modulepreload" href="static/vendor/pyscript/core-AbC1.js">' in page
    assert '<link rel="modulepreload" href="static/vendor/pyscript/toml-Xy_9.js">' in page
    assert '<link rel="preload" href="pyscript.toml" as="fetch" crossorigin>' in page
    assert '<link rel="modulepreload" href="static/vendor/pyodide/pyodide.asm.mjs">' in page
    assert shell.update_index_html(vendored) is False  # idempotent
    (vendored / "static/vendor/pyscript/core.js").write_text('export{a as b}from"./core-New2.js";\n')
    (vendored / "static/vendor/pyscript/core-New2.js").write_text('import("./toml-Xy_9.js")')
    assert shell.update_index_html(vendored) is True  # a new PyScript: new names
    assert "core-New2.js" in (vendored / "index.html").read_text()
    assert "core-AbC1.js" not in (vendored / "index.html").read_text()


def test_a_core_that_names_no_chunk_is_refused_by_name(vendored):
    (vendored / "static/vendor/pyscript/core.js").write_text("export const x = 1;\n")
    with pytest.raises(ValueError, match="core chunk"):
        shell.update_index_html(vendored)
    (vendored / "static/vendor/pyscript/core.js").write_text('export{a}from"./core-Gone.js";\n')
    with pytest.raises(FileNotFoundError):
        shell.update_index_html(vendored)
