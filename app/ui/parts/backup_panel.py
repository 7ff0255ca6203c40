"""Backup controls (browser): export buttons (streamed into the file the user picks where the
browser has a save picker, downloaded elsewhere), import from a file picker or by dropping a zip
on the dashboard, and a progress bar with bytes done and total and a Cancel button.

The work itself is app/backup/service.py; this module only asks, shows progress and reports. The
progress region stays on screen while an export or import runs and is removed afterwards.

    toolbar = backup_toolbar(app, scope)            # Export all, Export recipes only, Import
    scope.on(button, "click", lambda e: export_projects(app, [project.id]))
"""

from __future__ import annotations

from app.core.errors import BackupCancelled
from app.ui.parts.dialogs import Field, form_dialog
from app.ui.parts.dom import Scope, el, format_bytes

# app.backup.service (and the zip modules behind it) are imported on first use, not at start-up: the
# dashboard renders before any backup is asked for, and boot time counts every import.

MERGE = "Merge into existing projects"
COPY = "Import as a copy (new ids)"


class ProgressPanel:
    """A role=region with a <progress>, 'X of Y' text and a Cancel button."""

    def __init__(self, app, title: str):
        self.app = app
        from app.core.cancel import CancelToken

        self.scope = Scope()
        self.token = CancelToken()
        doc = app.document
        self.bar = el(doc, "progress", {"max": 1, "value": 0, "aria-label": title})
        self.text = el(doc, "span", {"class": "muted small", "aria-live": "polite"}, "Starting…")
        cancel = el(doc, "button", {"type": "button"}, "Cancel")
        self.scope.on(cancel, "click", lambda event: self.token.cancel())
        self.node = el(doc, "section", {"class": "progress-panel", "role": "region",
                                        "aria-label": title},
                       el(doc, "strong", {}, title), self.bar, self.text, cancel)
        doc.getElementById("notices").append(self.node)

    def update(self, done: int, total: int) -> None:
        self.bar.max = max(total, 1)
        self.bar.value = done
        self.text.textContent = f"{format_bytes(done)} of {format_bytes(total)}"

    def close(self) -> None:
        self.node.remove()
        self.scope.dispose()


def backup_toolbar(app, scope):
    """The dashboard's backup buttons and the hidden file input behind Import."""
    doc = app.document
    export_all = el(doc, "button", {"type": "button"}, "Export all")
    recipes = el(doc, "button", {"type": "button"}, "Export recipes only")
    picker = el(doc, "input", {"type": "file", "accept": ".zip,application/zip",
                               "class": "visually-hidden", "aria-label": "Choose a backup to import"})
    importer = el(doc, "button", {"type": "button"}, "Import backup")
    scope.on(export_all, "click", lambda event: export_projects(app, None))
    scope.on(recipes, "click", lambda event: export_projects(app, None, recipe_only=True))
    scope.on(importer, "click", lambda event: picker.click())
    scope.on(picker, "change", lambda event: _picked(app, picker))
    return el(doc, "div", {"class": "card-actions backup-toolbar"}, export_all, recipes,
              importer, picker)


def accept_dropped_backups(app, scope, node) -> None:
    """Dropping a .zip on `node` (the dashboard) imports it."""
    scope.on(node, "dragover", lambda event: event.preventDefault())

    def dropped(event):
        event.preventDefault()
        files = event.dataTransfer.files if event.dataTransfer else None
        if files and files.length:
            return import_backup(app, files.item(0))

    scope.on(node, "drop", dropped)


async def export_projects(app, project_ids: list[str] | None, recipe_only: bool = False) -> None:
    """Export: where the browser has a save picker, straight into the file the user chooses
    (streamed, so memory stays flat); elsewhere as a download of the composed archive."""
    from app.backup import service as backups
    from app.ui.parts.download import pick_save_file, save

    title = "Exporting recipes" if recipe_only else "Exporting backup"
    try:  # the picker first, while the click still counts as the user's gesture
        handle = await pick_save_file(await backups.export_name(app.vault, project_ids,
                                                                recipe_only))
    except BackupCancelled:
        app.info("Export cancelled; nothing was changed.")
        return
    if handle is not None:
        result = await _with_progress(
            app, title, "Export",
            lambda panel: backups.export_to_file(app.vault, handle, project_ids,
                                                 recipe_only=recipe_only,
                                                 on_progress=panel.update, cancel=panel.token),
            cancelled=f"Export cancelled: {handle.name} was not written (it keeps what it held "
                      "before, empty if new) and nothing was changed.")
        if result is None:
            return
        written, _filename = result
        app.info(f"Saved {handle.name} ({format_bytes(written)}). Keep it somewhere safe: it is "
                 "how your files survive a new computer or a cleared browser.")
        app.refresh()
        return
    result = await _with_progress(
        app, title, "Export",
        lambda panel: backups.export(app.vault, project_ids, recipe_only=recipe_only,
                                     on_progress=panel.update, cancel=panel.token))
    if result is None:
        return
    archive, filename = result
    save(archive, filename)
    app.info(f"Exported {filename} ({format_bytes(int(archive.size))}). Keep it somewhere safe: "
             "it is how your files survive a new computer or a cleared browser.")
    app.refresh()


async def _picked(app, picker) -> None:
    files = picker.files
    if files.length:
        await import_backup(app, files.item(0))
    picker.value = ""


async def import_backup(app, file) -> None:
    """Ask merge or copy, then import `file`; every refusal is an alert, nothing is written."""
    choice = await form_dialog(app.document, f"Import {file.name}", [
        Field("mode", "How to import", MERGE, kind="select", options=(MERGE, COPY))],
        submit="Import")
    if choice is None:
        return
    from app.backup import service as backups

    report = await _with_progress(
        app, "Importing backup", "Import",
        lambda panel: backups.import_archive(app.vault, file, as_copy=choice["mode"] == COPY,
                                             on_progress=panel.update, cancel=panel.token))
    if report is None:
        return
    app.info(_summary(file.name, report))
    app.refresh()


async def _with_progress(app, title: str, action: str, work, cancelled: str | None = None):
    """Run `work(panel)` under a ProgressPanel; None (and a notice, `cancelled` if given) if
    the user cancelled."""
    panel = ProgressPanel(app, title)
    try:
        return await work(panel)
    except BackupCancelled:
        app.info(cancelled or f"{action} cancelled; nothing was changed.")
        return None
    finally:
        panel.close()


def _summary(name: str, report) -> str:
    parts = [f"{report.assets_added} files added", f"{report.assets_skipped} already here"]
    if report.assets_missing:
        parts.append(f"{report.assets_missing} recipe-only (missing: use “Regenerate all missing”)")
    projects = report.projects_added + report.projects_merged
    return (f"Imported {name}: {projects} project{'s' if projects != 1 else ''}, "
            + ", ".join(parts) + f", {format_bytes(report.bytes_added)} stored.")
