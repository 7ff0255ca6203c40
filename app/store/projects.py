"""The vault's project methods (browser): create, read, edit, list and delete projects.

Mixed into `app.store.vault.Vault`, which provides `_transaction` and `_commit`; deleting a project
cascades to its assets with the same reference-counted blob cleanup as every other delete.

    project = await vault.create_project("Moon heist", aspect_ratio="9:16")
    project = await vault.rename_project(project.id, "Moon heist II")
    report = await vault.delete_project(project.id)     # DeleteReport(assets_removed, bytes_freed)
"""

from __future__ import annotations

from dataclasses import replace

from app.store import idb
from app.core.errors import NotFound
from app.core.model import Project, now_ms
from app.store.writes import ALL_STORES, DeleteReport, PendingReport, delete_records, existing_project


class ProjectStore:
    """Project methods; needs `_transaction(stores, mode)` and `_commit(tx)` from the vault."""

    # --- projects -------------------------------------------------------------------------------
    async def create_project(self, title: str, **details: str) -> Project:
        project = Project.create(title, **details)
        tx = self._transaction(["projects"], "readwrite")
        tx.store("projects").add(idb.to_js_record(project.to_record()))
        await self._commit(tx)
        return project

    async def get_project(self, project_id: str) -> Project:
        tx = self._transaction(["projects"])
        found: list[dict | None] = []
        tx.then(tx.store("projects").get(project_id), lambda r: found.append(idb.from_js_record(r)))
        await tx.done()
        if not found or found[0] is None:
            raise NotFound(f"No project with id {project_id!r}")
        return Project.from_record(found[0])

    async def update_project(self, project_id: str, **changes) -> Project:
        """Apply `changes` (title, description, style, mood, aspect_ratio) atomically."""
        tx = self._transaction(["projects"], "readwrite")
        updated: list[Project] = []

        def apply(record):
            project = existing_project(record, project_id).updated(**changes)
            tx.store("projects").put(idb.to_js_record(project.to_record()))
            updated.append(project)

        tx.then(tx.store("projects").get(project_id), apply)
        await self._commit(tx)
        return updated[0]

    async def save_project(self, project: Project) -> Project:
        """Store an edited project (its characters and scenes, say); it must exist already."""
        tx = self._transaction(["projects"], "readwrite")
        record = idb.to_js_record(project.to_record())

        def replace_existing(found):
            if found is None:
                raise NotFound(f"No project with id {project.id!r}")
            tx.store("projects").put(record)

        tx.then(tx.store("projects").get(project.id), replace_existing)
        await self._commit(tx)
        return project

    async def rename_project(self, project_id: str, title: str) -> Project:
        return await self.update_project(project_id, title=title)

    async def mark_backed_up(self, project_id: str, when: int | None = None,
                             asset_ids: set[str] | None = None) -> Project:
        """Record that the project and its assets were exported at `when` (default now). With
        `asset_ids`, only those assets: a file stored while the export ran is not in it."""
        stamp = when or now_ms()
        tx = self._transaction(["projects", "assets"], "readwrite")
        result: list[Project] = []

        def mark_project(record):
            project = replace(existing_project(record, project_id), backed_up_at=stamp)
            tx.store("projects").put(idb.to_js_record(project.to_record()))
            result.append(project)

        def mark_assets(records):
            for record in idb.from_js_record(records):
                if asset_ids is None or record["id"] in asset_ids:
                    tx.store("assets").put(idb.to_js_record({**record, "backedUpAt": stamp}))

        tx.then(tx.store("projects").get(project_id), mark_project)
        tx.then(tx.store("assets").index("projectId").getAll(project_id), mark_assets)
        await self._commit(tx)
        return result[0]

    async def list_projects(self) -> list[Project]:
        """Every project, most recently changed first (through the `updatedAt` index)."""
        tx = self._transaction(["projects"])
        found: list = []
        tx.then(tx.store("projects").index("updatedAt").getAll(), found.append)
        await tx.done()
        return [Project.from_record(r) for r in reversed(idb.from_js_record(found[0]))]

    async def delete_project(self, project_id: str) -> DeleteReport:
        """Delete for good the project, its assets, and blobs/previews that no other asset and no
        trash item uses. The app's own delete goes to the trash instead (`trash_project`)."""
        tx = self._transaction(ALL_STORES, "readwrite")
        report: list[PendingReport] = []

        def delete_all(records):
            report.append(delete_records(tx, idb.from_js_record(records)))
            tx.store("projects").delete(project_id)

        tx.then(tx.store("projects").get(project_id),
                lambda record: existing_project(record, project_id))
        tx.then(tx.store("assets").index("projectId").getAll(project_id), delete_all)
        await self._commit(tx)
        return report[0].settle()
