"""The live backup folder's planning (pure): which files to write, keep, move to `.trash/`, or
refuse to touch because somebody changed them outside SceneVault; the folder's state file; the
status line and the error each browser fault becomes. app/backup/folder.py does the I/O.

The folder holds the zip's layout (app/backup/manifest.py, app/backup/sidecar.py) unpacked, plus
two names of its own: `.scenevault-folder.json` (the state: what SceneVault wrote, with the size
and lastModified the browser reported right after each write) and `.trash/` (files of deleted
assets, moved there after the new manifest is written; SceneVault never empties it).

    wanted = {"projects/a/scenes/scene-01-v1.png": Wanted("ab" * 32, 120)}
    plan = plan_mirror(wanted, FolderState({}), seen={})
    plan.write                                   # ('projects/a/scenes/scene-01-v1.png',)
    marks = {path: FileMark(wanted[path].sha256, 120, 1700000000000) for path in plan.write}
    encode_state(next_state(plan, FolderState({}), marks, {}))   # the new state file's bytes

The rule: a path is written when it is new, its recorded sha256 differs, or its file is gone; a
recorded file whose size or lastModified no longer matches what was recorded was changed outside
the app, and the whole run stops before writing anything (`folder_changed_outside`). A file at a
wanted path that the state does not record (a run cut short after a write, or a folder filled
by an unzipped backup) is hashed: the same bytes are adopted, other bytes are a change outside.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from app.backup.manifest import Layout, check_depth
from app.backup.policy import MANIFEST_NAME
from app.backup.sidecar import build_sidecar, encode_sidecar, sidecar_name
from app.core.errors import BackupError
from app.core.model import Asset, Project

__all__ = ["FOLDER_STATE_NAME", "PARTIAL_SUFFIX", "TRASH", "FileMark", "FolderState",
           "MirrorPlan", "Seen", "Wanted", "ago", "changed_outside", "encode_state",
           "fault", "is_own_name", "is_skipped_on_restore", "next_state", "parse_state", "plan_mirror",
           "sidecar_files", "status_text", "wanted_bytes"]

FOLDER_STATE_NAME = ".scenevault-folder.json"
STATE_FORMAT = "scenevault-folder-state"
STATE_VERSION = 1
TRASH = ".trash"
PARTIAL_SUFFIX = ".partial"  # `<name>.partial` is written, closed, then moved to `<name>`
MAX_STATE_BYTES = 32 << 20
SHOWN_PATHS = 3


@dataclass(frozen=True)
class Wanted:
    """A file the folder should hold: its bytes' sha256 and size."""

    sha256: str
    size: int


@dataclass(frozen=True)
class Seen:
    """A file found in the folder: its size and lastModified (Unix ms), as the browser says."""

    size: int
    modified: int


@dataclass(frozen=True)
class FileMark:
    """A file SceneVault wrote: the bytes' sha256, and the size and lastModified read back."""

    sha256: str
    size: int
    modified: int


@dataclass(frozen=True)
class FolderState:
    """What SceneVault wrote into the folder (path -> FileMark), kept in the folder itself."""

    files: dict[str, FileMark] = field(default_factory=dict)


@dataclass(frozen=True)
class MirrorPlan:
    """One run: `write` (the manifest last), `verify` (present but unrecorded: hash first),
    `keep` (recorded and unchanged), `trash` (recorded files no longer wanted),
    `changed_outside` (recorded files someone else changed: the run must stop) and `leftovers`
    (`.partial` files of ours a cut-short write left behind)."""

    write: tuple[str, ...]
    verify: tuple[str, ...]
    keep: tuple[str, ...]
    trash: tuple[str, ...]
    changed_outside: tuple[str, ...]
    leftovers: tuple[str, ...]


