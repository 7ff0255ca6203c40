"""The storage view's "Last backups" list (browser): when each kind of backup last ran (full
zip export, recipe-only export, folder backup), "never" when it has not, from
app/core/backup_log.py's `LastBackups`. Times are shown in the user's local time.

    last = last_backups(await vault.get_setting("lastExport"),
                        await vault.get_setting("folderBackup"), projects)
    section.append(backup_history_list(document, last))
"""

from __future__ import annotations

from app.core.backup_log import LastBackups
from app.ui.parts.dom import el, format_time

RECIPE_ONLY_NOTE = " (recipes only: it keeps no files, so it backs nothing up on its own)"


def backup_history_rows(last: LastBackups) -> list[tuple[str, str]]:
    """(label, when) for each kind of backup, in the order shown."""
    folder = format_time(last.folder)
    if last.folder_name:
        folder += f", to the folder “{last.folder_name}”"
    if last.folder_error:
        folder += f". Last attempt failed: {last.folder_error}"
    recipes = format_time(last.recipe_export)
    return [("Zip export (full)", format_time(last.full_export)),
            ("Recipe-only export", recipes + (RECIPE_ONLY_NOTE if last.recipe_export else "")),
            ("Folder backup", folder)]


def backup_history_list(doc, last: LastBackups):
    """A <dl aria-label="Last backups"> with one term and definition per kind."""
    items = []
    for label, when in backup_history_rows(last):
        items += [el(doc, "dt", {}, label), el(doc, "dd", {}, when)]
    return el(doc, "dl", {"class": "backup-history", "aria-label": "Last backups"}, *items)
