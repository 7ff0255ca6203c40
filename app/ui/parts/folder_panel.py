"""The live backup folder's controls and status (browser): the header's status line (with the
"Allow backups to <name>" button when the browser wants permission again), the storage view's
"Live backup folder" panel ("Back up to a folder…", "Back up now", "Restore from folder",
"Stop backing up to this folder"), and the runner that backs up DEBOUNCE_S seconds after the
last change to the vault (`vault.watch`).

The work is app/backup/folder.py; this module asks, schedules, and shows the outcome. One
controller per page, started once; the storage view mounts a panel whose nodes and handlers its
own Scope owns. The header's handlers belong to the controller's header scope, renewed at each
render.

    await folder_panel.start(app)                    # app/startup.py, once
    section = folder_panel.folder_section(app, scope)   # app/ui/views/storage.py
"""

from __future__ import annotations

import asyncio

from app.backup import folder
from app.backup.folder_plan import TRASH, status_text
from app.core.errors import BackupCancelled, BackupError, SceneVaultError
from app.core.model import now_ms
from app.ui.parts.dom import Scope, el, found, replace_children, run_soon

DEBOUNCE_S = 5.0   # back up this long after the last change
TICK_S = 30.0      # refresh "2 min ago"
HAS_BACKUP = "folder_has_backup"

_controller: FolderBackup | None = None