# --- what the folder should hold ----------------------------------------------------------------
def sidecar_files(layout: Layout, projects: list[Project], assets: list[Asset]) -> dict[str, bytes]:
    """path -> the JSON sidecar of the file at that path, as a zip export writes it."""
    by_path: dict[str, list[Asset]] = {}
    for asset in assets:
        path = layout.paths.get(asset.id)
        if path in layout.files:
            by_path.setdefault(path, []).append(asset)
    titles = {project.id: project for project in projects}
    return {sidecar_name(path): encode_sidecar(build_sidecar(path, group, titles))
            for path, group in by_path.items()}


def wanted_bytes(data: bytes) -> Wanted:
    """A small file made here (the manifest, a sidecar), hashed."""
    return Wanted(hashlib.sha256(data).hexdigest(), len(data))


SYSTEM_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})  # what OSes drop in folders


def is_skipped_on_restore(path: str) -> bool:
    """Files a restore leaves out: ours (`is_own_name`) and what file managers add by
    themselves (`.DS_Store`, `Thumbs.db`, `desktop.ini`, `._*` AppleDouble files). Any other
    file the manifest does not list is refused, as in a zip (`unreferenced_entry`)."""
    name = path.rsplit("/", 1)[-1]
    return is_own_name(path) or name in SYSTEM_FILES or name.startswith("._")


def is_own_name(path: str) -> bool:
    """The state file, anything under `.trash/`, and `.partial` files: never backed-up content."""
    return (path == FOLDER_STATE_NAME or path == TRASH or path.startswith(TRASH + "/")
            or path.endswith(PARTIAL_SUFFIX))


# --- the plan -----------------------------------------------------------------------------------
def plan_mirror(wanted: dict[str, Wanted], state: FolderState, seen: dict[str, Seen]) -> MirrorPlan:
    """Compare what the folder should hold with what SceneVault recorded and what is there."""
    write, verify, keep, trash, changed = [], [], [], [], []
    for path, mark in state.files.items():
        found = seen.get(path)
        if found is not None and (found.size, found.modified) != (mark.size, mark.modified):
            changed.append(path)
        elif path not in wanted:
            if found is not None:
                trash.append(path)
        elif found is None or wanted[path].sha256 != mark.sha256:
            write.append(path)
        else:
            keep.append(path)
    for path in wanted:
        if path not in state.files:
            (verify if path in seen else write).append(path)
    ours = set(wanted) | set(state.files) | {MANIFEST_NAME, FOLDER_STATE_NAME}
    leftovers = [path for path in seen if path.endswith(PARTIAL_SUFFIX)
                 and path[:-len(PARTIAL_SUFFIX)] in ours]
    write.sort(key=lambda path: (path == MANIFEST_NAME, path))
    return MirrorPlan(tuple(write), tuple(sorted(verify)), tuple(sorted(keep)),
                      tuple(sorted(trash)), tuple(sorted(changed)), tuple(sorted(leftovers)))


def next_state(plan: MirrorPlan, previous: FolderState, written: dict[str, FileMark],
               adopted: dict[str, FileMark]) -> FolderState:
    """The state after a run that wrote `written` and adopted `adopted` (verified files)."""
    files = {path: previous.files[path] for path in plan.keep}
    files.update(adopted)
    files.update(written)
    return FolderState(dict(sorted(files.items())))


# --- the state file -----------------------------------------------------------------------------
def encode_state(state: FolderState) -> bytes:
    files = {path: {"sha256": mark.sha256, "size": mark.size, "lastModified": mark.modified}
             for path, mark in state.files.items()}
    return json.dumps({"format": STATE_FORMAT, "version": STATE_VERSION, "files": files},
                      indent=1).encode("utf-8")


def parse_state(data: bytes) -> FolderState:
    """The state file's records; a damaged or foreign one counts as empty (every file present is
    then hashed before it is trusted, so nothing is lost, only time)."""
    if len(data) > MAX_STATE_BYTES:
        return FolderState()
    try:
        text = data.decode("utf-8")
        check_depth(text, 8)
        decoded = json.loads(text)
    except (UnicodeDecodeError, ValueError, BackupError):
        return FolderState()
    if (not isinstance(decoded, dict) or decoded.get("format") != STATE_FORMAT
            or decoded.get("version") != STATE_VERSION or not isinstance(decoded.get("files"), dict)):
        return FolderState()
    files = {}
    for path, record in decoded["files"].items():
        mark = _mark(record)
        if isinstance(path, str) and mark is not None:
            files[path] = mark
    return FolderState(files)


