"""Dashboard view (browser): one card per project with its thumbnail, size, last change and
backup state; create, rename and delete projects (a delete goes to the trash, with Undo).

    await dashboard.render(app, scope, container)
"""

from __future__ import annotations

from app.core.model import ASPECT_RATIOS
from app.ui.parts.backup_panel import accept_dropped_backups, backup_toolbar, export_projects
from app.ui.parts.dialogs import Field, confirm_dialog, form_dialog
from app.ui.parts.dom import el, format_bytes, format_time, replace_children
from app.ui.parts.undo import files, offer_undo

EMPTY_TEXT = (
    "Projects you create appear here, with their thumbnails, characters, scenes, clips and "
    "narration. Every file stays in this browser's storage on this device: nothing is uploaded. "
    "To restore a backup, use Import backup or drop the .zip here."
)


async def render(app, scope, container) -> None:
    doc = app.document
    projects = await app.vault.list_projects()
    create = el(doc, "button", {"type": "button", "class": "primary"}, "New project")
    scope.on(create, "click", lambda event: _create(app))
    header = el(doc, "div", {"class": "view-header"}, el(doc, "h1", {}, "Projects"),
                el(doc, "div", {"class": "card-actions"}, backup_toolbar(app, scope), create))
    accept_dropped_backups(app, scope, container)
    if not projects:
        replace_children(container, header, _empty_state(doc))
        return
    cards = [await _card(app, scope, project) for project in projects]
    replace_children(container, header,
                     el(doc, "ul", {"class": "project-list", "aria-label": "Projects"}, *cards))


def _empty_state(doc):
    icon = el(doc, "img", {"src": "static/icons/icon.svg", "alt": "", "width": 56, "height": 56,
                           "class": "empty-state-icon"})
    return el(doc, "section", {"class": "empty-state", "data-testid": "empty-projects"}, icon,
              el(doc, "h2", {}, "No projects yet"), el(doc, "p", {}, EMPTY_TEXT))


async def _card(app, scope, project):
    doc = app.document
    assets = await app.vault.list_assets(project.id)
    size = sum({a.sha256: a.size for a in assets if not a.missing}.values())
    thumb = await _thumbnail(app, scope, project, assets)
    badge = (el(doc, "span", {"class": "badge badge-ok"}, f"Backed up {format_time(project.backed_up_at)}")
             if project.backed_up_at else el(doc, "span", {"class": "badge badge-warn"}, "Never backed up"))
    rename = el(doc, "button", {"type": "button", "aria-label": f"Rename {project.title}"}, "Rename")
    delete = el(doc, "button", {"type": "button", "class": "danger",
                                "aria-label": f"Delete {project.title}"}, "Delete")
    export = el(doc, "button", {"type": "button", "aria-label": f"Export {project.title}"}, "Export")
    scope.on(export, "click", lambda event: export_projects(app, [project.id]))
    scope.on(rename, "click", lambda event: _rename(app, project))
    scope.on(delete, "click", lambda event: _delete(app, project, len(assets), size))
    link = el(doc, "a", {"href": f"#/project/{project.id}", "class": "card-link"}, project.title)
    return el(doc, "li", {"class": "project-card", "data-project-id": project.id},
              thumb, el(doc, "h2", {}, link),
              el(doc, "p", {"class": "muted"}, project.description or "No description"),
              el(doc, "p", {"class": "muted small"},
                 f"{len(assets)} files · {format_bytes(size)} · changed {format_time(project.updated_at)}"),
              badge, el(doc, "div", {"class": "card-actions"}, export, rename, delete))


async def _thumbnail(app, scope, project, assets):
    """The current thumbnail's preview (or the first scene frame's), as an object URL."""
    doc = app.document
    current = [a for a in assets if a.current and a.is_image and not a.missing]
    chosen = next((a for a in current if a.kind == "thumbnail"), None) or next(
        (a for a in current if a.kind == "scene"), None)
    preview = await app.vault.get_preview(chosen.id) if chosen else None
    if preview is None:
        return el(doc, "div", {"class": "card-thumb placeholder", "aria-hidden": "true"}, "No thumbnail")
    return el(doc, "img", {"class": "card-thumb", "src": scope.url(preview),
                           "alt": f"Thumbnail of {project.title}"})


async def _create(app) -> None:
    values = await form_dialog(app.document, "New project", [
        Field("title", "Title", required=True), Field("description", "Description", kind="textarea"),
        Field("style", "Style"), Field("mood", "Mood"),
        Field("aspect_ratio", "Aspect ratio", "16:9", kind="select", options=ASPECT_RATIOS),
    ], submit="Create project")
    if values is not None:
        project = await app.vault.create_project(**values)
        app.navigate(f"#/project/{project.id}")


async def _rename(app, project) -> None:
    values = await form_dialog(app.document, f"Rename {project.title}",
                               [Field("title", "New title", project.title, required=True)],
                               submit="Rename")
    if values is not None:
        await app.vault.rename_project(project.id, values["title"])
        app.refresh()


async def _delete(app, project, count: int, size: int) -> None:
    message = (f"This moves “{project.title}” and its {count} files ({format_bytes(size)}) to the "
               "trash. Undo, or restore it from Trash; its space is freed when you empty the trash.")
    if await confirm_dialog(app.document, f"Delete {project.title}?", message, "Delete project"):
        moved = await app.vault.trash_project(project.id)
        offer_undo(app, f"Moved “{project.title}” to the trash ({files(moved.assets_moved)}).", moved)
        app.refresh()
