"""The live backup folder (browser): mirror the vault into a folder the user picked (File System
Access API), incrementally, and restore from it; remember the folder in the vault's settings.

The folder holds the zip's layout unpacked (`scenevault.json`, `projects/<slug>/…` and a
`<path>.json` sidecar beside each file), planned by the pure app/backup/folder_plan.py. A run
reads the state file and lists the folder, stops before writing anything if a file SceneVault
wrote was changed outside the app, writes new or changed files (each whole, then renamed:
static/js/bridge/folder.mjs), the manifest last, then moves files of deleted assets to `.trash/`,
writes the state file, and marks the projects backed up. Restore packs the folder's files into
an in-memory zip of Blob references and imports it with app/backup/service.py, so every import
check applies (paths, caps, magic bytes, sizes, SHA-256) and the vault changes in one transaction
or not at all.

    handle = await pick()                                   # in a click handler
    await remember(vault, handle)                           # settings "folderBackup"
    report = await mirror(vault, handle)                    # MirrorReport, or BackupError
    report = await restore(vault, handle)                   # an ImportReport, like a zip import

Every fault is a BackupError whose `code` is from folder_plan.fault (`folder_permission`,
`folder_full`, `folder_changed_outside`, `folder_cancelled`, `folder_missing`, …).
"""

from __future__ import annotations

from dataclasses import dataclass

import js
from pyodide.ffi import JsException, to_js
from pyscript.js_modules import sv_folder

from app.backup import folder_plan as fp
from app.backup.manifest import build_manifest, encode_manifest, plan_layout
from app.backup.policy import MANIFEST_NAME
from app.core.errors import BackupError
from app.core.model import now_ms
from app.store import media

__all__ = ["SETTING", "FolderRecord", "MirrorReport", "forget", "holds_backup", "load", "mark_backed_up",
           "mirror", "permission", "pick", "remember", "restore", "save_outcome", "supported"]

SETTING = "folderBackup"
_JS = sv_folder  # static/js/bridge/folder.mjs


@dataclass(frozen=True)
class FolderRecord:
    """The settings record: the handle (a JS FileSystemDirectoryHandle), the folder's name, when
    the last mirror finished, and the last run's error ({code, message}) or None."""

    handle: object
    name: str
    last_backup_at: int | None = None
    last_error: dict | None = None


@dataclass(frozen=True)
class MirrorReport:
    """One run: the paths written, how many files were kept as they were, the paths moved to
    `.trash/`, the bytes written, the manifest's time (the projects' backedUpAt) and the
    projects it holds."""

    written: tuple[str, ...]
    kept: int
    trashed: tuple[str, ...]
    bytes_written: int
    at: int
    projects: tuple[str, ...]


# --- the folder and its permission --------------------------------------------------------------
def supported() -> bool:
    """Whether this browser can pick a folder (Chromium's showDirectoryPicker)."""
    return bool(_JS.supported())


async def pick():
    """Ask the user for a folder (needs a click). Raises BackupError `folder_cancelled` when the
    picker is dismissed."""
    try:
        return await _JS.pick()
    except JsException as exc:
        if exc.name == "AbortError":
            raise BackupError("No folder was chosen; nothing changed.", "folder_cancelled") from None
        raise fp.fault(exc.name, str(exc.message), "(not chosen)") from None


async def permission(handle, ask: bool = False) -> str:
    """'granted', 'prompt' or 'denied'; with `ask`, the browser asks the user (needs a click)."""
    try:
        return str(await _JS.permission(handle, ask))
    except JsException as exc:
        if exc.name in ("NotAllowedError", "SecurityError"):
            return "prompt"
        raise fp.fault(exc.name, str(exc.message), str(handle.name)) from None


async def load(vault) -> FolderRecord | None:
    record = await vault.get_setting(SETTING)
    if not record or record.get("handle") is None:
        return None
    return FolderRecord(record["handle"], str(record.get("name") or record["handle"].name),
                        record.get("lastBackupAt"), record.get("lastError"))


async def remember(vault, handle) -> FolderRecord:
    """Keep `handle` as the backup folder (IndexedDB stores the handle itself)."""
    record = FolderRecord(handle, str(handle.name) or "Origin private folder")
    await vault.put_setting(SETTING, {"handle": handle, "name": record.name})
    return record


async def forget(vault) -> None:
    await vault.delete_setting(SETTING)


async def save_outcome(vault, record: FolderRecord, at: int | None = None,
                       error: BackupError | None = None) -> FolderRecord:
    """Store the last run's outcome: its time on success, its error otherwise."""
    updated = FolderRecord(record.handle, record.name,
                           at if error is None and at is not None else record.last_backup_at,
                           {"code": error.code, "message": str(error)} if error else None)
    await vault.put_setting(SETTING, {"handle": record.handle, "name": updated.name,
                                      "lastBackupAt": updated.last_backup_at,
                                      "lastError": updated.last_error})
    return updated


