"""Backups (browser): export projects to a `scenevault-backup` zip and import one back, with
progress, cancellation, and an import that writes nothing until everything checked out.

Export reads each stored Blob once (for its CRC-32) and composes the archive from the Blobs
themselves (app/backup/zip/write.py), or streams it into a file the user chose
(app/backup/zip/stream.py), so memory stays flat whatever the project's size; zip64 comes in
only past 65,535 entries or 4 GiB. Afterwards the projects are marked backed up. Import checks
the archive's structure, the caps, the manifest, every path, every size, the magic bytes and
every SHA-256 (crypto.subtle), plans the merge (app/backup/merge.py), then writes projects,
records, blobs and previews in ONE readwrite transaction: it lands entirely or not at all.

    token = CancelToken()                      # the UI's Cancel button calls token.cancel()
    blob, filename = await export(vault, [project.id], on_progress=bar.update, cancel=token)
    save(blob, filename)                       # app/ui/parts/download.py: <a download>
    handle = await pick_save_file(await export_name(vault, None))    # or stream it:
    written, filename = await export_to_file(vault, handle, None, cancel=token)
    report = await import_archive(vault, file_blob, as_copy=False, on_progress=bar.update)
    report.assets_added, report.assets_skipped

`on_progress(done, total)` counts media bytes (read for export, checked for import). The
caller owns the returned archive Blob; `save` owns (and revokes) the object URL it makes.
"""

from __future__ import annotations

import datetime
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Callable

import js

from app.store import media
from app.backup.manifest import (MANIFEST_NAME, archive_name, build_manifest, encode_manifest,
                        manifest_too_large, parse_manifest, plan_layout, unique_slugs)
from app.backup.merge import Existing, ImportReport, plan_import, report_of
from app.backup.policy import (DEFAULT_LIMITS, SNIFF_BYTES, ArchiveRules, Limits, check_magic,
                               check_references)
from app.backup.schema import Manifest
from app.backup.sidecar import build_sidecar, encode_sidecar, sidecar_name
from app.core.errors import BackupCancelled, BackupError, MetadataError
from app.core.pngmeta import MAX_CHUNKS
from app.core.metadata.source import READ_METADATA_OF, file_recipe, read_source_metadata
from app.core.model import Asset, Project, now_ms
from app.store.transfer import StagedFile
from app.core.cancel import CancelToken
from app.backup.zip.stream import ZipStream
from app.backup.zip.write import ZipWriter, crc32_batches
from app.backup.zip.read import StageRequest, ZipReader
from app.core.backup_log import export_record

__all__ = ["CancelToken", "ImportReport", "Limits", "export", "export_name", "export_to_file",
           "import_archive"]

OnProgress = Callable[[int, int], None]


class _Progress:
    """Adds up bytes and reports (done, total) to the UI's callback."""

    def __init__(self, callback: OnProgress | None, total: int):
        self.callback = callback
        self.total = total
        self.done = 0

    def add(self, count) -> None:
        self.done = min(self.total, self.done + int(count))
        if self.callback is not None:
            self.callback(self.done, self.total)


def _check(token: CancelToken) -> None:
    if token.cancelled:
        raise BackupCancelled()


# --- export -------------------------------------------------------------------------------------
async def export(vault, project_ids: list[str] | None = None, recipe_only: bool = False,
                 on_progress: OnProgress | None = None,
                 cancel: CancelToken | None = None) -> tuple[object, str]:
    """Archive the projects (all of them when `project_ids` is None): (zip Blob, file name).
    A full export marks the projects and the assets it holds backed up; a recipe-only one does
    not. Either kind is recorded in the "lastExport" setting (app/core/backup_log.py)."""
    token = cancel or CancelToken()
    plan = await _plan_export(vault, project_ids, recipe_only)
    writer = ZipWriter(plan.exported_at)
    await _compose(plan, writer, on_progress, token)
    archive = writer.finish()
    _check(token)
    await _mark(vault, plan)
    return archive, plan.filename


async def export_to_file(vault, handle, project_ids: list[str] | None = None,
                         recipe_only: bool = False, on_progress: OnProgress | None = None,
                         cancel: CancelToken | None = None) -> tuple[int, str]:
    """Stream the archive `export` would make into the file behind `handle` (a
    FileSystemFileHandle from the save picker): (bytes written, file name). Memory stays
    flat whatever the size. A cancel or a failed write aborts the file stream, so the file
    keeps what it held before (empty if new), and raises (BackupCancelled, or BackupError
    `write_failed`); nothing is marked backed up then."""
    token = cancel or CancelToken()
    plan = await _plan_export(vault, project_ids, recipe_only)
    stream = await ZipStream.open(handle, plan.exported_at)
    written = None
    try:
        await _compose(plan, stream, on_progress, token)
        _check(token)
        written = await stream.finish()
    finally:
        if written is None:  # cancelled or failed, whatever the error: never left "complete"
            await stream.abort()
    await _mark(vault, plan)
    return written, plan.filename