class FolderBackup:
    """Holds the folder record, its permission state, and one backup or restore at a time."""

    def __init__(self, app):
        self.app = app
        self.vault = app.vault
        self.record: folder.FolderRecord | None = None
        self.permission = "granted"
        self.busy: str | None = None
        self.lock = asyncio.Lock()
        self.timer = None
        self.marking = False
        self.header_scope = Scope()
        self.panels: list[_Panel] = []

    async def load(self) -> None:
        self.record = await folder.load(self.vault) if folder.supported() else None
        if self.record is not None:
            self.permission = await folder.permission(self.record.handle)
        self.render()

    # --- scheduling ------------------------------------------------------------------------------
    def changed(self) -> None:
        """The vault changed (vault.watch): back up DEBOUNCE_S after the last change."""
        if self.marking or self.record is None:
            return
        self.cancel_timer()
        self.timer = asyncio.get_event_loop().call_later(
            DEBOUNCE_S, lambda: run_soon(self.backup(manual=False)))

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def tick(self) -> None:
        self.render()
        asyncio.get_event_loop().call_later(TICK_S, self.tick)

    # --- actions ---------------------------------------------------------------------------------
    async def choose(self) -> None:
        """"Back up to a folder…": pick, keep, then back up (unless it already holds a backup)."""
        handle = await self.pick()
        if handle is None:
            return
        if await folder.holds_backup(handle):
            self.record = await folder.save_outcome(self.vault, self.record, error=BackupError(
                f"the folder already holds a SceneVault backup. Choose Restore from folder to "
                f"bring it in, or Back up now to mirror this vault into it (files of other "
                f"projects move to {TRASH}/).", HAS_BACKUP))
            self.render()
            return
        await self.backup(manual=True)

    async def pick(self):
        """Ask for a folder and keep it; the handle, or None (dismissed, or no permission)."""
        try:
            handle = await folder.pick()
        except BackupError as exc:
            self.app.info(str(exc))
            return None
        self.permission = await folder.permission(handle, ask=True)
        self.record = await folder.remember(self.vault, handle)
        self.render()
        return handle if self.permission == "granted" else None

    async def allow(self) -> None:
        """"Allow backups to <name>": ask the browser again (a click), then back up."""
        if self.record is None:
            return
        self.permission = await folder.permission(self.record.handle, ask=True)
        self.render()
        if self.permission == "granted":
            await self.backup(manual=True)

    async def forget(self) -> None:
        self.cancel_timer()
        await folder.forget(self.vault)
        self.record = None
        self.render()
        self.app.info("SceneVault no longer backs up to that folder; its files stay where they are.")

    async def backup(self, manual: bool = True) -> None:
        """Mirror the vault now; the outcome goes to the status line (and an alert if asked)."""
        self.cancel_timer()
        async with self.lock:
            record = self.record  # read under the lock: a pick or a forget may have come first
            if record is None or self.permission != "granted":
                return
            if not manual and (record.last_error or {}).get("code") == HAS_BACKUP:
                return
            self.busy = f"Backing up to folder {record.name}…"
            self.render()
            try:
                report = await folder.mirror(self.vault, record.handle, record.name, mark=False)
                self.marking = True
                try:
                    await folder.mark_backed_up(self.vault, report)
                finally:
                    self.marking = False
                await self._outcome(record, at=report.at)
                if manual:
                    self.app.info(f"Backed up to folder {record.name}: {len(report.written)} "
                                  f"file(s) written, {report.kept} unchanged, "
                                  f"{len(report.trashed)} moved to {TRASH}/.")
            except SceneVaultError as exc:
                await self._outcome(record, error=_as_backup(exc))
                if getattr(exc, "code", None) == "folder_permission":
                    self.permission = await folder.permission(record.handle)
                if manual:
                    self.app.alert(str(exc))
            finally:
                self.busy = None
                self.render()

    async def _outcome(self, record: folder.FolderRecord, at: int | None = None,
                       error: BackupError | None = None) -> None:
        """Store a run's outcome, unless the folder was forgotten or replaced meanwhile."""
        if self.record is record:
            self.record = await folder.save_outcome(self.vault, record, at=at, error=error)

    async def restore(self) -> None:
        """"Restore from folder": import the folder's backup like a zip (every check applies)."""
        from app.ui.parts.backup_panel import ProgressPanel

        if self.record is None and await self.pick() is None:
            return
        if self.permission != "granted":
            self.permission = await folder.permission(self.record.handle, ask=True)
            if self.permission != "granted":
                self.render()
                return
        self.cancel_timer()
        record = self.record
        async with self.lock:
            self.busy = f"Restoring from folder {record.name}…"
            self.render()
            panel = ProgressPanel(self.app, "Restoring from folder")
            try:
                report = await folder.restore(self.vault, record.handle, record.name,
                                              on_progress=panel.update, cancel=panel.token)
            except BackupCancelled:
                self.app.info("Restore cancelled; nothing was changed.")
                return
            except SceneVaultError as exc:
                self.app.alert(f"Nothing was restored from folder {record.name}: {exc}")
                return
            finally:
                panel.close()
                self.busy = None
                self.render()
            if (record.last_error or {}).get("code") == HAS_BACKUP:
                await self._outcome(record)
            self.app.info(f"Restored from folder {record.name}: {report.assets_added} files "
                          f"added, {report.assets_skipped} already here.")
        self.render()
        self.app.refresh()

    # --- showing ---------------------------------------------------------------------------------
    def status(self) -> str:
        record = self.record
        if record is None:
            return ""
        if self.busy:
            return self.busy
        error = (record.last_error or {}).get("message")
        return status_text(record.name, record.last_backup_at, error, self.permission, now_ms())

    def allow_button(self, scope: Scope):
        if self.record is None or self.permission == "granted":
            return None
        button = el(self.app.document, "button", {"type": "button", "class": "primary"},
                    f"Allow backups to {self.record.name}")
        scope.on(button, "click", lambda event: self.allow())
        return button

    def render(self) -> None:
        doc = self.app.document
        header = found(doc.getElementById("folder-status"))
        if header is not None:
            self.header_scope.dispose()
            self.header_scope = Scope()
            failed = bool(self.record and (self.record.last_error or self.permission != "granted"))
            header.className = "folder-status" + (" folder-status-problem" if failed else "")
            replace_children(header, self.status() or None, self.allow_button(self.header_scope))
        for panel in list(self.panels):
            if panel.owner.disposed:
                self.panels.remove(panel)
            else:
                self.render_panel(panel)

    def render_panel(self, panel: _Panel) -> None:
        doc, body = self.app.document, panel.body
        if panel.current is not None:
            panel.current.dispose()
        scope = panel.current = panel.owner.child()
        if not folder.supported():
            replace_children(body, el(doc, "p", {"class": "muted"}, "This browser cannot keep a "
                             "live backup folder (it lacks the File System Access API; Chrome "
                             "and Edge have it). Export backups as zip files instead."))
            return
        buttons = []

        def button(label: str, action, primary: bool = False):
            node = el(doc, "button", {"type": "button", "class": "primary" if primary else None,
                                      "disabled": bool(self.busy)}, label)
            scope.on(node, "click", lambda event: action())
            buttons.append(node)

        if self.record is None:
            button("Back up to a folder…", self.choose, primary=True)
            button("Restore from folder", self.restore)
            text = ("Pick a folder once (on another disk, or one your cloud drive syncs) and "
                    "SceneVault keeps a copy of every file there, a few seconds after each change.")
        else:
            button("Back up now", lambda: self.backup(manual=True), primary=True)
            button("Restore from folder", self.restore)
            button("Back up to a folder…", self.choose)
            button("Stop backing up to this folder", self.forget)
            text = self.status()
        replace_children(body, el(doc, "p", {"class": "folder-panel-status", "role": "status"},
                                  text), self.allow_button(scope),
                         el(doc, "div", {"class": "card-actions"}, *buttons))


class _Panel:
    """A mounted storage panel: the view's Scope, its body node, and the Scope of the body's
    current buttons (renewed at each render)."""

    def __init__(self, owner: Scope, body):
        self.owner, self.body, self.current = owner, body, None


def _as_backup(exc: SceneVaultError) -> BackupError:
    return exc if isinstance(exc, BackupError) else BackupError(str(exc), "folder_failed")


async def start(app) -> FolderBackup:
    """Create the page's controller: read the folder, show the header, follow vault changes."""
    global _controller
    _controller = FolderBackup(app)
    app.vault.watch(_controller.changed)
    await _controller.load()
    asyncio.get_event_loop().call_later(TICK_S, _controller.tick)
    return _controller


def folder_section(app, scope: Scope):
    """The storage view's "Live backup folder" panel (its Scope owns the handlers)."""
    doc = app.document
    body = el(doc, "div", {"class": "folder-panel"})
    section = el(doc, "section", {"class": "panel", "aria-labelledby": "storage-folder-title"},
                 el(doc, "h2", {"id": "storage-folder-title"}, "Live backup folder"), body)
    if _controller is not None:
        panel = _Panel(scope, body)
        _controller.panels.append(panel)
        _controller.render_panel(panel)
    return section
