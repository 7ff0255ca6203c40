"""When things were last backed up (pure): the "lastExport" settings record an export writes,
the last backup of each kind (full zip, recipe-only zip, folder), and how long a project has
had changes that are in no backup. No I/O: the caller reads the records and the settings.

A backup is an export that held the files (a full zip: `backed_up_at` on the project and its
assets) or the live folder backup ("folderBackup" setting, `lastBackupAt`), which copies every
project: a project whose last change (`updated_at`, which every stored file moves on) is not
newer than that time is wholly in the folder. A recipe-only export holds no files, so it backs
nothing up.

    >>> record = export_record(None, at=1_000, recipe_only=False, project_ids=["prj_1"])
    >>> record
    {'at': 1000, 'recipeOnly': False, 'projects': ['prj_1'], 'fullAt': 1000}
    >>> last_backups(record, None, []).full_export
    1000
    >>> unbacked_since(project, assets, folder_at=None)      # Unix ms of the oldest unbacked change
"""

from __future__ import annotations

from dataclasses import dataclass

DAY_MS = 24 * 60 * 60 * 1000


def export_record(previous: dict | None, at: int, recipe_only: bool,
                  project_ids: list[str]) -> dict:
    """The "lastExport" record after an export at `at`: what this export was ({at, recipeOnly,
    projects}) plus the time of the last export of each kind (`fullAt`, `recipeOnlyAt`), carried
    over from `previous` so a recipe-only export does not hide the last full one."""
    previous = previous or {}
    record = {"at": at, "recipeOnly": bool(recipe_only), "projects": list(project_ids)}
    kept = {"fullAt": previous.get("fullAt"), "recipeOnlyAt": previous.get("recipeOnlyAt")}
    kept["recipeOnlyAt" if recipe_only else "fullAt"] = at
    return record | {key: value for key, value in kept.items() if value is not None}


@dataclass(frozen=True)
class LastBackups:
    """Unix ms of the last backup of each kind (None: never), and the folder's name and error."""

    full_export: int | None
    recipe_export: int | None
    folder: int | None
    folder_name: str | None = None
    folder_error: str | None = None


def last_backups(last_export: dict | None, folder_backup: dict | None, projects) -> LastBackups:
    """From the "lastExport" and "folderBackup" settings. A vault exported before the
    "lastExport" record existed still shows its last full export: the newest project
    `backed_up_at` (a full export or a restored backup sets it)."""
    last_export, folder_backup = last_export or {}, folder_backup or {}
    full = last_export.get("fullAt")
    if full is None and last_export.get("at") is not None and not last_export.get("recipeOnly"):
        full = last_export["at"]
    if full is None:
        full = max((p.backed_up_at for p in projects if p.backed_up_at), default=None)
    recipe = last_export.get("recipeOnlyAt")
    if recipe is None and last_export.get("recipeOnly"):
        recipe = last_export.get("at")
    return LastBackups(full, recipe, folder_backup.get("lastBackupAt"),
                       _text(folder_backup.get("name")), _text(folder_backup.get("lastError")))


def _text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def folder_covers(project, folder_at: int | None) -> bool:
    """True when the folder backup ran after the project's last change (all of it is there)."""
    return folder_at is not None and project.updated_at <= folder_at


def unbacked_since(project, assets, folder_at: int | None = None) -> int | None:
    """Unix ms of the project's oldest change that is in no backup, or None when it is all
    backed up.

    - Never backed up (nor in the folder): its creation; everything in it is unbacked.
    - Backed up at B (the newest of its full export and the folder backup): its `updated_at`
      if newer than B, and each stored asset in no backup (`backed_up_at` None, not in the
      folder) at its `created_at`, but never earlier than B: a file stored after the backup
      may carry an older date (a clip's WebM tags). The oldest of these.

    `updated_at` is the project's last change, so a text edited twice after a backup counts
    from the second edit. `assets` may hold other projects' assets; they are skipped."""
    if folder_covers(project, folder_at):
        return None
    if not needs_assets(project, folder_at):
        return project.created_at
    anchor = max(t for t in (project.backed_up_at, folder_at) if t is not None)
    changes = [project.updated_at] if project.updated_at > anchor else []
    for asset in assets:
        if asset.project_id == project.id and is_unbacked(asset, folder_at):
            changes.append(max(asset.created_at, anchor))
    return min(changes, default=None)


def needs_assets(project, folder_at: int | None = None) -> bool:
    """Whether `unbacked_since` must look at the project's assets: only when it has a backup
    that is not the whole story (so a vault never backed up reads no asset records)."""
    if folder_covers(project, folder_at):
        return False
    anchor = max((t for t in (project.backed_up_at, folder_at) if t is not None), default=None)
    return anchor is not None and anchor >= project.created_at


def is_unbacked(asset, folder_at: int | None = None) -> bool:
    """A stored asset that no full export holds, stored after the folder backup (if any)."""
    if asset.missing or asset.backed_up_at is not None:
        return False
    return folder_at is None or asset.created_at > folder_at


def days_between(earlier: int, later: int) -> int:
    """Whole days from `earlier` to `later` (Unix ms), rounded down: 8.9 days -> 8."""
    return max(0, (later - earlier) // DAY_MS)
