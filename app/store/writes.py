"""What the vault's write transactions queue (browser): the request chains that run inside ONE
IndexedDB transaction, with callbacks that only touch JS objects prepared beforehand.

Each function takes an open `idb.Transaction`, issues requests and chains follow-ups with
`tx.then`, and returns a holder that is complete once the transaction committed. app/store/vault.py
composes them: a put is `add_version` + `put_blob`; a delete is `delete_records` +
`repair_current`.

    tx = idb.Transaction(db, ALL_STORES, "readwrite")
    versions = add_version(tx, asset)
    put_blob(tx, asset.sha256, blob, asset.mime_type, info)
    await tx.done()                       # versions[0] is the new version number
"""

from __future__ import annotations

from dataclasses import dataclass

from pyodide.ffi import to_js

from app.store import idb
from app.core.errors import NotFound
from app.core.model import Asset, Project, change_stamp
from app.store.library_index import indexed

ALL_STORES = ["projects", "assets", "blobs", "previews", "trash"]


@dataclass(frozen=True)
class DeleteReport:
    """What a delete removed: records, and the bytes of blobs no other record used."""

    assets_removed: int
    bytes_freed: int


def slot_key(project_id: str, slot: str):
    """The `[projectId, slot]` index key."""
    return to_js([project_id, slot])


def existing_project(record, project_id: str) -> Project:
    """The project in a `get` result, or NotFound (which aborts the transaction)."""
    found = idb.from_js_record(record)
    if found is None:
        raise NotFound(f"No project with id {project_id!r}")
    return Project.from_record(found)


def add_version(tx: idb.Transaction, asset: Asset) -> list[int]:
    """Queue: check the project, then put `asset` as the slot's next, current version.

    The callbacks run while the transaction waits on them, so they only patch JS objects
    prepared beforehand. Returns a list that holds the new version number after commit."""
    record = idb.to_js_record(indexed(asset.to_record()))
    versions: list[int] = []

    def touch_project(project):
        if project is None:
            raise NotFound(f"No project with id {asset.project_id!r}")
        project.updatedAt = change_stamp(project.updatedAt)
        tx.store("projects").put(project)

    def add(siblings):
        version = 0
        for sibling in siblings:
            version = max(version, sibling.version)
            if sibling.current:
                sibling.current = False
                tx.store("assets").put(sibling)
        record.version = version + 1
        tx.store("assets").add(record)
        versions.append(version + 1)

    tx.then(tx.store("projects").get(asset.project_id), touch_project)
    tx.then(tx.store("assets").index("projectId_slot").getAll(slot_key(asset.project_id,
                                                                        asset.slot)), add)
    return versions


def put_blob(tx: idb.Transaction, sha256: str, blob, mime_type: str, info) -> None:
    """Queue: store the bytes under their hash unless already there, with the preview `info`
    brings (an image's; audio and video get theirs later from app/store/preview_maker.py)."""
    blobs, previews = tx.store("blobs"), tx.store("previews")
    entry = idb.to_js_record({"sha256": sha256, "blob": blob, "size": int(blob.size),
                              "mimeType": mime_type})
    tx.then(blobs.count(sha256), lambda n: n or blobs.put(entry))
    made = getattr(info, "preview", None)
    if made is not None:
        preview = idb.to_js_record({"sha256": sha256, "blob": made, "size": int(made.size),
                                    "mimeType": made.type})
        tx.then(previews.count(sha256), lambda n: n or previews.put(preview))


def delete_records(tx: idb.Transaction, records: list[dict]) -> PendingReport:
    """Queue: delete records, then each blob/preview (or preview failure mark) whose hash no
    record uses any more (no live asset, and no trash item: the trash holds a reference too)."""
    report = PendingReport(len(records))
    assets = tx.store("assets")
    for record in records:
        assets.delete(record["id"])
    sizes = {r["sha256"]: r["size"] for r in records if not r.get("missing")}
    free_unreferenced(tx, sizes, report, {r["sha256"] for r in records})
    return report


def free_unreferenced(tx: idb.Transaction, sizes: dict[str, int], report: PendingReport,
                      shas=None) -> None:
    """Queue, after the deletes it follows: drop each blob/preview of `shas` (default: `sizes`)
    that no live asset and no trash item references. Requests run in the order issued, so the
    trash read and the counts see the transaction's own earlier deletes."""
    held: set[str] = set()

    def note_trash(items):
        for item in idb.from_js_record(items) or []:
            held.update(a["sha256"] for a in item.get("assets") or ())

    tx.then(tx.store("trash").getAll(), note_trash)
    for sha256 in sorted(set(sizes) if shas is None else set(shas)):
        tx.then(tx.store("assets").index("sha256").count(sha256),
                lambda n, sha256=sha256: n or sha256 in held
                or report.drop(tx, sha256, sizes.get(sha256, 0)))


def repair_current(tx: idb.Transaction, project_id: str, slot: str, on_promote=None) -> None:
    """Queue: if the slot lost its current version, the newest remaining one takes over
    (`on_promote(asset_id)` is told which, inside the transaction)."""
    def repair(siblings):
        records = idb.from_js_record(siblings)
        if records and not any(r["current"] for r in records):
            newest = max(records, key=lambda r: r["version"])
            tx.store("assets").put(idb.to_js_record({**newest, "current": True}))
            if on_promote is not None:
                on_promote(newest["id"])

    tx.then(tx.store("assets").index("projectId_slot").getAll(slot_key(project_id, slot)), repair)


class PendingReport:
    """Filled in by a delete transaction's callbacks; `settle()` once it committed."""

    def __init__(self, assets_removed: int):
        self.assets_removed = assets_removed
        self.bytes_freed = 0

    def drop(self, tx: idb.Transaction, sha256: str, size: int) -> None:
        tx.store("blobs").delete(sha256)
        tx.store("previews").delete(sha256)
        self.bytes_freed += size

    def settle(self) -> DeleteReport:
        return DeleteReport(self.assets_removed, self.bytes_freed)
