"""The app archive (tools/bundle.py): one deterministic zip of app/ but the entry script, with a
hash-checked .pyc beside each module whose source it was compiled from; rebuilt from app/ as it
is (new, edited and removed modules, no list kept by hand), keeping only bytecode that still
matches its source."""

import _imp
import importlib.util
import zipfile
from pathlib import Path

import pytest

from tools import bundle

TAG = "cpython-399"  # a made-up interpreter: with no vendored Pyodide, any tag is accepted
MAGIC = (3999).to_bytes(2, "little") + b"\r\n"
STRAY = "matches no module or is for another Python than the vendored one"


def fake_pyc(source: bytes, flags: int = bundle.HASH_CHECKED, magic: bytes = MAGIC) -> bytes:
    """A PEP 552 .pyc header for `source`, keyed by `magic` as CPython keys it, and a body."""
    digest = _imp.source_hash(int.from_bytes(magic, "little"), source)
    return magic + flags.to_bytes(4, "little") + digest + b"marshalled code"


@pytest.fixture
def tree(tmp_path) -> Path:
    for folder in ("app/core", "app/__pycache__", "static"):
        (tmp_path / folder).mkdir(parents=True)
    files = {"app/__init__.py": b"", "app/main.py": b"import app.core.model\n",
             "app/core/__init__.py": b"", "app/core/model.py": b"X = 1\n",
             "app/__pycache__/stale.cpython-311.pyc": b"not ours", "app/notes.txt": b"text"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


def entries(tree: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(tree / "static" / "app.zip") as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def compiled(tree: Path, names: list[str]) -> bytes:
    """An archive with a fake .pyc for each of `names`, as if Node had compiled them."""
    modules = bundle.archived_modules(tree)
    data = bundle.build_archive(modules, TAG, {m: fake_pyc(modules[m]) for m in names})
    (tree / "static" / "app.zip").write_bytes(data)
    return data


def test_the_archive_holds_every_module_but_the_entry_script_byte_for_byte(tree):
    assert bundle.write_archive(tree, compile=False) == (3, 0)
    assert entries(tree) == {"app/__init__.py": b"", "app/core/__init__.py": b"",
                             "app/core/model.py": b"X = 1\n"}
    assert bundle.archive_drift(tree) == []
    with zipfile.ZipFile(tree / "static" / "app.zip") as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
        assert {info.date_time for info in archive.infolist()} == {bundle.FIXED_DATE}


def test_the_same_sources_give_the_same_bytes(tree):
    first = compiled(tree, ["app/core/model.py"])
    assert bundle.write_archive(tree, compile=False) == (3, 1)
    assert (tree / "static" / "app.zip").read_bytes() == first


def test_a_pyc_is_kept_only_while_it_matches_its_source(tree):
    compiled(tree, ["app/__init__.py", "app/core/model.py"])
    assert bundle.pyc_path("app/core/model.py") in entries(tree)
    (tree / "app" / "core" / "model.py").write_bytes(b"X = 2\n")
    assert bundle.archive_drift(tree) == [
        "app/core/model.py differs from app/",  # and its .pyc was compiled from the old source:
        f"{bundle.pyc_path('app/core/model.py')} {STRAY}"]
    assert bundle.write_archive(tree, compile=False) == (3, 1)
    rebuilt = entries(tree)
    assert rebuilt["app/core/model.py"] == b"X = 2\n"
    assert bundle.pyc_path("app/core/model.py") not in rebuilt  # the page compiles it
    assert bundle.pyc_path("app/__init__.py") in rebuilt  # unchanged: still fast
    assert bundle.archive_drift(tree) == []


def test_pyc_matching_checks_the_flags_and_the_hash_of_this_source():
    source = b"print('hello')\n"
    assert bundle.pyc_matches(fake_pyc(source), source)
    assert not bundle.pyc_matches(fake_pyc(source), source + b"# edited\n")
    assert not bundle.pyc_matches(fake_pyc(source, flags=0), source)  # timestamp-based
    assert not bundle.pyc_matches(fake_pyc(source, flags=0b01), source)  # unchecked hash
    assert not bundle.pyc_matches(b"short", source)
    # This interpreter's own hash-checked .pyc passes the same test: the key is its magic.
    assert bundle.pyc_matches(fake_pyc(source, magic=importlib.util.MAGIC_NUMBER), source)


def test_new_and_removed_modules_are_found_without_a_list(tree):
    bundle.write_archive(tree, compile=False)
    (tree / "app" / "core" / "new_part.py").write_bytes(b"Y = 3\n")
    (tree / "app" / "core" / "__init__.py").unlink()
    assert bundle.archive_drift(tree) == ["app/core/new_part.py is missing",
                                          "app/core/__init__.py is not an app module"]
    assert bundle.main(["--root", str(tree), "--check"]) == 1
    assert bundle.current_archive(tree) == tree / "static" / "app.zip"
    assert sorted(entries(tree)) == ["app/__init__.py", "app/core/model.py", "app/core/new_part.py"]
    assert bundle.main(["--root", str(tree), "--check"]) == 0


def test_the_server_side_refresh_rebuilds_only_when_app_changed(tree):
    """`current_archive` (what the server calls before sending the archive) leaves a current
    archive alone, byte for byte and file for file, and rebuilds a stale or missing one."""
    compiled(tree, ["app/core/model.py"])
    before = (tree / "static" / "app.zip").stat()
    bundle.current_archive(tree)
    after = (tree / "static" / "app.zip").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    (tree / "app" / "core" / "model.py").write_bytes(b"X = 'edited'\n")
    bundle.current_archive(tree)
    assert entries(tree)["app/core/model.py"] == b"X = 'edited'\n"
    (tree / "static" / "app.zip").unlink()
    bundle.current_archive(tree)
    assert bundle.archive_drift(tree) == []


def test_a_stray_or_foreign_pyc_is_drift(tree):
    modules = bundle.archived_modules(tree)
    pyc = fake_pyc(b"something else\n")
    data = bundle.build_archive(modules, None, {})
    with zipfile.ZipFile(tree / "static" / "app.zip", "w") as archive:
        with zipfile.ZipFile(__import__("io").BytesIO(data)) as clean:
            for name in clean.namelist():
                archive.writestr(name, clean.read(name))
        archive.writestr(bundle.pyc_path("app/core/model.py"), pyc)
    assert bundle.archive_drift(tree) == [f"{bundle.pyc_path('app/core/model.py')} {STRAY}"]
    assert bundle.archive_drift(tree / "app") == ["static/app.zip is missing"]


def test_without_node_or_pyodide_the_archive_is_still_built(tree, capsys):
    """Compiling needs the vendored Pyodide; without it the modules go as source, and say so."""
    assert bundle.write_archive(tree, compile=True) == (3, 0)
    assert "the page compiles them at boot" in capsys.readouterr().err
    assert bundle.archive_drift(tree) == []


def test_bytecode_is_tagged_and_dropped_when_the_vendored_python_changes(tree):
    compiled(tree, ["app/core/model.py"])
    with zipfile.ZipFile(tree / "static" / "app.zip") as archive:
        assert archive.comment == TAG.encode()  # the Python the .pyc are for
    assert bundle.pyc_path("app/core/model.py") == "app/core/model.pyc"  # zipimport's layout
    lock = tree / "static" / "vendor" / "pyodide" / "pyodide-lock.json"
    lock.parent.mkdir(parents=True)
    lock.write_text('{"info": {"python": "3.99.1"}}')
    assert bundle.page_cache_tag(tree) == TAG and bundle.archive_drift(tree) == []
    lock.write_text('{"info": {"python": "3.100.0"}}')  # a new Pyodide: old bytecode is no use
    assert bundle.archive_drift(tree) == [f"app/core/model.pyc {STRAY}"]
    assert bundle.write_archive(tree, compile=False) == (3, 0)
    assert "app/core/model.pyc" not in entries(tree)
