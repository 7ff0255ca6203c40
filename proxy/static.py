"""What the server may send (server-only): the static allowlist, built from real paths.

`servable_files` takes the one shell list (tools/shell.py: index.html, pyscript.toml, app/**/*.py
and static/**, no dotfiles) and resolves each to its real path. A request is served only when its resolved real path is on that list, matched
case-sensitively (`resolve_static_path`), so no spelling, case trick or symlink reaches server
code, which lives outside the served folders (server.py, proxy/). Also: which vendored files the
page cannot boot without, and whether the service worker's precache list is stale.

    allowlist = StaticAllowlist(APP_ROOT)
    resolve_static_path(APP_ROOT, "/app/core/model.py", allowlist=allowlist)   # a Path
    resolve_static_path(APP_ROOT, "/server.py", allowlist=allowlist)      # None: 404
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from urllib.parse import unquote

from tools.shell import SERVED_FOLDERS, TOP_FILES, make_prerequisites, served_paths

STATIC_FILES = frozenset(TOP_FILES)
STATIC_DIRS = SERVED_FOLDERS
VENDOR_PREFIX = "static/vendor/"
# What the page cannot boot without; `make setup` puts them there.
REQUIRED_VENDOR_FILES = (
    "static/vendor/pyscript/core.js",
    "static/vendor/pyodide/pyodide.mjs",
    "static/vendor/pyodide/pyodide.asm.wasm",
    "static/vendor/pyodide/python_stdlib.zip",
    "static/vendor/jszip/jszip.min.js",
)
# The service worker's precache list (tools/precache.py, `make setup`) and what it is built from.
PRECACHE_FILE = "static/precache.js"


def resolve_static_path(root: Path, url_path: str, extra_dirs: tuple[str, ...] = (),
                        allowlist: StaticAllowlist | None = None) -> Path | None:
    """Map a request path to a file on the allowlist, or None (answer 404).

    Refuses, in any spelling: '..' and '.' segments, dotfiles, backslashes, NUL and control
    characters, empty segments, drive letters and percent-encoded tricks. Then the path's real
    path (symlinks resolved) must be on `allowlist` (by default built now for `root`), so
    neither a symlink nor another case of a name reaches a file that is not.
    """
    path = url_path.split("?", 1)[0].split("#", 1)[0]
    try:
        path = unquote(path, errors="strict")
    except UnicodeDecodeError:
        return None
    if path == "/":
        path = "/index.html"
    if not path.startswith("/") or any(ch in path for ch in "\\%:") or not path.isprintable():
        return None
    segments = path[1:].split("/")
    if any(not s or s.startswith(".") for s in segments):
        return None
    relative = "/".join(segments)
    if not _allowed_shape(relative, (*STATIC_DIRS, *extra_dirs)):
        return None
    candidate = (root / relative).resolve()
    allowed = allowlist if allowlist is not None else servable_files(root, extra_dirs)
    return candidate if str(candidate) in allowed and candidate.is_file() else None


def _allowed_shape(relative: str, dirs: tuple[str, ...]) -> bool:
    """Whether `relative` is spelled like a servable file: a top file, app/**.py, or in a dir."""
    if relative in STATIC_FILES:
        return True
    if relative.startswith("app/") and not relative.endswith(".py"):
        return False
    return any(relative.startswith(d + "/") for d in dirs)


def servable_files(root: Path, extra_dirs: tuple[str, ...] = ()) -> frozenset[str]:
    """The real path (str, symlinks resolved) of every file the server may send: tools/shell.py's
    `served_paths` (index.html, pyscript.toml, app/**/*.py, static/**) and each extra dir's
    files, no dotfiles. A file whose real path leaves its folder (a symlink into server.py or
    proxy/, say) or is hidden is not on it.
    """
    real_root = root.resolve()
    extra = (f"{folder}/{name}" for folder in extra_dirs
             for name in _walk_files(real_root / folder))
    found = set()
    for relative in (*served_paths(real_root), *extra):
        top, _, rest = relative.partition("/")
        area = real_root if not rest else (real_root / top).resolve()
        real = (real_root / relative).resolve()
        if real.is_file() and real.is_relative_to(area) and not _hidden(real.relative_to(area)):
            found.add(str(real))
    return frozenset(found)


def _walk_files(top: Path):
    """Every file under `top` (relative to it), without following symlinked folders or entering
    dot folders."""
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        yield from ((Path(folder) / name).relative_to(top).as_posix() for name in files)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


class StaticAllowlist:
    """`servable_files`, cached for the server; a miss rebuilds it at most once per `refresh_s`,
    so a file added while the server runs is served a second later and a flood of 404s costs at
    most one walk of the tree a second."""

    def __init__(self, root: Path, extra_dirs: tuple[str, ...] = (), refresh_s: float = 1.0):
        self._root, self._extra, self._refresh_s = root, extra_dirs, refresh_s
        self._lock = threading.Lock()
        self._files, self._built = servable_files(root, extra_dirs), time.monotonic()

    def __contains__(self, real_path: str) -> bool:
        if real_path in self._files:
            return True
        with self._lock:
            if time.monotonic() - self._built >= self._refresh_s:
                self._files = servable_files(self._root, self._extra)
                self._built = time.monotonic()
        return real_path in self._files


def missing_vendor_files(root: Path) -> list[str]:
    """The vendored runtime files that are absent (empty when `make setup` has run)."""
    return [name for name in REQUIRED_VENDOR_FILES if not (root / name).is_file()]


def stale_precache(root: Path) -> str | None:
    """Why the service worker's precache list is out of date (a shell file changed after it was
    written, or it is missing), or None. Offline, a stale list serves the old files."""
    target = root / PRECACHE_FILE
    if not target.is_file():
        return f"{PRECACHE_FILE} is missing"
    written = target.stat().st_mtime
    newer = next((p for p in _precache_sources(root) if p.stat().st_mtime > written), None)
    return f"{newer.relative_to(root)} changed after {PRECACHE_FILE} was written" if newer else None


def _precache_sources(root: Path):
    """The files static/precache.js is made from (tools/shell.py's `make_prerequisites`)."""
    return (root / name for name in make_prerequisites(root) if (root / name).is_file())
