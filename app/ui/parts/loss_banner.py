"""Warnings before loss (browser): the banners app/ui/parts/loss_rules.py decides on, drawn at
the top of #notices, with their fixes as buttons and links.

Owns its DOM (`#loss-warnings`), its handlers (one Scope, renewed at each redraw) and the
session's answers: what the browser said to "Keep my data", and which banners were dismissed
(sessionStorage, so they come back in the next tab or visit). The app calls `update()` after
each view render; it reads the vault (records, settings, persistence) and redraws only when
what it would show changed, so focus stays put.

    banner = LossBanner(app)        # app/ui/app.py, once
    await banner.update()           # after each render, and after the first file is stored
"""

from __future__ import annotations

import asyncio

import js
from pyodide.ffi import create_proxy

from app.core.backup_log import needs_assets
from app.core.errors import VaultError
from app.core.model import now_ms
from app.ui.parts.dom import Scope, el, run_soon
from app.ui.parts.loss_rules import GRANTED_NOTICE, Banner, Situation, banners, stale_projects

DISMISSED_KEY = "scenevault.lossWarning.dismissed."  # + the banner's kind
CONTAINER_ID = "loss-warnings"


class LossBanner:
    """The loss warnings on screen and the session's answers behind them."""

    def __init__(self, app):
        self.app = app
        self.scope = Scope()
        self.persist_answer: str | None = None
        self.shown: tuple[Banner, ...] | None = None
        self._lock = asyncio.Lock()
        self._install_listener = None

    async def update(self) -> None:
        """Read the situation and redraw the banners if they changed."""
        async with self._lock:
            try:
                situation = await self._situation()
            except VaultError:  # the vault closed (another tab upgraded it): its notice says so
                return
            self._draw(tuple(banners(situation)))

    async def _situation(self) -> Situation:
        vault = self.app.vault
        projects = await vault.list_projects()
        stale = ()
        if projects:
            folder = await vault.get_setting("folderBackup") or {}
            folder_at = folder.get("lastBackupAt")
            folder_at = None if folder_at is None else int(folder_at)
            assets = []  # only projects with a backup need theirs, read per project
            for project in projects:
                if needs_assets(project, folder_at):
                    assets += await vault.list_assets(project.id)
            stale = stale_projects(projects, assets, now_ms(), folder_at)
        persisted = await vault.is_persistent()
        if persisted:
            self.persist_answer = None
        return Situation(has_data=bool(projects), persisted=persisted,
                         install=self._install_state(), now=now_ms(), stale=stale,
                         persist_answer=self.persist_answer, dismissed=_dismissed())

    def _install_state(self) -> str:
        bridge = getattr(js.window, "SceneVaultInstall", None)
        if bridge is None:
            return "manual"
        if self._install_listener is None:  # lives as long as the app: never destroyed
            self._install_listener = create_proxy(lambda: run_soon(self.update()))
            bridge.subscribe(self._install_listener)
        return str(bridge.state())

    # --- drawing ------------------------------------------------------------------------------
    def _draw(self, shown: tuple[Banner, ...], focus: str | None = None) -> None:
        if shown == self.shown:
            return
        self.shown = shown
        doc = self.app.document
        old = doc.getElementById(CONTAINER_ID)
        if old:
            old.remove()
        self.scope.dispose()
        self.scope = Scope()
        if not shown:
            return
        container = el(doc, "div", {"id": CONTAINER_ID, "class": "loss-warnings"},
                       *[self._banner(banner) for banner in shown])
        doc.getElementById("notices").prepend(container)
        if focus:
            target = container.querySelector(f"[data-fix='{focus}']")
            if target:
                target.focus()

    def _banner(self, banner: Banner):
        doc = self.app.document
        title_id = f"loss-{banner.kind}-title"
        actions = [self._fix(banner, fix) for fix in banner.fixes if fix.action != "install-help"]
        helps = [el(doc, "p", {"class": "loss-help"}, fix.label) for fix in banner.fixes
                 if fix.action == "install-help"]
        dismiss = el(doc, "button", {"type": "button", "class": "loss-dismiss",
                                     "aria-label": f"Dismiss “{banner.title}” until the next visit"},
                     "Dismiss until next visit")
        self.scope.on(dismiss, "click", lambda event: self._dismiss(banner.kind))
        note = (el(doc, "p", {"class": "loss-note", "role": "status"}, banner.note)
                if banner.note else None)
        return el(doc, "section", {"class": f"loss-banner loss-{banner.kind}", "role": "region",
                                   "aria-labelledby": title_id, "data-kind": banner.kind},
                  el(doc, "strong", {"id": title_id, "class": "loss-title"}, banner.title),
                  el(doc, "p", {"class": "loss-text"}, banner.text), note,
                  el(doc, "div", {"class": "loss-actions"}, *actions, dismiss), *helps)

    def _fix(self, banner: Banner, fix):
        doc = self.app.document
        if fix.href:
            return el(doc, "a", {"href": fix.href, "class": "button-link",
                                 "data-fix": fix.action}, fix.label)
        button = el(doc, "button", {"type": "button", "data-fix": fix.action,
                                    "class": "primary" if fix.action == "persist" else None},
                    fix.label)
        handler = self._ask_persistence if fix.action == "persist" else self._install
        self.scope.on(button, "click", lambda event: handler())
        return button

    # --- fixes --------------------------------------------------------------------------------
    async def _ask_persistence(self) -> None:
        granted = await self.app.vault.request_persistence()
        self.persist_answer = None if granted else "declined"
        if granted:
            self.app.info(GRANTED_NOTICE)
        async with self._lock:
            self._draw(tuple(banners(await self._situation())), focus="persist")
        self.app.refresh()  # the storage view shows the answer too

    async def _install(self) -> None:
        outcome = str(await js.window.SceneVaultInstall.prompt())
        if outcome == "accepted":
            self.app.info("SceneVault is being installed. Open it from your apps from now on.")
        await self.update()

    def _dismiss(self, kind: str) -> None:
        js.sessionStorage.setItem(DISMISSED_KEY + kind, "1")
        run_soon(self.update())


def _dismissed() -> frozenset[str]:
    return frozenset(kind for kind in ("persist", "backup")
                     if js.sessionStorage.getItem(DISMISSED_KEY + kind))

