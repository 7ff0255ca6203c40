"""The app archive (build step, stdlib only): every app module the page imports, in one file.

It owns `static/app.zip` (git-ignored; `make setup` and the server keep it current). PyScript
fetches it once and unpacks it into Pyodide's file system (pyscript.toml's
`"./static/app.zip" = "./*"`), instead of fetching each of app/**/*.py on its own. It holds:

- every app/**/*.py except the entry script app/main.py (index.html's `<script src>` loads
  that one), byte for byte, found anew at every build: a new module needs no list;
- beside each, where one is known, its bytecode for the page's CPython (`app/core/model.pyc`,
  where zipimport looks), so Pyodide does not compile the app at every boot; the zip's comment
  names the Python it is for ('cpython-314');
- `dataclass_code.marshal`: the compiled methods of the app's dataclasses (app/core/codecache.py),
  which dataclasses would otherwise compile as each class is defined. Only Pyodide's interpreter can write it: `tools/pyc.mjs` runs the vendored Pyodide in
  Node for the modules that lack one. Each .pyc is hash-checked (PEP 552): it carries a hash
  of its source, the build keeps it only while that hash matches the source, and Python checks
  it again at import (a mismatch recompiles), so a .pyc never changes what runs.

The zip is deterministic (sorted names, fixed dates, stored), so the same sources and bytecode
give the same bytes and the same precache hash. `current_archive` is what the server calls
before it sends the archive: it rebuilds it (without Node, reusing the bytecode of every
unchanged module) when a module was edited, added or removed, so a reload always runs app/ as
it is on disk.

    $ python3 tools/bundle.py             # rebuild static/app.zip, compiling what lacks bytecode
    $ python3 tools/bundle.py --check     # exit 1 when static/app.zip differs from app/
    >>> archive_drift(ROOT)               # [] when the archive holds exactly app/'s modules
"""

from __future__ import annotations

import _imp
import argparse
import base64
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `tools` importable
    sys.path.insert(0, str(ROOT))

from tools.shell import APP_ARCHIVE, ENTRY_SCRIPT, app_modules  # noqa: E402

PYODIDE = "static/vendor/pyodide/"
DATACLASS_CODE = "dataclass_code.marshal"  # app/core/codecache.py's TABLE
COMPILER = "tools/pyc.mjs"
PAGE_CWD = "/home/pyodide"  # the page's cwd
PAGE_ARCHIVE = "lib/app.zip"  # where pyscript.toml puts the archive, relative to the cwd
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
PYC_HEADER = 16  # magic (4), flags (4), source hash (8)
HASH_CHECKED = 0b11  # PEP 552 flags: hash-based, check the source
COMPILE_TIMEOUT_S = 600


def archived_modules(root: Path) -> dict[str, bytes]:
    """What the archive must hold as source: app/**/*.py but the entry script, with its bytes."""
    return {path: (root / path).read_bytes() for path in app_modules(root) if path != ENTRY_SCRIPT}


def pyc_path(module: str) -> str:
    """Where zipimport looks for a module's bytecode: beside its source (app/x/y.pyc)."""
    return module + "c"


def pyc_matches(pyc: bytes, source: bytes) -> bool:
    """Whether `pyc` is a hash-checked .pyc compiled from exactly `source`: the hash is keyed by
    the .pyc's own magic number, as its interpreter computes it (importlib's source_hash)."""
    if len(pyc) < PYC_HEADER or int.from_bytes(pyc[4:8], "little") != HASH_CHECKED:
        return False
    return _imp.source_hash(int.from_bytes(pyc[:4], "little"), source) == pyc[8:16]


def read_archive(path: Path) -> tuple[dict[str, bytes], str | None]:
    """Every entry of an archive and the cache tag of its bytecode (the zip's comment); empty
    when it is missing or not a zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            tag = archive.comment.decode("ascii", "replace") or None
            return {name: archive.read(name) for name in archive.namelist()}, tag
    except (OSError, zipfile.BadZipFile):
        return {}, None


def page_cache_tag(root: Path) -> str | None:
    """The vendored Pyodide's cache tag ('cpython-314'), from its lock file; None when absent."""
    try:
        python = json.loads((root / PYODIDE / "pyodide-lock.json").read_text())["info"]["python"]
        major, minor = python.split(".")[:2]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return f"cpython-{int(major)}{int(minor)}"


def known_bytecode(entries: dict[str, bytes], tag: str | None, modules: dict[str, bytes],
                   wanted_tag: str | None = None) -> dict[str, bytes]:
    """{module: .pyc} of the .pyc in `entries` that still match their module, unless they were
    compiled for another Python than `wanted_tag` (the vendored Pyodide's, when known)."""
    if tag is None or wanted_tag not in (None, tag):
        return {}
    return {m: entries[pyc_path(m)] for m, source in modules.items()
            if pyc_path(m) in entries and pyc_matches(entries[pyc_path(m)], source)}


