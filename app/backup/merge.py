"""Merge planning for an import (pure): given a checked manifest and what the vault already
holds, decide which projects and asset records to add, which to skip, and which bytes to
store. app/backup/service.py then writes the plan in ONE transaction.

Rules (README "Backups"):
- A project that exists is merged: an asset with the same id and SHA-256 is skipped; a new
  one is added as a version of its slot, keeping its version number unless the slot already
  uses it (then it becomes the slot's next version). The slot's local current version stays
  current; a slot new to this vault keeps the backup's current version.
- The same id with different bytes is a conflict: the backup's asset gets a new id.
- "Import as a copy" gives every project and asset a new id (titles get " (copy)").
- Bytes already stored (same SHA-256) are never stored twice. Bytes for a local asset that
  lost its media are restored. Assets without bytes anywhere are added as `missing`.
- Importing the same backup twice plans nothing the second time.

    plan = plan_import(manifest, Existing(projects, assets, blobs), present={"projects/..."})
    plan.is_noop, plan.assets, plan.store_shas
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from app.backup.schema import Manifest, ManifestAsset
from app.core.model import MAX_TITLE, Asset, Project, new_id, now_ms


@dataclass(frozen=True)
class Existing:
    """What the vault holds that an import touches: the manifest's projects (by id), every
    asset of those projects plus any asset whose id the manifest uses, and stored hashes."""

    projects: dict[str, Project] = field(default_factory=dict)
    assets: dict[str, Asset] = field(default_factory=dict)
    blobs: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ImportPlan:
    """What to write. `store_shas` are bytes from the archive that the vault lacks."""

    new_projects: tuple[Project, ...]
    merged_projects: tuple[str, ...]
    assets: tuple[Asset, ...]
    skipped: tuple[str, ...]
    renamed: dict[str, str]
    renumbered: int
    store_shas: frozenset[str]
    project_ids: tuple[str, ...]

    @property
    def is_noop(self) -> bool:
        return not (self.new_projects or self.assets or self.store_shas)


@dataclass(frozen=True)
class ImportReport:
    """What an import did, for the UI ("3 assets added, 12 already here")."""

    project_ids: tuple[str, ...]
    projects_added: int
    projects_merged: int
    assets_added: int
    assets_skipped: int
    assets_missing: int
    assets_renamed: int
    bytes_added: int

    @property
    def changed(self) -> bool:
        return bool(self.projects_added or self.assets_added or self.bytes_added)


def plan_import(manifest: Manifest, existing: Existing, present: set[str],
                as_copy: bool = False, make_id: Callable[[str], str] = new_id,
                now: int | None = None) -> ImportPlan:
    """Plan the import. `present` is the set of manifest paths whose files the archive holds."""
    stamp = now if now is not None else now_ms()
    project_ids = {p.id: make_id("prj") if as_copy else p.id for p in manifest.projects}
    renamed, skipped, added_items = {}, [], []
    for item in manifest.assets:
        local = existing.assets.get(item.asset.id)
        if as_copy or (local is not None and local.sha256 != item.asset.sha256):
            renamed[item.asset.id] = make_id("ast")
        elif local is not None:
            skipped.append(item.asset.id)
            continue
        added_items.append(item)
    slots = _SlotBook(existing.assets.values())
    assets = [_added(item, project_ids, renamed, slots, existing, present, as_copy,
                     manifest.exported_at) for item in sorted(added_items, key=_slot_order)]
    new_projects = [_new_project(p, project_ids[p.id], as_copy, manifest.exported_at, stamp)
                    for p in manifest.projects if as_copy or p.id not in existing.projects]
    touched = {a.project_id for a in assets}
    merged = [pid for pid in project_ids.values() if pid in existing.projects and pid in touched]
    shas = {item.asset.sha256 for item in manifest.assets if item.path in present}
    return ImportPlan(tuple(new_projects), tuple(merged), tuple(assets), tuple(skipped),
                      renamed, slots.renumbered, frozenset(shas - existing.blobs),
                      tuple(project_ids.values()))


def report_of(plan: ImportPlan, sizes: dict[str, int]) -> ImportReport:
    """The report of a committed plan; `sizes` maps sha256 -> bytes."""
    return ImportReport(plan.project_ids, len(plan.new_projects), len(plan.merged_projects),
                        len(plan.assets), len(plan.skipped),
                        sum(1 for a in plan.assets if a.missing), len(plan.renamed),
                        sum(sizes[sha] for sha in plan.store_shas))


def _slot_order(item: ManifestAsset) -> tuple:
    return (item.asset.project_id, item.asset.slot, item.asset.version)


class _SlotBook:
    """Versions and current flags per (project id, slot), local plus planned."""

    def __init__(self, local: object):
        self.versions: dict[tuple[str, str], set[int]] = {}
        self.has_local_current: set[tuple[str, str]] = set()
        self.renumbered = 0
        for asset in local:
            key = (asset.project_id, asset.slot)
            self.versions.setdefault(key, set()).add(asset.version)
            if asset.current:
                self.has_local_current.add(key)

    def place(self, project_id: str, slot: str, version: int) -> int:
        """The version number the asset gets: its own unless taken, else the slot's next."""
        used = self.versions.setdefault((project_id, slot), set())
        if version in used:
            version = max(used) + 1
            self.renumbered += 1
        used.add(version)
        return version


def _added(item: ManifestAsset, project_ids: dict[str, str], renamed: dict[str, str],
           slots: _SlotBook, existing: Existing, present: set[str], as_copy: bool,
           exported_at: int) -> Asset:
    asset = item.asset
    project_id = project_ids[asset.project_id]
    has_bytes = item.path in present or asset.sha256 in existing.blobs
    return replace(
        asset, id=renamed.get(asset.id, asset.id), project_id=project_id,
        version=slots.place(project_id, asset.slot, asset.version),
        current=asset.current and (project_id, asset.slot) not in slots.has_local_current,
        missing=not has_bytes, replaces=renamed.get(asset.replaces, asset.replaces),
        backed_up_at=None if as_copy else exported_at)


def _new_project(project: Project, project_id: str, as_copy: bool, exported_at: int,
                 stamp: int) -> Project:
    if not as_copy:
        return replace(project, backed_up_at=exported_at)
    title = f"{project.title[:MAX_TITLE - 7]} (copy)"
    return replace(project, id=project_id, title=title, updated_at=stamp, backed_up_at=None)
