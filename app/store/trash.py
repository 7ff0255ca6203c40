"""The trash (browser): deleting a project, a slot or versions moves their records into ONE
`trash` record in the same transaction; restoring puts them back in one transaction; emptying
frees for good the blobs and previews nothing else references.

Blobs and previews stay while the trash references them: every delete that frees bytes
(app/store/writes.py `free_unreferenced`) counts live assets AND trash items. What an item
holds, its size, the 30-day rule and the restore plan are pure (app/store/trash_items.py).
Mixed into `app.store.vault.Vault`, which provides `_transaction` and `_commit`.

    moved = await vault.trash_project(project.id)       # TrashReport: item_id, label, files
    back = await vault.restore(moved.item_id)            # RestoreReport: notes if not exact
    for entry in await vault.trash_entries():            # newest first, with bytes only it holds
        ...
    report = await vault.empty_trash()                   # DeleteReport(assets, bytes_freed)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.core.errors import NotFound, VaultError
from app.core.model import Project, change_stamp, new_id, now_ms
from app.store import idb
from app.store.library_index import indexed
from app.store.trash_items import (KEEP_DAYS, TrashItem, held_bytes, older_than, restore_plan)
from app.store.writes import (ALL_STORES, DeleteReport, PendingReport, free_unreferenced,
                              repair_current, slot_key)


@dataclass(frozen=True)
class TrashReport:
    """What a move to the trash took: the item (None when nothing was moved), its files and
    their bytes (shared ones included)."""

    item_id: str | None
    label: str
    assets_moved: int
    size: int


@dataclass(frozen=True)
class RestoreReport:
    """What a restore put back, and sentences on what differed from an exact restore."""

    label: str
    assets_restored: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrashEntry:
    """A trash item as the trash view lists it: `held` is the bytes only it holds (what
    deleting it for good frees)."""

    item: TrashItem
    held: int


class TrashStore:
    """The vault's trash methods (one transaction each)."""

    # --- moving in ------------------------------------------------------------------------------
    async def trash_project(self, project_id: str) -> TrashReport:
        """Move the project and all its assets into one trash item."""
        tx = self._transaction(ALL_STORES, "readwrite")
        found: dict = {}

        def with_project(record):
            found["project"] = idb.from_js_record(record)
            if found["project"] is None:
                raise NotFound(f"No project with id {project_id!r}; nothing was deleted")

        def move(records):
            project = found["project"]
            assets = idb.from_js_record(records) or []
            item = TrashItem(id=new_id("trs"), trashed_at=now_ms(), what="project",
                             label=project["title"], assets=tuple(assets), project_id=project_id,
                             project=project)
            for record in assets:
                tx.store("assets").delete(record["id"])
            tx.store("projects").delete(project_id)
            tx.store("trash").add(idb.to_js_record(item.to_record()))
            found["item"] = item

        tx.then(tx.store("projects").get(project_id), with_project)
        tx.then(tx.store("assets").index("projectId").getAll(project_id), move)
        await self._commit(tx)
        return _moved(found["item"])

    async def trash_assets(self, asset_ids: list[str], keep_favorites: bool = True,
                           label: str | None = None) -> TrashReport:
        """Move versions (one, or a library selection) into one trash item; favorites stay
        unless `keep_favorites` is False. A slot that loses its current version gets its newest
        remaining one as current, and the item remembers it so Undo can switch back."""
        if not asset_ids:
            return TrashReport(None, label or "", 0, 0)
        tx = self._transaction(ALL_STORES, "readwrite")
        found: list[dict] = []
        state: dict = {"promoted": []}

        def collect(record):
            found.append(idb.from_js_record(record))
            if len(found) < len(asset_ids):
                return
            doomed = [r for r in found if r and not (keep_favorites and r.get("favorite"))]
            if not doomed:
                return
            for record in doomed:
                tx.store("assets").delete(record["id"])
            for key in sorted({(r["projectId"], r["slot"]) for r in doomed}):
                repair_current(tx, *key, on_promote=state["promoted"].append)
            projects = {r["projectId"] for r in doomed}
            state["item"] = TrashItem(
                id=new_id("trs"), trashed_at=now_ms(), what="versions",
                label=label or _versions_label(doomed), assets=tuple(doomed),
                project_id=next(iter(projects)) if len(projects) == 1 else None)
            # Issued after the repairs, so its callback runs once they have promoted.
            tx.then(tx.store("trash").count(state["item"].id), write_item)

        def write_item(_count):
            item = state["item"]
            state["item"] = replace(item, promoted=tuple(state["promoted"]))
            tx.store("trash").add(idb.to_js_record(state["item"].to_record()))

        for asset_id in asset_ids:
            tx.then(tx.store("assets").get(asset_id), collect)
        await self._commit(tx)
        item = state.get("item")
        return _moved(item) if item else TrashReport(None, label or "", 0, 0)

    async def trash_slots(self, project_id: str, slots: list[str], label: str | None = None,
                          project: Project | None = None, entry: dict | None = None) -> TrashReport:
        """Move every version of these slots (a removed scene or character) into one trash
        item. `project`, if given, is the project as it is without them (saved in the same
        transaction); `entry` ({list, index, value}) is the storyboard entry Undo puts back."""
        tx = self._transaction(ALL_STORES, "readwrite")
        gathered: list[dict] = []
        state: dict = {}

        def check_project(record):
            if idb.from_js_record(record) is None:
                raise NotFound(f"No project with id {project_id!r}; nothing was deleted")
            if project is not None:
                tx.store("projects").put(idb.to_js_record(project.to_record()))

        def gather(records):
            gathered.extend(idb.from_js_record(records) or [])

        def write_item(_count):
            for record in gathered:
                tx.store("assets").delete(record["id"])
            item = TrashItem(id=new_id("trs"), trashed_at=now_ms(), what="slot",
                             label=label or ", ".join(slots), assets=tuple(gathered),
                             project_id=project_id, entry=entry)
            tx.store("trash").add(idb.to_js_record(item.to_record()))
            state["item"] = item

        tx.then(tx.store("projects").get(project_id), check_project)
        for slot in slots:
            tx.then(tx.store("assets").index("projectId_slot").getAll(slot_key(project_id, slot)),
                    gather)
        tx.then(tx.store("trash").count(""), write_item)
        await self._commit(tx)
        return _moved(state["item"])

    # --- coming back ----------------------------------------------------------------------------
    async def restore(self, item_id: str) -> RestoreReport:
        """Put an item's records back in one transaction: the same ids, versions and current
        version; beside newer versions when its slots got some meanwhile (see `notes`)."""
        tx = self._transaction(ALL_STORES, "readwrite")
        state: dict = {"live": {}}

        def with_item(record):
            found = idb.from_js_record(record)
            if found is None:
                raise NotFound(f"Nothing in the trash has id {item_id!r}: it was restored or "
                               "deleted for good already. Reload to see the trash as it is.")
            item = state["item"] = TrashItem.from_record(found)
            for project_id in sorted({a["projectId"] for a in item.assets} | {item.project_id}
                                     - {None}):
                tx.then(tx.store("projects").get(project_id),
                        lambda p, project_id=project_id: with_project(item, project_id, p))
            for key in sorted({(a["projectId"], a["slot"]) for a in item.assets}):
                tx.then(tx.store("assets").index("projectId_slot").getAll(slot_key(*key)),
                        lambda records, key=key: state["live"].__setitem__(
                            key, idb.from_js_record(records) or []))
            tx.then(tx.store("trash").count(item_id), put_back)

        def with_project(item: TrashItem, project_id: str, record):
            project = idb.from_js_record(record)
            if item.what == "project" and project_id == item.project_id:
                if project is not None:
                    raise VaultError(f"A project with id {project_id} is in the vault again "
                                     "(imported from a backup?); nothing was restored.")
                tx.store("projects").add(idb.to_js_record(item.project))
                return
            if project is None:
                raise NotFound(f"The project of “{item.label}” is not in the vault (it is in the "
                               "trash or was deleted for good): restore the project first. "
                               "Nothing was restored.")
            if item.entry:
                tx.store("projects").put(idb.to_js_record(_with_entry(project, item.entry)))

        def put_back(_count):
            live_ids = {r["id"] for records in state["live"].values() for r in records}
            if back := sorted(live_ids & {a["id"] for a in state["item"].assets}):
                raise VaultError(f"“{state['item'].label}” is in the vault again ({len(back)} of "
                                 "its files, imported from a backup?); nothing was restored. "
                                 "Delete it for good from the trash.")
            plan = restore_plan(state["item"], state["live"])
            for record in plan.records:
                tx.then(tx.store("blobs").count(record["sha256"]),
                        lambda n, record=record: tx.store("assets").add(idb.to_js_record(indexed(
                            record if n or record.get("missing") else {**record, "missing": True}))))
            for key, siblings in state["live"].items():
                for sibling in siblings:
                    if sibling["id"] in plan.demote:
                        tx.store("assets").put(idb.to_js_record({**sibling, "current": False}))
            tx.store("trash").delete(item_id)
            state["plan"] = plan

        tx.then(tx.store("trash").get(item_id), with_item)
        await self._commit(tx)
        item, plan = state["item"], state["plan"]
        return RestoreReport(item.label, len(plan.records), plan.notes)

    # --- listing --------------------------------------------------------------------------------
    async def trash_entries(self) -> list[TrashEntry]:
        """Every trash item, newest first, with the bytes only it holds."""
        tx = self._transaction(["trash", "assets", "blobs"])
        items: list[TrashItem] = []
        live: set[str] = set()
        stored: set[str] = set()

        def with_items(records):
            items.extend(TrashItem.from_record(r) for r in idb.from_js_record(records) or [])
            for sha in sorted(set().union(*(i.shas for i in items))):
                tx.then(tx.store("assets").index("sha256").count(sha),
                        lambda n, sha=sha: n and live.add(sha))
                tx.then(tx.store("blobs").count(sha), lambda n, sha=sha: n and stored.add(sha))

        tx.then(tx.store("trash").getAll(), with_items)
        await tx.done()
        return [TrashEntry(item, held_bytes(item, live, items, stored))
                for item in sorted(items, key=lambda i: -i.trashed_at)]

    # --- freeing for good -----------------------------------------------------------------------
    async def purge(self, item_id: str) -> DeleteReport:
        """Delete one item for good: its bytes go unless a live asset or another item uses them."""
        tx = self._transaction(ALL_STORES, "readwrite")
        reports: list[PendingReport] = []

        def drop(record):
            found = idb.from_js_record(record)
            if found is None:
                raise NotFound(f"Nothing in the trash has id {item_id!r}: it was restored or "
                               "deleted for good already.")
            reports.append(_drop_items(tx, [TrashItem.from_record(found)]))

        tx.then(tx.store("trash").get(item_id), drop)
        await self._commit(tx)
        return reports[0].settle()

    async def empty_trash(self) -> DeleteReport:
        """Delete every trash item for good, in one transaction."""
        return await self._drop_where(lambda items: items)

    async def free_old_trash(self, now: int | None = None, days: int = KEEP_DAYS) -> DeleteReport:
        """Delete for good the items trashed more than `days` ago (what storage pressure frees
        first), in one transaction."""
        moment = now_ms() if now is None else now
        return await self._drop_where(lambda items: older_than(items, moment, days))

    async def _drop_where(self, choose) -> DeleteReport:
        tx = self._transaction(ALL_STORES, "readwrite")
        reports: list[PendingReport] = []

        def drop(records):
            items = [TrashItem.from_record(r) for r in idb.from_js_record(records) or []]
            reports.append(_drop_items(tx, choose(items)))

        tx.then(tx.store("trash").getAll(), drop)
        await self._commit(tx)
        return reports[0].settle()