def compile_with_pyodide(root: Path, modules: dict[str, bytes],
                         to_compile: set[str]) -> tuple[str, dict[str, bytes], bytes]:
    """(cache tag, {module: .pyc} for `to_compile`, the dataclass code table) from the vendored
    Pyodide in Node (tools/pyc.mjs), which sees every module in `modules`."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed")
    if not (root / PYODIDE / "pyodide.mjs").is_file():
        raise RuntimeError(f"{PYODIDE} is not vendored yet (run `make setup`)")
    request = {"indexURL": str(root / PYODIDE), "prefix": f"{PAGE_CWD}/{PAGE_ARCHIVE}",
               "modules": {m: base64.b64encode(s).decode() for m, s in modules.items()},
               "compile": sorted(to_compile)}
    done = subprocess.run([node, str(root / COMPILER)], input=json.dumps(request), text=True,
                          capture_output=True, timeout=COMPILE_TIMEOUT_S, cwd=root)
    if done.returncode != 0:
        raise RuntimeError(f"{COMPILER} failed: {done.stderr.strip()[-2000:]}")
    reply = json.loads(done.stdout)
    return (reply["cache_tag"], {m: base64.b64decode(pyc) for m, pyc in reply["pycs"].items()},
            base64.b64decode(reply["dataclass_code"]))


def build_archive(modules: dict[str, bytes], cache_tag: str | None, pycs: dict[str, bytes],
                  dataclass_code: bytes | None = None) -> bytes:
    """The archive's bytes: each module, its .pyc where one matches it, and the dataclass code
    table when there is one; deterministic."""
    entries = dict(modules)
    if cache_tag and dataclass_code:
        entries[DATACLASS_CODE] = dataclass_code
    if cache_tag:
        entries.update({pyc_path(m): pyc for m, pyc in pycs.items()
                        if m in modules and pyc_matches(pyc, modules[m])})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        if cache_tag and len(entries) > len(modules) + (DATACLASS_CODE in entries):
            archive.comment = cache_tag.encode("ascii")
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, FIXED_DATE)
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, so the mode above is honoured everywhere
            archive.writestr(info, entries[name])
    return buffer.getvalue()


def archive_drift(root: Path) -> list[str]:
    """How static/app.zip differs from app/ (modules missing, changed or extra); [] when current."""
    entries, tag = read_archive(root / APP_ARCHIVE)
    if not entries:
        return [f"{APP_ARCHIVE} is missing"]
    modules = archived_modules(root)
    sources = {name for name in entries if name.endswith(".py")}
    drift = [f"{m} is missing" for m in sorted(modules.keys() - sources)]
    drift += [f"{m} differs from app/" for m in sorted(modules.keys() & sources)
              if entries[m] != modules[m]]
    drift += [f"{name} is not an app module" for name in sorted(sources - modules.keys())]
    matching = {pyc_path(m) for m in known_bytecode(entries, tag, modules, page_cache_tag(root))}
    drift += [f"{name} matches no module or is for another Python than the vendored one"
              for name in sorted(entries.keys() - sources - matching - {DATACLASS_CODE})]
    return drift


def write_archive(root: Path = ROOT, compile: bool = True) -> tuple[int, int]:
    """Rebuild static/app.zip atomically from app/, reusing the current archive's bytecode and
    (when `compile`) compiling the rest with Pyodide. Returns (modules, with bytecode). Without
    Node the archive still works: Pyodide compiles those modules at boot instead."""
    target = root / APP_ARCHIVE
    modules = archived_modules(root)
    entries, tag = read_archive(target)
    pycs = known_bytecode(entries, tag, modules, page_cache_tag(root))
    table = entries.get(DATACLASS_CODE) if pycs else None  # kept: a stale source just misses
    missing = {m for m in modules if m not in pycs}
    if compile and (missing or table is None):
        try:
            new_tag, compiled, table = compile_with_pyodide(root, modules, missing)
            if pycs and tag != new_tag:  # the lock file disagrees with Pyodide: trust Pyodide
                pycs, (new_tag, compiled, table) = {}, compile_with_pyodide(root, modules, set(modules))
        except (OSError, RuntimeError, ValueError, KeyError, subprocess.SubprocessError) as exc:
            print(f"bundle: no bytecode for {len(missing)} module(s), the page compiles them "
                  f"at boot ({exc})", file=sys.stderr)
        else:
            tag, pycs = new_tag, {**pycs, **compiled}
    return _replace(target, modules, tag, pycs, table)


def _replace(target: Path, modules: dict[str, bytes], tag: str | None,
             pycs: dict[str, bytes], table: bytes | None = None) -> tuple[int, int]:
    data = build_archive(modules, tag, pycs, table)
    if not target.is_file() or target.read_bytes() != data:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, target)
    return len(modules), sum(1 for m in modules if m in pycs and pyc_matches(pycs[m], modules[m]))


_lock = threading.Lock()
_verified: dict[Path, tuple] = {}


def current_archive(root: Path) -> Path:
    """static/app.zip, first rebuilt without Node when app/ changed since it was written (the
    server calls this before sending it). A stat of each module tells whether to look closer."""
    root = root.resolve()
    with _lock:
        signature = _signature(root)
        if _verified.get(root) != signature:
            if archive_drift(root):
                write_archive(root, compile=False)
            _verified[root] = _signature(root)
    return root / APP_ARCHIVE


def _signature(root: Path) -> tuple:
    """Names, sizes and modification times of the modules and the archive."""
    paths = [*app_modules(root), APP_ARCHIVE]
    stats = [(p, s.st_size, s.st_mtime_ns) for p in paths
             if (s := _stat(root / p)) is not None]
    return tuple(stats)


def _stat(path: Path):
    try:
        return path.stat()
    except OSError:
        return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Rebuild static/app.zip from app/.")
    parser.add_argument("--root", type=Path, default=ROOT, help="the app's folder")
    parser.add_argument("--check", action="store_true", help="only check that it is current")
    parser.add_argument("--no-compile", action="store_true", help="do not run Pyodide in Node")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.check:
        drift = archive_drift(root)
        for line in drift:
            print(f"bundle: {line}; run `python3 tools/shell.py`", file=sys.stderr)
        return 1 if drift else 0
    modules, compiled = write_archive(root, compile=not args.no_compile)
    print(f"{APP_ARCHIVE}: {modules} modules, {compiled} with bytecode, "
          f"{(root / APP_ARCHIVE).stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
