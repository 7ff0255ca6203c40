"""tools/precache.py: what the service worker precaches, and a cache name that changes with any
shell file; server.py's warning when that list is older than the files it lists."""

import hashlib
import json
import os
import tomllib
import zipfile
from pathlib import Path

import pytest

from proxy import static as server_static
from tools import precache, shell

ROOT = Path(__file__).resolve().parents[3]
PYODIDE = ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip",
           "pyodide-lock.json"]


def make_app(root: Path) -> Path:
    """A minimal app tree: the two top files, two modules, a static file and a worker (the app
    archive is built from the modules when the list is)."""
    (root / "app").mkdir()
    (root / "proxy").mkdir()
    (root / "static" / "vendor").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html>")
    (root / "requirements-browser.txt").write_text("# no wheels\n")
    (root / "pyscript.toml").write_text(f'[files]\n{shell.BEGIN}\n{shell.END}\n')
    (root / "app" / "main.py").write_text("print('hi')\n")
    (root / "app" / "util.py").write_text("X = 1\n")
    (root / "proxy" / "secret.py").write_text("KEY = 'server only'\n")
    (root / "static" / "app.css").write_text("body {}")
    (root / "static" / "vendor" / "lib.js").write_text("export {}")
    (root / "static" / "vendor" / "lib.js.map").write_text("{}")
    (root / "static" / "vendor" / ".complete").write_text("")
    (root / "static" / "sw.js").write_text("// worker")
    return root


@pytest.fixture
def app_tree(tmp_path) -> Path:
    return make_app(tmp_path)


def test_the_real_list_holds_the_whole_shell_and_nothing_server_only():
    paths = set(precache.shell_paths(ROOT))
    listed = {src.removeprefix("./") for src in
              tomllib.loads((ROOT / "pyscript.toml").read_text())["files"]}
    assert {"index.html", "pyscript.toml", "static/js/boot.js", "static/js/offline.js",
            "static/css/app.css", "static/manifest.webmanifest", "static/icons/icon-192.png",
            "static/icons/icon-512.png", "static/vendor/pyscript/core.js",
            "static/vendor/jszip/jszip.min.js", "static/vendor/wheels/pyodide_http.whl",
            *(f"static/vendor/pyodide/{name}" for name in PYODIDE)} <= paths
    assert listed <= paths
    assert not [p for p in paths if p.startswith(("proxy/", "server.py")) or p.endswith(".map")]
    assert not {"static/sw.js", "static/precache.js"} & paths
    assert not [p for p in paths if any(part.startswith(".") for part in p.split("/"))]


def test_list_and_hashes_of_a_small_tree(app_tree):
    built = precache.build_precache(app_tree)
    assert [path for path, _, _ in built.files] == [
        "app/main.py", "index.html", "pyscript.toml", "static/app.css", "static/app.zip",
        "static/vendor/lib.js"]
    entries = {path: (sha, size) for path, sha, size in built.files}
    assert entries["app/main.py"] == (hashlib.sha256(b"print('hi')\n").hexdigest(), 12)
    archive = (app_tree / "static" / "app.zip").read_bytes()
    assert entries["static/app.zip"] == (hashlib.sha256(archive).hexdigest(), len(archive))
    with zipfile.ZipFile(app_tree / "static" / "app.zip") as opened:
        assert opened.namelist() == ["app/util.py"]  # the entry script is fetched on its own
    assert built.cache == "scenevault-shell-" + built.version and len(built.version) == 16


@pytest.mark.parametrize("changed", ["app/util.py", "index.html", "static/app.css",
                                     "static/vendor/lib.js", "static/sw.js"])
def test_any_shell_change_gives_a_new_cache_name(app_tree, changed):
    before = precache.build_precache(app_tree).cache
    assert precache.build_precache(app_tree).cache == before  # deterministic
    path = app_tree / changed
    path.write_text(path.read_text() + "\n// changed")
    assert precache.build_precache(app_tree).cache != before


def test_files_outside_the_list_do_not_change_the_cache_name(app_tree):
    before = precache.build_precache(app_tree).cache
    (app_tree / "proxy" / "secret.py").write_text("KEY = 'rotated'\n")
    (app_tree / "static" / "vendor" / "lib.js.map").write_text('{"changed": 1}')
    assert precache.build_precache(app_tree).cache == before


def test_a_browser_wheel_that_is_not_vendored_is_named(app_tree):
    """requirements-browser.txt names a wheel that `make setup` has not put in static/vendor/."""
    (app_tree / "requirements-browser.txt").write_text("pyodide-http==0.2.2\n")
    with pytest.raises(FileNotFoundError, match=r"static/vendor/wheels/pyodide_http\.whl"):
        precache.build_precache(app_tree)


def test_server_code_is_never_on_the_list_even_when_pyscript_toml_names_it(app_tree):
    toml = app_tree / "pyscript.toml"
    toml.write_text(toml.read_text() + '"./proxy/secret.py" = "./x.py"\n')
    paths = [path for path, _, _ in precache.build_precache(app_tree).files]
    assert "proxy/secret.py" not in paths and "app/main.py" in paths


def test_written_file_is_the_list_as_javascript(app_tree):
    built = precache.write_precache(app_tree)
    text = (app_tree / "static" / "precache.js").read_text()
    prefix = "self.SCENEVAULT_PRECACHE = "
    body = text[text.index(prefix) + len(prefix):].rstrip().removesuffix(";")
    assert json.loads(body) == built.to_dict()
    assert sorted(p.name for p in (app_tree / "static").iterdir()) == [
        "app.css", "app.zip", "precache.js", "sw.js", "vendor"]  # no temporary file left behind
    assert precache.write_precache(app_tree) == built  # its own output is not listed


def test_the_worker_and_the_generator_agree_on_names():
    worker = (ROOT / "static" / "sw.js").read_text()
    assert 'importScripts("precache.js")' in worker
    assert f'const CACHE_PREFIX = "{precache.CACHE_PREFIX}";' in worker
    assert precache.OUTPUT == server_static.PRECACHE_FILE


def test_server_warns_when_the_list_is_missing_or_older_than_a_shell_file(app_tree):
    assert server_static.stale_precache(app_tree) == "static/precache.js is missing"
    precache.write_precache(app_tree)
    assert server_static.stale_precache(app_tree) is None
    later = (app_tree / "static" / "precache.js").stat().st_mtime + 10
    for ignored in ("proxy/secret.py", "static/vendor/.complete"):
        os.utime(app_tree / ignored, (later, later))
    assert server_static.stale_precache(app_tree) is None
    os.utime(app_tree / "app" / "util.py", (later, later))
    assert server_static.stale_precache(app_tree) == "app/util.py changed after static/precache.js was written"


def test_main_reports_what_it_wrote(app_tree, capsys):
    assert precache.main(["--root", str(app_tree)]) == 0
    assert "static/precache.js: 6 files" in capsys.readouterr().out
    (app_tree / "index.html").unlink()
    assert precache.main(["--root", str(app_tree)]) == 1
    assert "index.html" in capsys.readouterr().err