# --- mirroring ----------------------------------------------------------------------------------
async def mirror(vault, handle, name: str | None = None, on_progress=None,
                 mark: bool = True) -> MirrorReport:
    """Bring the folder up to date with the vault (see the module docstring), then (with `mark`)
    mark the projects backed up. Raises BackupError, with nothing written when a file changed
    outside the app, and the vault unchanged always."""
    folder = name or str(handle.name)
    projects = sorted(await vault.list_projects(), key=lambda project: project.created_at)
    if not projects:
        raise BackupError("There is nothing to back up yet: create a project first. The folder "
                          "was left as it was.", "nothing_to_export")
    assets = [asset for project in projects for asset in await vault.list_assets(project.id)]
    blobs = await vault.read_blobs({asset.sha256 for asset in assets})
    layout = plan_layout(projects, assets, set(blobs))
    exported_at = now_ms()
    small = fp.sidecar_files(layout, projects, assets)
    small[MANIFEST_NAME] = encode_manifest(build_manifest(projects, assets, layout.paths,
                                                          exported_at))
    contents = {path: blobs[sha] for path, sha in layout.files.items()}
    wanted = {path: fp.Wanted(sha, int(contents[path].size)) for path, sha in layout.files.items()}
    wanted.update({path: fp.wanted_bytes(data) for path, data in small.items()})

    state, seen = await _read_state(handle, folder)
    plan = fp.plan_mirror(wanted, state, seen)
    if plan.changed_outside:
        raise fp.changed_outside(plan.changed_outside, folder)
    adopted, changed = {}, []
    for path in plan.verify:
        digest = await media.sha256_hex(await _call(folder, path, _JS.read(handle, path, False)))
        if digest == wanted[path].sha256:
            adopted[path] = fp.FileMark(digest, seen[path].size, seen[path].modified)
        else:
            changed.append(path)
    if changed:
        raise fp.changed_outside(changed, folder)
    for path in plan.leftovers:
        await _call(folder, path, _JS.remove(handle, path))

    written, total = {}, sum(wanted[path].size for path in plan.write)
    done = 0
    for path in plan.write:  # the manifest comes last
        data = small[path] if path in small else contents[path]
        result = await _call(folder, path, _JS.write(handle, path, _js_data(data)))
        written[path] = fp.FileMark(wanted[path].sha256, int(result.size),
                                    int(result.lastModified))
        done += wanted[path].size
        if on_progress is not None:
            on_progress(done, total)
    for path in plan.trash:
        await _call(folder, path, _JS.trash(handle, path, fp.TRASH))
    new_state = fp.encode_state(fp.next_state(plan, state, written, adopted))
    await _call(folder, fp.FOLDER_STATE_NAME,
                _JS.write(handle, fp.FOLDER_STATE_NAME, _js_data(new_state)))
    report = MirrorReport(tuple(written), len(plan.keep) + len(adopted), plan.trash,
                          sum(wanted[path].size for path in written), exported_at,
                          tuple(project.id for project in projects))
    if mark:
        await mark_backed_up(vault, report)
    return report


async def mark_backed_up(vault, report: MirrorReport) -> None:
    """Mark the mirrored projects (and their assets) backed up at the manifest's time, as a zip
    export does; a restore of the folder then gives back the same records."""
    for project_id in report.projects:
        await vault.mark_backed_up(project_id, when=report.at)


async def holds_backup(handle) -> bool:
    """Whether the folder already holds a scenevault.json (a backup, maybe another vault's)."""
    listed = await _call(str(handle.name), None, _JS.list(handle, to_js([fp.TRASH])))
    return any(str(item.path) == MANIFEST_NAME for item in listed)


async def _read_state(handle, folder: str) -> tuple[fp.FolderState, dict[str, fp.Seen]]:
    listed = await _call(folder, None, _JS.list(handle, to_js([fp.TRASH])))
    seen = {str(item.path): fp.Seen(int(item.size), int(item.lastModified)) for item in listed}
    if fp.FOLDER_STATE_NAME not in seen:
        return fp.FolderState(), seen
    file = await _call(folder, fp.FOLDER_STATE_NAME, _JS.read(handle, fp.FOLDER_STATE_NAME, False))
    return fp.parse_state(await media.blob_bytes(file)), seen


async def _call(folder: str, path: str | None, pending):
    """Await a folder call; a browser exception becomes the BackupError that names it."""
    try:
        return await pending
    except JsException as exc:
        raise fp.fault(str(exc.name), str(exc.message), folder, path) from None


def _js_data(data):
    if isinstance(data, bytes):
        array = js.Uint8Array.new(len(data))
        array.assign(data)
        return array
    return data


# --- restoring ----------------------------------------------------------------------------------
async def restore(vault, handle, name: str | None = None, on_progress=None, cancel=None):
    """Import the folder's backup (its scenevault.json and files) as a zip import would: every
    check applies and the vault changes in one transaction or not at all. Skips `.trash/`, the
    state file, `.partial` files and what file managers add (`.DS_Store`, …). Each file is copied into the browser's blob storage first
    (IndexedDB could otherwise keep a reference to the folder's file, unreadable once that file
    changes). Returns the ImportReport."""
    from app.backup import service
    from app.backup.zip.write import ZipWriter, crc32

    folder = name or str(handle.name)
    listed = await _call(folder, None, _JS.list(handle, to_js([fp.TRASH])))
    paths = sorted(str(item.path) for item in listed if not fp.is_skipped_on_restore(str(item.path)))
    if MANIFEST_NAME not in paths:
        raise BackupError(f"The folder {folder!r} holds no {MANIFEST_NAME}, so it is not a "
                          "SceneVault backup folder. Pick the folder SceneVault backed up to.",
                          "no_manifest")
    writer = ZipWriter(now_ms())
    for path in paths:
        file = await _call(folder, path, _JS.read(handle, path, True))
        try:
            writer.add_blob(path, file, await crc32(file, None, cancel))
        except BackupError as exc:
            if exc.code == "cancelled":
                raise
            raise BackupError(f"{path!r} in the folder {folder!r} could not be read ({exc}); "
                              "nothing was imported. Back up again, then restore.",
                              "read_failed") from None
    return await service.import_archive(vault, writer.finish(), on_progress=on_progress,
                                        cancel=cancel)
