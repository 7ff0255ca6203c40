"""What an imported archive must satisfy (pure): the caps, safe entry paths, the entry list
against the manifest, and media whose first bytes agree with its MIME type.

Everything here refuses with `BackupError(message, code)`; the message says what is wrong
and what to do. The caps are far above any real project (README "Backups" lists them) and
are injectable, so tests can exercise each one with small archives:

    limits = Limits(max_entries=5)
    check_entries(entries, limits)            # from app.backup.zip.format.parse_central_directory
    check_magic("projects/a/scenes/scene-01-v1.png", "image/png", first_bytes)   # app/core/sniff.py
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.errors import BackupError, InvalidAsset
from app.core.sniff import SNIFF_BYTES, sniff
from app.backup.zip.format import DEFLATED, STORED, ZipEntry

GiB, MiB = 1 << 30, 1 << 20
MANIFEST_NAME = "scenevault.json"
SIDECAR_SUFFIX = ".json"  # beside each file: `<path>.json` (app/backup/sidecar.py)


@dataclass(frozen=True)
class Limits:
    """Import caps. A real project never comes near them; an attack hits one of them."""

    # Scaled to what a real vault holds, so that a user's own "Export all" always imports
    # back: 100,000 files come to 200,001 entries (each file, its JSON sidecar, the manifest).
    max_archive_bytes: int = 64 * GiB      # the archive file (zip64 past 4 GiB)
    max_entries: int = 250_000             # entries in one archive (files and sidecars), and
                                           # assets listed in its manifest
    max_projects: int = 10_000             # projects in one manifest (a big vault has hundreds)
    max_entry_bytes: int = 16 * GiB        # one file, as it really inflates (a long video)
    max_total_bytes: int = 64 * GiB        # all files together, as they really inflate
    max_ratio: int = 100                   # inflated / compressed, for files over ratio_floor
    ratio_floor_bytes: int = 1 * MiB       # small files may compress well: below this, no check
    max_manifest_bytes: int = 256 * MiB    # scenevault.json (~2.5 KB per asset for 100,000)
    max_json_depth: int = 32               # the manifest nests 5 levels, recipes a few more
    max_path_chars: int = 255


DEFAULT_LIMITS = Limits()
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Containers that several MIME labels share: the first bytes prove the container, not the label.
CONTAINERS = {"audio/x-wav": "audio/wav", "audio/wave": "audio/wav", "audio/webm": "video/webm",
              "audio/mp4": "video/mp4"}


# --- paths --------------------------------------------------------------------------------------
def check_path(path: str, limits: Limits = DEFAULT_LIMITS) -> str:
    """A relative, forward-slash path without `.`/`..` parts, drive letters or control codes."""
    problem = path_problem(path, limits)
    if problem:
        raise BackupError(f"The archive contains an unsafe path {path[:120]!r}: {problem}. "
                          "SceneVault never writes such paths; do not import this file.",
                          "unsafe_path")
    return path


def path_problem(path: str, limits: Limits = DEFAULT_LIMITS) -> str | None:
    if not isinstance(path, str) or not path:
        return "it is empty"
    if len(path) > limits.max_path_chars:
        return f"it is {len(path)} characters long (the limit is {limits.max_path_chars})"
    if "\\" in path:
        return "it uses backslashes"
    if path.startswith("/"):
        return "it is absolute"
    if _DRIVE.match(path):
        return "it starts with a drive letter"
    if _CONTROL.search(path):
        return "it contains control characters"
    parts = path.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "it has an empty, '.' or '..' part"
    return None


# --- the entry list -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ArchiveRules:
    """The backup policy as the zip reader takes it (app/backup/zip/read.py imports no policy): the caps
    in `limits`, and the checks that refuse an archive's size, entry count and entries."""

    limits: Limits = DEFAULT_LIMITS

    def check_archive_size(self, size: int) -> None:
        check_archive_size(size, self.limits)

    def check_entry_count(self, count: int) -> None:
        check_entry_count(count, self.limits)

    def check_entries(self, entries: list[ZipEntry]) -> dict[str, ZipEntry]:
        return check_entries(entries, self.limits)

    def entry_too_large(self, name: str, size: int) -> BackupError:
        return entry_too_large(name, size, self.limits)


