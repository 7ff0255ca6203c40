"""Trash view (browser, route `#/trash`): what was deleted (a project, a scene or character, one
or more versions), when, and the bytes only it holds; Restore and "Delete for good" per item,
and "Empty trash" (after a confirmation) to free it all for good.

The store owns the trash (app/store/trash.py); this view only lists it and asks. Nothing here
makes object URLs; the view's scope owns the buttons' handlers.

    await trash.render(app, scope, container)
"""

from __future__ import annotations

from app.ui.parts.dialogs import confirm_dialog
from app.ui.parts.dom import el, format_bytes, format_time, replace_children
from app.ui.parts.undo import restore_item

ABOUT = ("Deleted projects, scenes, characters and versions wait here. Their files keep taking "
         "space until you delete them for good or empty the trash. When storage runs short, "
         "trash older than 30 days is freed first, and SceneVault tells you.")


async def render(app, scope, container) -> None:
    doc = app.document
    entries = await app.vault.trash_entries()
    empty = el(doc, "button", {"type": "button", "class": "danger", "disabled": not entries},
               "Empty trash")
    scope.on(empty, "click", lambda event: _empty(app, len(entries)))
    header = el(doc, "div", {"class": "view-header"}, el(doc, "h1", {}, "Trash"), empty)
    if not entries:
        replace_children(container, header, el(doc, "p", {"class": "muted"}, ABOUT),
                         el(doc, "p", {"data-testid": "trash-empty"}, "The trash is empty."))
        return
    held = sum(entry.held for entry in entries)
    rows = [_row(app, scope, entry) for entry in entries]
    replace_children(container, header, el(doc, "p", {"class": "muted"}, ABOUT),
                     el(doc, "p", {}, f"{_count(len(entries), 'item')} in the trash; "
                        f"{format_bytes(held)} is held only by the trash."),
                     el(doc, "ul", {"class": "trash-list", "aria-label": "Trash items"}, *rows))


def _row(app, scope, entry):
    doc, item = app.document, entry.item
    restore = el(doc, "button", {"type": "button", "aria-label": f"Restore {item.label}"}, "Restore")
    purge = el(doc, "button", {"type": "button", "class": "danger",
                               "aria-label": f"Delete {item.label} for good"}, "Delete for good")
    scope.on(restore, "click", lambda event: restore_item(app, item.id))
    scope.on(purge, "click", lambda event: _purge(app, entry))
    return el(doc, "li", {"class": "trash-item", "data-trash-id": item.id},
              el(doc, "strong", {}, item.label),
              el(doc, "p", {"class": "muted small"},
                 f"{_what(item)} · deleted {format_time(item.trashed_at)} · "
                 f"{format_bytes(entry.held)} only here"),
              el(doc, "div", {"class": "row-actions"}, restore, purge))


def _what(item) -> str:
    files = _count(len(item.assets), "file")
    if item.what == "project":
        return f"Project, {files}"
    if item.what == "slot":
        return f"Scene or character, {files}"
    return "Version" if len(item.assets) == 1 else f"{_count(len(item.assets), 'version')}"


async def _purge(app, entry) -> None:
    label = entry.item.label
    if not await confirm_dialog(app.document, f"Delete {label} for good?",
                                f"This removes {_count(len(entry.item.assets), 'file')} from this "
                                f"device and frees {format_bytes(entry.held)}; bytes another file "
                                "still uses stay. This cannot be undone.", "Delete for good"):
        return
    report = await app.vault.purge(entry.item.id)
    app.info(f"Deleted “{label}” for good: {format_bytes(report.bytes_freed)} freed.")
    app.refresh()


async def _empty(app, count: int) -> None:
    if not await confirm_dialog(app.document, "Empty the trash?",
                                f"This deletes {_count(count, 'item')} for good and frees the "
                                "space only they hold. This cannot be undone.", "Empty trash"):
        return
    report = await app.vault.empty_trash()
    app.info(f"Emptied the trash: {_count(report.assets_removed, 'file')} deleted for good, "
             f"{format_bytes(report.bytes_freed)} freed.")
    app.refresh()


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
