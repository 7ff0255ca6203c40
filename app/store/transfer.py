"""The vault's bulk reads and the import's one write (browser): what backups and galleries need
from IndexedDB, so that only the vault touches it.

Mixed into `app.store.vault.Vault`, which provides `_transaction` and `_commit`. Each method is ONE
transaction, built first and awaited once (app/store/idb.py):

    blobs = await vault.read_blobs({asset.sha256})            # sha256 -> stored Blob
    previews = await vault.read_previews(assets)              # asset id -> preview Blob
    existing = await vault.snapshot(project_ids, asset_ids, shas)
    await vault.apply_import(plan, {sha: StagedFile(blob, "image/png", info)})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from app.store import idb
from app.backup.merge import Existing, ImportPlan
from app.core.errors import BackupError, QuotaExceeded
from app.core.model import Asset, Project, change_stamp
from app.store.library_index import indexed
from app.store.writes import ALL_STORES, put_blob


@dataclass(frozen=True)
class StagedFile:
    """Bytes checked for storing: a JS Blob, its media type, and its inspection (or None when
    the vault already holds these bytes)."""

    blob: object
    mime_type: str
    info: object | None


class TransferStore:
    """Bulk methods; needs `_transaction(stores, mode)` and `_commit(tx)` from the vault."""

    async def read_blobs(self, shas: Iterable[str]) -> dict[str, object]:
        """The stored Blobs of these hashes (absent ones are left out)."""
        tx = self._transaction(["blobs"])
        found: dict[str, object] = {}
        for sha in shas:
            tx.then(tx.store("blobs").get(sha),
                    lambda entry, sha=sha: None if idb.from_js_record(entry) is None
                    else found.__setitem__(sha, entry.blob))
        await tx.done()
        return found

    async def read_previews(self, assets: Iterable[Asset]) -> dict[str, object]:
        """{asset id: preview Blob} for `assets`, by the sha256 their records already give.
        Sixty `get_preview` calls take 150-600 ms in Pyodide, one transaction about 20 ms."""
        tx = self._transaction(["previews"])
        found: dict[str, object] = {}
        for asset in assets:
            tx.then(tx.store("previews").get(asset.sha256),  # a failure mark has no blob
                    lambda entry, asset_id=asset.id: None if not getattr(entry, "blob", None)
                    else found.__setitem__(asset_id, entry.blob))
        await tx.done()
        return found

    async def snapshot(self, project_ids: Iterable[str], asset_ids: Iterable[str],
                       shas: Iterable[str]) -> Existing:
        """What the vault holds of these projects (with all their assets), assets and blobs."""
        tx = self._transaction(["projects", "assets", "blobs"])
        projects: dict[str, Project] = {}
        assets: dict[str, Asset] = {}
        blobs: set[str] = set()

        def keep_assets(records):
            for record in idb.from_js_record(records) or []:
                assets[record["id"]] = Asset.from_record(record)

        def keep_project(record):
            if (found := idb.from_js_record(record)) is not None:
                projects[found["id"]] = Project.from_record(found)

        for project_id in project_ids:
            tx.then(tx.store("projects").get(project_id), keep_project)
            tx.then(tx.store("assets").index("projectId").getAll(project_id), keep_assets)
        for asset_id in asset_ids:
            tx.then(tx.store("assets").getAll(asset_id), keep_assets)
        for sha in set(shas):
            tx.then(tx.store("blobs").count(sha), lambda n, sha=sha: n and blobs.add(sha))
        await tx.done()
        return Existing(projects, assets, frozenset(blobs))

    async def apply_import(self, plan: ImportPlan, staged: dict[str, StagedFile]) -> None:
        """Every write of `plan` in ONE readwrite transaction: all of it lands or none. Raises
        BackupError (vault_changed) when the vault moved since the snapshot, QuotaExceeded when
        the disk is full; either way nothing was written."""
        tx = self._transaction(ALL_STORES, "readwrite")
        for project in plan.new_projects:
            _add_new(tx, "projects", project.id, project.to_record())
        for project_id in plan.merged_projects:
            _touch(tx, project_id)
        for asset in plan.assets:
            if asset.missing or asset.sha256 in plan.store_shas:
                _add_new(tx, "assets", asset.id, indexed(asset.to_record()))
            else:  # relies on bytes already stored: confirm they still are
                _add_relying(tx, asset)
        for sha in plan.store_shas:
            item = staged[sha]
            put_blob(tx, sha, item.blob, item.mime_type, item.info)
            _clear_missing(tx, sha)
        try:
            await tx.done()
        except QuotaExceeded as exc:
            raise QuotaExceeded(f"{exc} Nothing was imported. Free space by deleting old "
                                "versions or projects, then import again.") from None
        self._changed_stores(tx)


def _changed(what: str) -> BackupError:
    return BackupError(f"{what} appeared in this vault while the backup was being checked "
                       "(another tab?). Nothing was imported; import again.", "vault_changed")


def _add_new(tx: idb.Transaction, store: str, key: str, record: dict) -> None:
    def add(found):
        if idb.from_js_record(found) is not None:
            raise _changed(f"{store[:-1].title()} {key}")
        tx.store(store).add(idb.to_js_record(record))

    tx.then(tx.store(store).get(key), add)


def _add_relying(tx: idb.Transaction, asset: Asset) -> None:
    def add(count):
        _add_new(tx, "assets", asset.id, indexed({**asset.to_record(), "missing": not count}))

    tx.then(tx.store("blobs").count(asset.sha256), add)


def _touch(tx: idb.Transaction, project_id: str) -> None:
    def bump(record):
        if idb.from_js_record(record) is None:
            raise BackupError(f"Project {project_id} was deleted while the backup was being "
                              "checked. Nothing was imported; import again.", "vault_changed")
        record.updatedAt = change_stamp(record.updatedAt)
        tx.store("projects").put(record)

    tx.then(tx.store("projects").get(project_id), bump)


def _clear_missing(tx: idb.Transaction, sha: str) -> None:
    """Local assets that lost these bytes get them back (as Vault.attach_media does)."""
    def clear(records):
        for record in idb.from_js_record(records) or []:
            if record.get("missing"):
                tx.store("assets").put(idb.to_js_record({**record, "missing": False}))

    tx.then(tx.store("assets").index("sha256").getAll(sha), clear)