def _mark(record) -> FileMark | None:
    if not isinstance(record, dict):
        return None
    sha, size, modified = record.get("sha256"), record.get("size"), record.get("lastModified")
    if (isinstance(sha, str) and len(sha) == 64 and type(size) is int and size >= 0
            and type(modified) in (int, float)):
        return FileMark(sha, size, int(modified))
    return None


# --- faults and status --------------------------------------------------------------------------
def changed_outside(paths: list[str] | tuple[str, ...], folder: str) -> BackupError:
    shown = ", ".join(paths[:SHOWN_PATHS]) + (f" and {len(paths) - SHOWN_PATHS} more"
                                              if len(paths) > SHOWN_PATHS else "")
    return BackupError(f"{len(paths)} file(s) in the backup folder {folder!r} changed outside the "
                       f"app ({shown}); SceneVault did not overwrite them and wrote nothing. "
                       "Move them out of the folder (or put the originals back), then choose "
                       "Back up now.", "folder_changed_outside")


# DOMException names from the File System Access API -> (code, what happened, what to do)
_FAULTS = {
    "NotAllowedError": ("folder_permission", "SceneVault has no permission to write to the "
                        "folder {folder!r}", "Choose \"Allow backups to {folder}\", then Back up now."),
    "SecurityError": ("folder_permission", "The browser refused access to the folder {folder!r}",
                      "Choose \"Allow backups to {folder}\", or pick the folder again."),
    "QuotaExceededError": ("folder_full", "The disk holding the folder {folder!r} is full",
                           "Free space on that disk (or pick a folder on another one), then "
                           "Back up now."),
    "NotFoundError": ("folder_missing", "The folder {folder!r} (or a file in it) was moved or "
                      "deleted", "Pick the folder again with \"Back up to a folder…\"."),
    "AbortError": ("folder_cancelled", "A write to the folder {folder!r} was cancelled",
                   "Back up now to try again."),
    "NoModificationAllowedError": ("folder_busy", "Another program holds a file in the folder "
                                   "{folder!r} open", "Close it, then Back up now."),
    "InvalidModificationError": ("folder_busy", "The folder {folder!r} could not be changed",
                                 "Close any program using it, then Back up now."),
}


def fault(error_name: str, detail: str, folder: str, path: str | None = None) -> BackupError:
    """The BackupError a browser exception (its DOMException `name`) becomes. Files written before
    the fault stay complete (each lands under its name only once whole); the vault is unchanged."""
    code, what, advice = _FAULTS.get(error_name, ("folder_failed", "The backup to the folder "
                                                  "{folder!r} failed", "Back up now to try again."))
    where = f" while writing {path!r}" if path else ""
    return BackupError(f"{what.format(folder=folder)}{where} ({error_name}: {detail}). No file was "
                       f"left half-written; your vault is unchanged. {advice.format(folder=folder)}",
                       code)


def ago(then_ms: int, now_ms: int) -> str:
    """'just now', '2 min ago', '3 h ago', '2 days ago'."""
    seconds = max(0, now_ms - then_ms) // 1000
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return f"{days} day{'s' if days > 1 else ''} ago"


def status_text(name: str, last_backup_at: int | None, error: str | None, permission: str,
                now_ms: int) -> str:
    """The header's line: 'Backed up to folder <name>: 2 min ago', or why not."""
    if permission != "granted":
        return f"Backups to folder {name} are paused: SceneVault needs your permission again."
    if error:
        return f"Not backed up to folder {name}: {error}"
    if last_backup_at is None:
        return f"Backing up to folder {name}: not yet."
    return f"Backed up to folder {name}: {ago(last_backup_at, now_ms)}"
