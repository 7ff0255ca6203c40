"""Share-link controls (browser): the workspace's "Copy share link" button, which asks for an
optional passphrase, makes the link (app/backup/share.py), copies it with
navigator.clipboard when the browser allows it, and always shows it in a text field to copy
by hand; and the calls the shared-project page (app/ui/views/share.py) makes to open and
import a link, so that view never imports the backup service itself.

    share = SharePanel(app, scope, project)     # share.button in the header, share.node below it
    shared = await open_shared(link, passphrase)
    report = await import_shared(app, shared)
"""

from __future__ import annotations

import js
from pyodide.ffi import JsException

from app.ui.parts.dialogs import Field, form_dialog
from app.ui.parts.dom import el, replace_children

# app.backup.share (and the backup service behind it) is imported on first use, not at start-up.

PASSPHRASE_LABEL = "Passphrase (optional: leave empty for a link anyone can open)"


class SharePanel:
    """A "Copy share link" button and the region that shows the link it made."""

    def __init__(self, app, scope, project):
        self.app = app
        self.scope = scope
        self.project = project
        doc = app.document
        self.button = el(doc, "button", {"type": "button"}, "Copy share link")
        scope.on(self.button, "click", lambda event: self.make())
        self.node = el(doc, "div", {"class": "share-slot"})

    async def make(self) -> None:
        values = await form_dialog(self.app.document, "Copy share link", [
            Field("passphrase", PASSPHRASE_LABEL, kind="password")], submit="Make link")
        if values is None:
            return
        from app.backup.share import make_link

        replace_children(self.node)  # the previous link goes while the new one is made
        self.button.disabled = True
        try:
            url = await make_link(self.app.vault, self.project.id, values["passphrase"],
                                  base=str(js.location.href))
        finally:
            self.button.disabled = False
        self._show(url, encrypted=bool(values["passphrase"]))
        await self._copy(url)

    def _show(self, url: str, encrypted: bool) -> None:
        doc = self.app.document
        field = el(doc, "input", {"id": "share-link-text", "type": "text", "readonly": True,
                                  "value": url, "class": "share-link-text"})
        copy = el(doc, "button", {"type": "button"}, "Copy again")
        self.scope.on(copy, "click", lambda event: self._copy(url))
        self.scope.on(field, "focus", lambda event: field.select())
        self.status = el(doc, "p", {"class": "muted small", "role": "status"})
        note = ("Encrypted: send the passphrase separately (not in the same message)."
                if encrypted else "Not encrypted: anyone who has the link can read its prompts.")
        replace_children(self.node, el(
            doc, "section", {"class": "share-panel", "role": "region", "aria-label": "Share link"},
            el(doc, "label", {"for": "share-link-text"}, "Share link"), field, copy, self.status,
            el(doc, "p", {"class": "muted small"},
               f"The link holds this project's recipes, not its files ({len(url) / 1024:.1f} KB); "
               "whoever opens it in SceneVault can import a copy and regenerate every file. "
               "It stays in the address after the #, which browsers never send to a server. "
               + note)))

    async def _copy(self, url: str) -> None:
        try:
            await js.navigator.clipboard.writeText(url)
        except (JsException, AttributeError):  # no permission, or no clipboard (insecure page)
            self.status.textContent = ("This browser did not allow copying: select the link "
                                       "above and copy it (Ctrl+C).")
            return
        self.status.textContent = "Copied the share link to the clipboard."


async def open_shared(link, passphrase: str = ""):
    """The checked contents of a decoded link (app/backup/share.py `open_link`)."""
    from app.backup.share import open_link

    return await open_link(link, passphrase)


async def import_shared(app, shared):
    """Import a link's project as a copy; the ImportReport."""
    from app.backup import share

    return await share.import_shared(app.vault, shared)