async def export_name(vault, project_ids: list[str] | None = None,
                      recipe_only: bool = False) -> str:
    """The file name `export` will give (for the save picker, asked before the export runs)."""
    projects = await _projects(vault, project_ids)
    return _filename(projects, project_ids, recipe_only)


@dataclass(frozen=True)
class _ExportPlan:
    """What an export writes: the manifest, the files by path and who uses each."""

    projects: tuple[Project, ...]
    recipe_only: bool
    exported_at: int
    manifest: bytes
    files: dict[str, object]              # path -> stored Blob
    users: dict[str, tuple[Asset, ...]]   # path -> the assets using it (its sidecar)
    filename: str


async def _plan_export(vault, project_ids: list[str] | None, recipe_only: bool) -> _ExportPlan:
    projects = await _projects(vault, project_ids)
    assets = [asset for project in projects for asset in await vault.list_assets(project.id)]
    blobs = {} if recipe_only else await vault.read_blobs({a.sha256 for a in assets})
    layout = plan_layout(projects, assets, set(blobs))
    exported_at = now_ms()
    manifest = encode_manifest(build_manifest(projects, assets, layout.paths, exported_at,
                                              recipe_only))
    users: dict[str, list[Asset]] = {}
    for asset in assets:
        path = layout.paths.get(asset.id)
        if path in layout.files:
            users.setdefault(path, []).append(asset)
    return _ExportPlan(tuple(projects), recipe_only, exported_at, manifest,
                       {path: blobs[sha] for path, sha in layout.files.items()},
                       {path: tuple(group) for path, group in users.items()},
                       _filename(projects, project_ids, recipe_only))


def _filename(projects: list[Project], project_ids: list[str] | None, recipe_only: bool) -> str:
    slugs = list(unique_slugs(projects).values())
    return archive_name(slugs, _today(), recipe_only, everything=project_ids is None)


async def _mark(vault, plan: _ExportPlan) -> None:
    """Mark backed up what the archive holds (a file stored while it ran is not), and record
    the export in the "lastExport" setting (app/core/backup_log.py), full or recipe-only."""
    if not plan.recipe_only:
        held = {asset.id for group in plan.users.values() for asset in group}
        for project in plan.projects:
            await vault.mark_backed_up(project.id, when=plan.exported_at, asset_ids=held)
    await vault.put_setting("lastExport", export_record(
        await vault.get_setting("lastExport"), plan.exported_at, plan.recipe_only,
        [project.id for project in plan.projects]))


async def _compose(plan: _ExportPlan, writer: ZipWriter, on_progress: OnProgress | None,
                   token: CancelToken) -> None:
    """The archive's entries into `writer`: the manifest DEFLATEd, then each file STOREd after
    its CRC-32 is known, each followed by its JSON sidecar (app/backup/sidecar.py), DEFLATEd and
    made only then, so that 100,000 of them never sit in memory together. zip64 comes in by
    itself where the sizes or the count need it (app/backup/zip/format.py)."""
    progress = _Progress(on_progress, sum(int(blob.size) for blob in plan.files.values()))
    progress.add(0)
    titles = {project.id: project for project in plan.projects}
    writer.add_bytes(MANIFEST_NAME, plan.manifest)
    paths = iter(plan.files)
    async for blob, crc in crc32_batches(list(plan.files.values()), progress.add, token):
        path = next(paths)
        _check(token)
        writer.add_blob(path, blob, crc)
        if path in plan.users:
            card = encode_sidecar(build_sidecar(path, list(plan.users[path]), titles))
            writer.add_bytes(sidecar_name(path), card)
        await writer.drain()


async def _projects(vault, project_ids: list[str] | None) -> list[Project]:
    if project_ids is None:
        projects = await vault.list_projects()
        if not projects:
            raise BackupError("There is nothing to export yet: create a project first.",
                              "nothing_to_export")
        return sorted(projects, key=lambda p: p.created_at)
    if not project_ids:
        raise BackupError("Choose at least one project to export.", "nothing_to_export")
    return [await vault.get_project(project_id) for project_id in dict.fromkeys(project_ids)]


def _today() -> datetime.date:
    now = js.Date.new()  # the user's local date, which Python in the page does not know
    return datetime.date(int(now.getFullYear()), int(now.getMonth()) + 1, int(now.getDate()))


