"""The asset vault (browser): projects and their media in IndexedDB, atomic, content-addressed,
versioned per slot, with reference-counted cleanup and quota errors that lose nothing.

Stores (app/store/schema.py): `projects`, `assets` (metadata only; the id is the reference ID),
`blobs` (key sha256: the bytes, stored once however many assets share them) and `previews`
(key sha256: a small image for galleries, or a mark saying why none could be made). Every
write is ONE readwrite transaction that is built first and awaited once (app/store/idb.py): blob
and records land together or not at all. A write reads only what the record needs from the
media (its hash, size and duration: app/store/media.py) and returns; the waveform or poster
frame is made afterwards by `preview_maker` (app/store/preview_maker.py), an image's thumbnail
comes with its write. Listing reads records through indexes and never reads blobs.

    vault = await Vault.open()
    project = await vault.create_project("Moon heist")
    asset = await vault.put_asset(project.id, "scene", "scene:1", png_bytes, "image/png",
                                  recipe={"prompt": "a moonlit vault"})
    blob = await vault.get_blob(asset.id)          # a JS Blob; media.object_url() to show it
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

import js
from pyodide.ffi import JsException

from app.store import idb
from app.store import media
from app.store import schema
from app.core.errors import (IntegrityError, InvalidAsset, MissingBlob, NotFound, QuotaExceeded,
                        VaultError)
from app.core.model import (Asset, new_id, now_ms, validate_kind, validate_media_type,
                       validate_slot, validate_source)
from app.store.preview_maker import PreviewMaker
from app.store.projects import ProjectStore
from app.store.transfer import TransferStore
from app.store.jobs import JobStore, claim_job
from app.store.library_index import indexed
from app.store.library_query import LibraryStore
from app.store.settings import SettingsStore
from app.store.trash import TrashStore
from app.store.trash_items import KEEP_DAYS, size_text
from app.store.writes import (ALL_STORES, DeleteReport, PendingReport, add_version,
                             delete_records, put_blob, repair_current, slot_key)

CONTENT_STORES = frozenset({"projects", "assets", "blobs"})  # what a backup holds
LARGE_WRITE_BYTES = 8 * 1024 * 1024  # check the storage estimate before writes this big
ROOM_THRESHOLD = 0.9  # a large write that would take usage past this share of the quota frees old trash
UPDATED_ELSEWHERE = "SceneVault was updated in another tab. Reload this tab to continue."


@dataclass(frozen=True)
class Usage:
    """Browser estimate plus byte totals summed from records (each stored blob counted once)."""

    usage: int | None
    quota: int | None
    stored_bytes: int
    by_kind: dict[str, int]
    by_project: dict[str, int]
    trash_bytes: int = 0  # stored bytes only the trash still holds (freed by emptying it)


class Vault(ProjectStore, TransferStore, JobStore, SettingsStore, TrashStore, LibraryStore):
    """The vault API. `storage` is navigator.storage unless a test injects another estimate.
    Project methods come from app/store/projects.py, bulk reads and the import's write from
    app/store/transfer.py, the trash from app/store/trash.py, the media library's
    index-served reads from app/store/library_query.py. `on_notice(message)`, if set,
    hears what the vault did on its own (old trash freed to make room)."""

    def __init__(self, db, storage=None, name: str = schema.DB_NAME):
        self.db = db
        self.name = name
        self.storage = storage if storage is not None else js.navigator.storage
        self.closed_reason: str | None = None
        self.on_closed = None
        self._watchers: list = []
        self.on_notice = None
        self.preview_maker = PreviewMaker(self)

    @classmethod
    async def open(cls, name: str = schema.DB_NAME, storage=None, on_closed=None) -> Vault:
        """Open (and upgrade) the database. `on_closed(message)` runs if another tab upgrades it."""
        holder: list[Vault] = []
        db = await idb.connect(name, on_versionchange=lambda: holder[0]._closed(UPDATED_ELSEWHERE))
        vault = cls(db, storage, name)
        vault.on_closed = on_closed
        holder.append(vault)
        return vault

    def _closed(self, reason: str) -> None:
        self.closed_reason = reason
        if self.on_closed is not None:
            self.on_closed(reason)

    def _transaction(self, stores: list[str], mode: str = "readonly") -> idb.Transaction:
        if self.closed_reason:
            raise VaultError(self.closed_reason)
        return idb.Transaction(self.db, stores, mode)

    # --- writing assets -------------------------------------------------------------------------
    async def put_asset(self, project_id: str, kind: str, slot: str, data, mime_type: str,
                        recipe: dict | None = None, source: str = "generated",
                        replaces: str | None = None, job_id: str | None = None,
                        source_metadata: dict | None = None,
                        created_at: int | None = None) -> Asset:
        """Store `data` (bytes or a JS Blob) as the slot's new current version; returns it.
        `replaces` names the missing asset this one was re-rolled for, if any; `job_id` the
        pending job (app/store/jobs.py) whose result this is, claimed in the same transaction
        (JobAlreadyStored, and nothing stored, when another tab claimed it first);
        `source_metadata` is what another tool wrote into an imported file ({tool, raw});
        `created_at` (Unix ms, default now) when the media was made, e.g. the day its WebM
        tags carry."""
        kind, slot, mime_type = _validated(kind, slot, mime_type, source, recipe)
        blob = media.to_blob(data, mime_type)
        if blob.size == 0:
            raise InvalidAsset(f"The {kind} for {slot!r} is empty (0 bytes); nothing was stored")
        made: dict = {}

        def begin(info: media.MediaInfo) -> idb.Transaction:
            """The write's one transaction, for the media `info` describes (a retry reuses the
            asset and its id)."""
            asset = made.get("asset") or Asset(
                id=new_id("ast"), project_id=project_id, kind=kind, slot=slot, version=0,
                current=True, sha256=info.sha256, mime_type=mime_type, size=int(blob.size),
                source=source, created_at=created_at or now_ms(), width=info.width,
                height=info.height, duration_ms=info.duration_ms, recipe=recipe,
                replaces=replaces, source_metadata=source_metadata)
            tx = self._transaction(ALL_STORES + (["jobs"] if job_id else []), "readwrite")
            try:
                if job_id:
                    claim_job(tx, job_id)
                made.update(asset=asset, info=info, versions=add_version(tx, asset))
                put_blob(tx, info.sha256, blob, mime_type, info)
            except Exception as exc:  # nothing half-queued may commit (e.g. a claim, no asset)
                tx.discard(exc)
                raise
            return tx

        try:
            if blob.size >= LARGE_WRITE_BYTES:  # the storage estimate overlaps the hashing
                _, info = await asyncio.gather(self._check_room(blob.size),
                                               media.inspect(blob, mime_type))
                await self._commit(begin(info))
            else:  # the transaction starts as the probe resolves: Python resumes once
                await self._commit_when(media.probe(blob, mime_type), mime_type,
                                        lambda found: begin(media.media_info(found)))
        except QuotaExceeded:  # a refused write frees trash older than 30 days, then retries once
            if "info" not in made or not await self._free_old_trash_for_room():
                raise
            await self._commit(begin(made["info"]))
        asset, info = made["asset"], made["info"]
        self._preview_later(asset.sha256, mime_type, blob, info)
        return replace(asset, version=made["versions"][0])

    async def add_missing(self, project_id: str, kind: str, slot: str, *, sha256: str,
                          mime_type: str, size: int, recipe: dict | None = None,
                          source: str = "generated") -> Asset:
        """Record an asset whose bytes are not here (recipe-only import): it is `missing`."""
        kind, slot, mime_type = _validated(kind, slot, mime_type, source, recipe)
        asset = Asset(id=new_id("ast"), project_id=project_id, kind=kind, slot=slot, version=0,
                      current=True, sha256=sha256, mime_type=mime_type, size=int(size),
                      source=source, created_at=now_ms(), recipe=recipe, missing=True)
        tx = self._transaction(ALL_STORES, "readwrite")
        versions = add_version(tx, asset)
        await self._commit(tx)
        return replace(asset, version=versions[0])

    async def attach_media(self, asset_id: str, data) -> Asset:
        """Give a missing asset its bytes back; they must hash to its recorded SHA-256."""
        asset = await self.get(asset_id)
        blob = media.to_blob(data, asset.mime_type)
        info = await media.inspect(blob, asset.mime_type)
        sha256 = info.sha256
        if sha256 != asset.sha256:
            raise IntegrityError(f"These bytes hash to {sha256[:12]}…, not {asset.sha256[:12]}… "
                                 f"recorded for {asset_id}; nothing was stored")
        tx = self._transaction(ALL_STORES, "readwrite")
        put_blob(tx, sha256, blob, asset.mime_type, info)

        def clear_missing(records):
            for record in idb.from_js_record(records):
                record.update(missing=False, width=info.width or record.get("width"),
                              height=info.height or record.get("height"),
                              durationMs=info.duration_ms or record.get("durationMs"))
                tx.store("assets").put(idb.to_js_record(record))

        tx.then(tx.store("assets").index("sha256").getAll(sha256), clear_missing)
        await self._commit(tx)
        self._preview_later(sha256, asset.mime_type, blob, info)
        return await self.get(asset_id)

    def _preview_later(self, sha256: str, mime_type: str, blob, info) -> None:
        """After a commit: media stored without its preview gets one in the background."""
        if getattr(info, "preview", None) is None:
            self.preview_maker.want(sha256, mime_type, blob)

    async def apply_import(self, plan, staged) -> None:
        """The import's one write (app/store/transfer.py); then the previews of the media it
        stored are made in the background."""
        await super().apply_import(plan, staged)
        for sha256 in plan.store_shas:  # bytes new to this vault: none has a preview yet
            item = staged[sha256]
            self._preview_later(sha256, item.mime_type, item.blob, item.info)

    async def _commit(self, tx: idb.Transaction) -> None:
        await self._quota_explained(tx.done())
        self._changed_stores(tx)

    async def _commit_when(self, probe, mime_type: str, begin) -> None:
        """`_commit` of the transaction `begin(value)` opens in the very task where the media
        `probe` resolves (idb.commit_when); a rejected probe raises media's InvalidAsset."""
        try:
            _, tx = await self._quota_explained(idb.commit_when(probe, begin))
        except JsException as exc:
            raise media.probe_error(exc, mime_type) from None
        self._changed_stores(tx)

    async def _quota_explained(self, commit):
        """Await `commit`; a full quota is re-raised with the usage and what the user can do."""
        try:
            return await commit
        except QuotaExceeded as exc:
            raise QuotaExceeded(f"{exc} {await self._usage_text()} Nothing of this change was "
                                "stored. Free space by emptying the trash (Trash) or by deleting "
                                "old versions or projects and then emptying the trash, or export "
                                "a backup first.") from None

    def watch(self, callback) -> None:
        """Call `callback()` after every committed write to projects, assets or blobs (in
        this tab), e.g. to schedule a folder backup (app/ui/parts/folder_panel.py)."""
        self._watchers.append(callback)

    def _changed_stores(self, tx: idb.Transaction) -> None:
        if tx.mode == "readwrite" and tx.stores & CONTENT_STORES:
            for callback in list(self._watchers):
                callback()

    async def _usage_text(self) -> str:
        estimate = await self.storage.estimate()
        used, quota = getattr(estimate, "usage", None), getattr(estimate, "quota", None)
        return f"(browser estimate: {_mb(used)} used of {_mb(quota)})."

    async def _check_room(self, size: int) -> None:
        """Refuse early a write that clearly cannot fit; before refusing, or when it would take
        usage past ROOM_THRESHOLD of the quota, free trash older than 30 days first."""
        used, quota = await self._estimate()
        if used is not None and quota and used + size > quota * ROOM_THRESHOLD:
            if await self._free_old_trash_for_room():
                used, quota = await self._estimate()
        if used is not None and quota and used + size > quota:
            raise QuotaExceeded(f"This {_mb(size)} file cannot fit: {_mb(used)} used of "
                                f"{_mb(quota)}. Nothing was stored. Free space or export a backup.")

    async def _estimate(self) -> tuple[int | None, int | None]:
        estimate = await self.storage.estimate()
        return (_number(getattr(estimate, "usage", None)),
                _number(getattr(estimate, "quota", None)))

    async def _free_old_trash_for_room(self) -> int:
        """Free trash older than 30 days (storage runs short); tell the user; the bytes freed."""
        report = await self.free_old_trash()
        if report.bytes_freed and self.on_notice is not None:
            files = f"{report.assets_removed} file{'' if report.assets_removed == 1 else 's'}"
            self.on_notice(f"Freed {size_text(report.bytes_freed)} by emptying trash older than "
                           f"{KEEP_DAYS} days ({files}), to make room.")
        return report.bytes_freed

    # --- reading --------------------------------------------------------------------------------
    async def get(self, asset_id: str) -> Asset:
        """The record with this reference ID (NotFound if none)."""
        records = await self._read(["assets"], lambda tx: tx.store("assets").get(asset_id))
        if records is None:
            raise NotFound(f"No asset with reference id {asset_id!r}")
        return Asset.from_record(records)

    async def get_blob(self, asset_id: str):
        """The asset's media as a JS Blob. Raises MissingBlob when the bytes are not stored."""
        return await self._blob_of(asset_id, "blobs")

    async def get_preview(self, asset_id: str):
        """The small gallery image (JS Blob): an image's thumbnail, a narration's waveform or a
        video's poster frame; None while it has none (being made, or marked as impossible)."""
        try:
            return await self._blob_of(asset_id, "previews")
        except MissingBlob:
            return None

    async def _blob_of(self, asset_id: str, store: str):
        tx = self._transaction(["assets", store])
        found = tx.follow(tx.store("assets").get(asset_id), store, "sha256")
        await tx.done()
        record, entry = idb.present(found.first), idb.present(found.second)
        if record is None:
            raise NotFound(f"No asset with reference id {asset_id!r}")
        if entry is None or not getattr(entry, "blob", None):  # absent, or a failure mark
            kind = "preview" if store == "previews" else "media"
            raise MissingBlob(f"The {kind} of {asset_id} ({record.slot}, "
                              f"v{record.version}) is not stored on this device; "
                              "regenerate it or restore a backup")
        return entry.blob

    async def blobs_by_sha256(self, hashes) -> dict:
        """{sha256: JS Blob} for stored media, read in one transaction; absent hashes are left
        out (the caller says what is missing)."""
        tx = self._transaction(["blobs"])
        found: dict = {}
        for digest in sorted(set(hashes)):
            tx.then(tx.store("blobs").get(digest),
                    lambda entry, digest=digest: found.update({digest: entry.blob}) if entry else None)
        await tx.done()
        return found

    async def list_assets(self, project_id: str, kind: str | None = None) -> list[Asset]:
        """A project's assets (all versions) through the `projectId` index, oldest first."""
        records = await self._read_all("projectId", project_id)
        assets = [Asset.from_record(r) for r in records]
        return [a for a in assets if kind is None or a.kind == validate_kind(kind)]

    async def versions(self, project_id: str, slot: str) -> list[Asset]:
        """A slot's version history through the `[projectId, slot]` index, oldest first."""
        records = await self._read_all("projectId_slot", slot_key(project_id, slot))
        return sorted((Asset.from_record(r) for r in records), key=lambda a: a.version)

    async def list_by_kind(self, kind: str) -> list[Asset]:
        """Every asset of `kind` across projects, through the `kind` index."""
        return [Asset.from_record(r) for r in await self._read_all("kind", validate_kind(kind))]

    async def missing(self, project_id: str) -> list[Asset]:
        """The project's assets whose bytes are not stored (marked missing, or gone)."""
        tx = self._transaction(["assets", "blobs"])
        absent: list[dict] = []

        def check(records):
            for record in idb.from_js_record(records):
                tx.then(tx.store("blobs").count(record["sha256"]),
                        lambda n, record=record: n or absent.append(record))

        tx.then(tx.store("assets").index("projectId").getAll(project_id), check)
        await tx.done()
        return [Asset.from_record(r) for r in absent]

    async def _read(self, stores: list[str], make_request):
        tx = self._transaction(stores)
        found: list = []
        tx.then(make_request(tx), lambda result: found.append(idb.from_js_record(result)))
        await tx.done()
        return found[0]

    async def _read_all(self, index: str, query) -> list[dict]:
        return await self._read(["assets"], lambda tx: tx.store("assets").index(index).getAll(query))

    # --- versions and deletion ------------------------------------------------------------------
    async def set_current(self, asset_id: str) -> Asset:
        """Make this version its slot's current one (restore an older version)."""
        tx = self._transaction(["assets"], "readwrite")
        chosen: list[Asset] = []

        def with_record(record):
            target = idb.from_js_record(record)
            if target is None:
                raise NotFound(f"No asset with reference id {asset_id!r}")
            key = slot_key(target["projectId"], target["slot"])
            tx.then(tx.store("assets").index("projectId_slot").getAll(key), switch)

        def switch(siblings):
            for record in idb.from_js_record(siblings):
                if record["current"] != (record["id"] == asset_id):
                    record["current"] = record["id"] == asset_id
                    tx.store("assets").put(idb.to_js_record(record))
                if record["id"] == asset_id:
                    chosen.append(Asset.from_record(record))

        tx.then(tx.store("assets").get(asset_id), with_record)
        await self._commit(tx)
        return chosen[0]

    async def delete_asset(self, asset_id: str) -> DeleteReport:
        """Delete one version for good; its blob goes too unless another record (live or in the
        trash) uses the same bytes. The app's own delete goes to the trash (`trash_assets`)."""
        tx = self._transaction(ALL_STORES, "readwrite")
        report: list[PendingReport] = []

        def delete(record):
            target = idb.from_js_record(record)
            if target is None:
                raise NotFound(f"No asset with reference id {asset_id!r}")
            report.append(delete_records(tx, [target]))
            repair_current(tx, target["projectId"], target["slot"])

        tx.then(tx.store("assets").get(asset_id), delete)
        await self._commit(tx)
        return report[0].settle()

    async def set_favorite(self, asset_id: str, favorite: bool) -> Asset:
        """Star or unstar one version; favorites are protected from bulk deletes."""
        tx = self._transaction(["assets"], "readwrite")
        updated: list[Asset] = []

        def mark(record):
            found = idb.from_js_record(record)
            if found is None:
                raise NotFound(f"No asset with reference id {asset_id!r}")
            found = indexed({**found, "favorite": bool(favorite)})  # `starred` follows the star
            tx.store("assets").put(idb.to_js_record(found))
            updated.append(Asset.from_record(found))

        tx.then(tx.store("assets").get(asset_id), mark)
        await self._commit(tx)
        return updated[0]

    async def delete_assets(self, asset_ids: list[str], keep_favorites: bool = True) -> DeleteReport:
        """Delete many versions in one transaction (favorites are skipped unless asked)."""
        tx = self._transaction(ALL_STORES, "readwrite")
        found: list[dict] = []
        report: list[PendingReport] = []

        def collect(record):
            found.append(idb.from_js_record(record))
            if len(found) == len(asset_ids):
                doomed = [r for r in found if r and not (keep_favorites and r.get("favorite"))]
                report.append(delete_records(tx, doomed))
                for slot in {(r["projectId"], r["slot"]) for r in doomed}:
                    repair_current(tx, *slot)

        for asset_id in asset_ids:
            tx.then(tx.store("assets").get(asset_id), collect)
        if not asset_ids:
            return DeleteReport(0, 0)
        await self._commit(tx)
        return report[0].settle()

    async def delete_slot(self, project_id: str, slot: str) -> DeleteReport:
        """Delete every version in a slot for good (the app moves a removed scene or character
        to the trash instead: `trash_slots`)."""
        tx = self._transaction(ALL_STORES, "readwrite")
        report: list[PendingReport] = []
        tx.then(tx.store("assets").index("projectId_slot").getAll(slot_key(project_id, slot)),
                lambda records: report.append(delete_records(tx, idb.from_js_record(records))))
        await self._commit(tx)
        return report[0].settle()

    async def list_all_assets(self) -> list[Asset]:
        """Every asset record, newest first (the media library; reads no blobs)."""
        records = await self._read(["assets"],
                                   lambda tx: tx.store("assets").index("createdAt").getAll())
        return [Asset.from_record(r) for r in reversed(records)]

    async def delete_versions(self, project_id: str, slot: str, keep: int) -> DeleteReport:
        """Prune a slot to its `keep` newest versions; the current version is always kept."""
        if keep < 1:
            raise InvalidAsset(f"keep={keep}: at least one version must be kept")
        tx = self._transaction(ALL_STORES, "readwrite")
        report: list[PendingReport] = []

        def prune(siblings):
            records = sorted(idb.from_js_record(siblings), key=lambda r: -r["version"])
            kept = [r for r in records if r["current"]]
            kept += [r for r in records if not r["current"]][: keep - len(kept)]
            doomed = [r for r in records if r not in kept]
            report.append(delete_records(tx, doomed))

        tx.then(tx.store("assets").index("projectId_slot").getAll(slot_key(project_id, slot)), prune)
        await self._commit(tx)
        return report[0].settle()

    # --- storage --------------------------------------------------------------------------------
    async def usage(self) -> Usage:
        """navigator.storage.estimate() plus bytes per kind and per project, from records only."""
        estimate = await self.storage.estimate()
        tx = self._transaction(["assets", "trash"])
        read: dict = {}
        tx.then(tx.store("assets").getAll(), lambda r: read.update(assets=idb.from_js_record(r)))
        tx.then(tx.store("trash").getAll(), lambda r: read.update(trash=idb.from_js_record(r)))
        await tx.done()
        records = read["assets"]
        by_kind: dict[str, int] = {}
        by_project: dict[str, int] = {}
        seen: set[str] = set()
        for record in records:
            if record.get("missing") or record["sha256"] in seen:
                continue
            seen.add(record["sha256"])
            by_kind[record["kind"]] = by_kind.get(record["kind"], 0) + record["size"]
            by_project[record["projectId"]] = by_project.get(record["projectId"], 0) + record["size"]
        held = {a["sha256"]: a["size"] for item in read["trash"] for a in item.get("assets") or ()
                if not a.get("missing") and a["sha256"] not in seen}
        return Usage(usage=_number(getattr(estimate, "usage", None)),
                     quota=_number(getattr(estimate, "quota", None)),
                     stored_bytes=sum(by_kind.values()), by_kind=by_kind, by_project=by_project,
                     trash_bytes=sum(held.values()))

    async def request_persistence(self) -> bool:
        """Ask the browser not to evict this origin's data; True when storage is persistent."""
        return bool(await self.storage.persist())

    async def is_persistent(self) -> bool:
        return bool(await self.storage.persisted())


def _validated(kind, slot, mime_type, source, recipe) -> tuple[str, str, str]:
    kind = validate_kind(kind)
    slot = validate_slot(kind, slot)
    mime_type = validate_media_type(kind, mime_type)
    validate_source(source)
    if recipe is not None and not isinstance(recipe, dict):
        raise InvalidAsset(f"A recipe must be a dict, not {type(recipe).__name__}")
    return kind, slot, mime_type


def _number(value) -> int | None:
    return None if value is None else int(value)


def _mb(value) -> str:
    return "an unknown amount" if value is None else f"{value / 1_048_576:.1f} MB"
