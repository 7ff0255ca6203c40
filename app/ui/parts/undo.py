"""Undo for deletes (browser): the info notice a move to the trash shows, with an Undo button
that restores the trash item in one transaction and says what came back.

The notice is the app's own (`app.info`); this adds one button to it. The button's handler is
a one-shot proxy: the click removes the notice first, so it can never fire twice.

    moved = await app.vault.trash_project(project.id)
    offer_undo(app, f"Moved “{project.title}” to the trash.", moved)
"""

from __future__ import annotations

from pyodide.ffi import create_once_callable

from app.ui.parts.dom import el, run_soon


def offer_undo(app, message: str, moved) -> None:
    """Show `message` as an info notice with Undo (when `moved` holds a trash item)."""
    app.info(message)
    if moved.item_id is None:
        return
    notices = app.document.getElementById("notices").querySelectorAll(".notice-info")
    notice = notices.item(notices.length - 1) if notices.length else None
    if notice is None:
        return
    undo = el(app.document, "button", {"type": "button", "class": "notice-action",
                                       "aria-label": f"Undo: restore {moved.label}"}, "Undo")

    def clicked(_event):
        notice.remove()
        run_soon(restore_item(app, moved.item_id))

    undo.addEventListener("click", create_once_callable(clicked))
    notice.insertBefore(undo, notice.querySelector(".notice-close"))


async def restore_item(app, item_id: str) -> None:
    """Restore a trash item, tell the user what came back (and what differed), re-render."""
    back = await app.vault.restore(item_id)
    notes = "".join(f" {note}" for note in back.notes)
    app.info(f"Restored “{back.label}” ({files(back.assets_restored)}).{notes}")
    app.refresh()


def files(count: int) -> str:
    """'1 file', '3 files'."""
    return f"{count:,} file{'' if count == 1 else 's'}"


__all__ = ["files", "offer_undo", "restore_item"]