# --- import -------------------------------------------------------------------------------------
async def import_archive(vault, blob, as_copy: bool = False,
                         on_progress: OnProgress | None = None,
                         cancel: CancelToken | None = None,
                         limits: Limits = DEFAULT_LIMITS) -> ImportReport:
    """Check the whole archive, then merge it into the vault in one transaction (or, with
    `as_copy`, add it under new ids). Raises BackupError (nothing written) when any rule fails."""
    token = cancel or CancelToken()
    reader = await ZipReader.open(blob, ArchiveRules(limits))
    manifest = await _read_manifest(reader, limits)
    present = check_references(reader.files, manifest.paths(), manifest.recipe_only)
    existing = await vault.snapshot([p.id for p in manifest.projects],
                                    [item.asset.id for item in manifest.assets],
                                    [item.asset.sha256 for item in manifest.assets])
    verified, metadata = await _verify_all(reader, manifest, present, existing, on_progress,
                                           token)
    reader.close()
    manifest = _with_file_recipes(manifest, metadata)
    plan = plan_import(manifest, existing, present, as_copy)
    _check(token)
    if not plan.is_noop:
        if vault.closed_reason:
            raise BackupError(vault.closed_reason, "vault_closed")
        await vault.apply_import(plan, verified)
    return report_of(plan, {item.asset.sha256: item.asset.size for item in manifest.assets})


async def _read_manifest(reader: ZipReader, limits: Limits) -> Manifest:
    if MANIFEST_NAME not in reader.files:
        raise BackupError(f"This zip has no {MANIFEST_NAME}, so it is not a SceneVault backup "
                          "(or it was repacked without it).", "no_manifest")
    try:
        data = await reader.read_bytes(MANIFEST_NAME, limits.max_manifest_bytes)
    except BackupError as exc:
        if exc.code in ("entry_too_large", "size_mismatch"):
            raise manifest_too_large(limits) from None
        raise
    return parse_manifest(data, limits)


async def _verify_all(reader: ZipReader, manifest: Manifest, present: set[str],
                      existing: Existing, on_progress: OnProgress | None,
                      token: CancelToken) -> tuple[dict[str, StagedFile], dict[str, bytes]]:
    """Read, sniff and hash every file the archive holds, each read once (ZipReader.stage):
    sha256 -> StagedFile, and sha256 -> the bytes each image's own recipe is read from
    (`_with_file_recipes`). Nothing is decoded here: the vault makes the previews of what it
    stored in the background and marks media it cannot show (app/store/preview_maker.py)."""
    items = {item.path: item for item in manifest.assets if item.path in present}
    mimes: dict[str, set[str]] = {}
    for item in manifest.assets:
        mimes.setdefault(item.path, set()).add(item.asset.mime_type)
    progress = _Progress(on_progress, sum(item.asset.size for item in items.values()))
    progress.add(0)
    requests = [StageRequest(path, item.asset.mime_type, expected=item.asset.size,
                             copy=item.asset.sha256 not in existing.blobs,
                             meta=_recipe_from_file(item.asset))
                for path, item in items.items()]
    verified: dict[str, StagedFile] = {}
    metadata: dict[str, bytes] = {}
    # Closed when a check fails mid-way, so the regions still being staged are dropped at once.
    async with aclosing(reader.stage(requests, SNIFF_BYTES, MAX_CHUNKS, token)) as batches:
        async for batch in batches:
            for staged in batch:
                asset = items[staged.name].asset
                for mime_type in sorted(mimes[staged.name]):
                    check_magic(staged.name, mime_type, staged.head)
                if staged.sha256 != asset.sha256:
                    raise BackupError(f"{staged.name!r} has SHA-256 {staged.sha256[:12]}…, but "
                                      f"the manifest says {asset.sha256[:12]}…. The file was "
                                      "altered or damaged; nothing was imported.", "hash_mismatch")
                verified[asset.sha256] = StagedFile(staged.blob, asset.mime_type, None)
                if _recipe_from_file(asset):
                    metadata[asset.sha256] = (staged.meta if staged.meta is not None
                                              else await media.blob_bytes(staged.blob))
                progress.add(asset.size)
            _check(token)
    return verified, metadata


def _recipe_from_file(asset: Asset) -> bool:
    """An image listed without a recipe gets the one its file carries, if any."""
    return (asset.recipe is None and asset.source_metadata is None
            and asset.mime_type in READ_METADATA_OF)


def _with_file_recipes(manifest: Manifest, metadata: dict[str, bytes]) -> Manifest:
    """The manifest with each image that has no recipe given the one its file carries (a file
    another tool made, listed by a hand-made or older manifest), as a slot import would read
    it (app/store/slot_import.py). Metadata that breaks a rule leaves the asset as it was."""
    assets = []
    for item in manifest.assets:
        data = metadata.get(item.asset.sha256)
        if data is not None and _recipe_from_file(item.asset):
            try:
                recipe, source_metadata = file_recipe(
                    read_source_metadata(data, item.asset.mime_type))
            except MetadataError:
                recipe, source_metadata = None, None
            if recipe is not None:
                item = replace(item, asset=replace(item.asset, recipe=recipe,
                                                   source_metadata=source_metadata))
        assets.append(item)
    return replace(manifest, assets=tuple(assets))