def check_archive_size(size: int, limits: Limits = DEFAULT_LIMITS) -> None:
    if size > limits.max_archive_bytes:
        raise BackupError(f"This file is {size / GiB:.2f} GiB; a backup may be at most "
                          f"{limits.max_archive_bytes / GiB:.2f} GiB, far more than a real vault "
                          "holds. Export and import projects a few at a time.",
                          "archive_too_large")


def check_entry_count(count: int, limits: Limits = DEFAULT_LIMITS) -> None:
    if count > limits.max_entries:
        raise BackupError(f"The archive holds {count:,} files; a backup may hold at most "
                          f"{limits.max_entries:,} (a vault of 100,000 files and their sidecars "
                          "needs about 200,000). This is not a SceneVault backup, or it was "
                          "tampered with; if it is yours, export projects a few at a time.",
                          "too_many_entries")


def check_entries(entries: list[ZipEntry], limits: Limits = DEFAULT_LIMITS) -> dict[str, ZipEntry]:
    """Entry-level rules, from the central directory alone; returns the files by name."""
    check_entry_count(len(entries), limits)
    files: dict[str, ZipEntry] = {}
    for entry in entries:
        check_path(entry.name, limits)
        if entry.name in files:
            raise BackupError(f"The archive contains {entry.name!r} twice; different tools would "
                              "extract different copies, so it is refused.", "duplicate_entry")
        _check_entry(entry, limits)
        files[entry.name] = entry
    return files


def _check_entry(entry: ZipEntry, limits: Limits) -> None:
    if entry.encrypted:
        raise BackupError(f"{entry.name!r} is encrypted; SceneVault backups are not. Decrypt "
                          "it or export the backup again.", "unsupported_zip")
    if entry.method not in (STORED, DEFLATED):
        raise BackupError(f"{entry.name!r} uses compression method {entry.method}; only "
                          "stored (0) and deflate (8) are read.", "unsupported_zip")
    if entry.size > limits.max_entry_bytes:  # a declared size may refuse, never admit
        raise entry_too_large(entry.name, entry.size, limits)


def entry_too_large(name: str, size: int, limits: Limits) -> BackupError:
    return BackupError(f"{name!r} is at least {size:,} bytes; one file may be at most "
                       f"{limits.max_entry_bytes:,} bytes.", "entry_too_large")


def check_references(files: dict[str, ZipEntry], paths: dict[str, str | None],
                     recipe_only: bool) -> set[str]:
    """Every file must be the manifest, a referenced path or its JSON sidecar (`<path>.json`,
    never read: the manifest is the authority), with folders only above them; every path must
    have its file unless the backup is recipe-only. `paths` maps asset id -> path. Returns the
    referenced paths whose files are present."""
    wanted = {path for path in paths.values() if path}
    folders = {path[:i + 1] for path in wanted for i, ch in enumerate(path) if ch == "/"}
    for name in files:
        if name == MANIFEST_NAME or name in wanted or name in folders:
            continue
        if not (name.endswith(SIDECAR_SUFFIX) and name[:-len(SIDECAR_SUFFIX)] in wanted):
            raise BackupError(f"The archive contains {name!r}, which its manifest does not "
                              "list. A backup holds only listed files; do not import this one.",
                              "unreferenced_entry")
    for asset_id, path in paths.items():
        if path and path not in files and not recipe_only:
            raise BackupError(f"The manifest lists {path!r} (asset {asset_id}), but the archive "
                              "has no such file. The backup is incomplete: export it again.",
                              "missing_file")
    return {path for path in wanted if path in files}


# --- media --------------------------------------------------------------------------------------
def check_magic(path: str, mime_type: str, head: bytes) -> None:
    """Refuse media whose first bytes (app/core/sniff.py) are not what its MIME type says; SVG,
    HTML and scripts are refused whatever their label."""
    try:
        found = sniff(head)
    except InvalidAsset as exc:
        raise BackupError(f"{path!r} is labelled {mime_type}, but: {exc}", "magic_mismatch") from None
    if CONTAINERS.get(found, found) != CONTAINERS.get(mime_type, mime_type):
        raise BackupError(f"{path!r} is labelled {mime_type} but its first bytes show {found}. "
                          "The file was altered or mislabelled; nothing was imported.",
                          "magic_mismatch")