def _drop_items(tx: idb.Transaction, items: list[TrashItem]) -> PendingReport:
    """Queue: delete the items, then free what nothing references any more."""
    report = PendingReport(sum(len(i.assets) for i in items))
    sizes: dict[str, int] = {}
    for item in items:
        tx.store("trash").delete(item.id)
        sizes.update(item.sizes)
    free_unreferenced(tx, sizes, report, set().union(*(i.shas for i in items)))
    return report


def _moved(item: TrashItem) -> TrashReport:
    return TrashReport(item.id, item.label, len(item.assets), sum(item.sizes.values()))


def _versions_label(records: list[dict]) -> str:
    if len(records) == 1:
        return f"{records[0]['slot']} version {records[0]['version']}"
    return f"{len(records)} files"


def _with_entry(project: dict, entry: dict) -> dict:
    """The project record with a removed storyboard entry back at its place (if not there)."""
    listed = list(project.get(entry["list"]) or [])
    if all(e.get("id") != entry["value"].get("id") for e in listed):
        listed.insert(min(int(entry.get("index", len(listed))), len(listed)), entry["value"])
    return {**project, entry["list"]: listed, "updatedAt": change_stamp(project["updatedAt"])}


__all__ = ["RestoreReport", "TrashEntry", "TrashReport", "TrashStore"]
