"""The app controller (browser): routes between views, owns the current view's Scope, and shows
notices. Views are modules with `async def render(app, scope, container, **params)`.

Routes live in the URL hash, so the back button works and a reload reopens the same view:
`#/` dashboard, `#/project/<id>` workspace, `#/library`, `#/storage`, `#/trash`, and `#/share/<payload>`
(a share link, app/core/sharelink.py) with `#/shared/<id>` after its import.

    app = App(js.document, vault, generation)
    await app.show()                 # renders the view the hash names
    app.alert("The file was refused: SVG is not allowed.")
"""

from __future__ import annotations

import asyncio
import importlib

import js

from app.core import sharelink
from app.core.errors import SceneVaultError
from app.ui.parts.dom import Scope, el, replace_children, run_soon, set_error_reporter
from app.ui.parts.loss_banner import LossBanner

NAV = (("Projects", "#/"), ("Library", "#/library"), ("Storage", "#/storage"), ("Trash", "#/trash"))
VIEW_NAMES = {"dashboard": "Projects", "workspace": "Project workspace", "library": "Media library",
              "storage": "Storage", "share": "Shared project", "trash": "Trash"}


class App:
    """Holds the services the views use and the one Scope of the view on screen."""

    def __init__(self, document, vault, generation, connectivity=None):
        self.document = document
        self.vault = vault
        self.generation = generation
        self.connectivity = connectivity
        self.scope: Scope | None = None
        self.nav_scope = Scope()
        self.persistence_asked = False
        self.queue = None
        self._render_lock = asyncio.Lock()  # one view render at a time (see `show`)
        self._shown_route: tuple[str, dict] | None = None  # the route whose view is on screen
        self._render_wanted = 0
        self.loss_banner = LossBanner(self)  # warnings before loss, redrawn after each render
        set_error_reporter(self.report)

    # --- offline ------------------------------------------------------------------------------
    def start_offline_queue(self) -> None:
        """Queue generations asked for while the server is unreachable; run them when it is back,
        and re-render the view when reachability changes (generation controls follow it)."""
        from app.generation import connectivity

        self.connectivity = connectivity
        self.queue = connectivity.OfflineQueue(lambda item: self.generation.generate(
            item.project_id, item.kind, item.slot, item.request))
        self.queue.on_change(lambda items: self._show_queue(items))
        connectivity.subscribe(lambda reachable: self.refresh())
        self.queue.start()
        self._show_queue(self.queue.items())

    def resume_jobs(self) -> None:
        """Follow the server jobs (clips) recorded before a reload, now and whenever the server
        comes back; tell the user when each one is stored or lost."""
        def stored(job, asset):
            if asset is not None:  # None: another tab stored it, and told the user there
                self.info(f"The clip for {job.slot} finished on the server and was stored "
                          f"(version {asset.version}).")
            self.refresh()

        def failed(job, error):
            self.alert(f"The clip job for {job.slot} did not finish: {error}")
            self.refresh()

        def resume(reachable: bool = True) -> None:
            if reachable:
                run_soon(self.generation.clips.resume(on_stored=stored, on_failed=failed))

        resume()
        if self.connectivity is not None:
            self.connectivity.subscribe(resume)

    def server_reachable(self) -> bool:
        return self.connectivity is None or self.connectivity.is_server_reachable()

    def _show_queue(self, items) -> None:
        """The queued generations, each with a Remove button, in a region under the header."""
        old = self.document.getElementById("offline-queue")
        if old:
            old.remove()
        if not items:
            return
        rows = []
        for item in items:
            remove = el(self.document, "button", {"type": "button",
                                                  "aria-label": f"Remove queued {item.slot}"}, "Remove")
            remove.addEventListener("click", _once(lambda item=item: self.queue.remove(item.id)))
            note = f" (last try: {item.error})" if item.error else ""
            rows.append(el(self.document, "li", {}, f"{item.kind} for {item.slot}{note} ", remove))
        panel = el(self.document, "section", {"id": "offline-queue", "class": "notice queue-panel",
                                              "role": "region", "aria-label": "Queued generations"},
                   el(self.document, "strong", {}, f"Queued generations ({len(items)}): they run "
                      "when the server is back."), el(self.document, "ul", {}, *rows))
        self.document.getElementById("notices").append(panel)

    async def stored_something(self) -> None:
        """After the first file is stored, ask the browser once to keep our data (persistent
        storage), so it is not evicted under storage pressure; the storage panel shows the answer
        and the loss warnings (app/ui/parts/loss_banner.py) follow it."""
        if self.persistence_asked:
            return
        self.persistence_asked = True
        if not await self.vault.is_persistent():
            await self.vault.request_persistence()
        await self.loss_banner.update()

    # --- routing --------------------------------------------------------------------------------
    def route(self) -> tuple[str, dict]:
        raw = str(js.location.hash)
        if raw.startswith(sharelink.ROUTE):  # the payload may hold anything: never split it
            return "share", {"payload": raw[len(sharelink.ROUTE):]}
        parts = [p for p in raw.lstrip("#").split("/") if p]
        if parts[:1] == ["shared"] and len(parts) == 2:
            return "share", {"imported": parts[1]}
        if parts[:1] == ["project"] and len(parts) == 2:
            return "workspace", {"project_id": parts[1]}
        if parts in (["library"], ["storage"], ["trash"]):
            return parts[0], {}
        return "dashboard", {}

    async def show(self) -> None:
        """Render the view named by the URL hash into #view, replacing the previous one.

        Renders never overlap: a view's render awaits the vault, and a second render started
        meanwhile (a hashchange and a refresh together) would dispose the first one's Scope
        while the first still builds its DOM, leaving buttons whose handlers are gone. So a
        render waits for the one before it, and one that a newer request supersedes is skipped.

        The view on screen keeps working while the next one is built: its Scope (handlers,
        object URLs) is disposed only once the new view has replaced it. Disposing it first left
        a window, as long as the new view's vault reads, in which every click on the visible
        buttons went nowhere (a refresh when the server comes back, a job that finishes).
        A view the user navigated away from is different: it is made inert (and aria-busy)
        until the new one replaces it, so a click meant for the new page cannot act on the old
        one (a "Generate all empty" that filled the previous project's slots)."""
        self._render_wanted += 1
        ticket = self._render_wanted
        async with self._render_lock:
            if ticket == self._render_wanted:
                await self._render_current()

    async def _render_current(self) -> None:
        shown_hash = str(js.location.hash) or "#/"
        name, params = self.route()
        view = importlib.import_module(f"app.ui.views.{name}")
        previous, self.scope = self.scope, Scope()
        container = self.document.getElementById("view")
        shown, self._shown_route = self._shown_route, (name, params)
        leaving = shown is not None and shown != (name, params)
        if leaving:  # the old view belongs to a page the user left: no click may act on it
            container.setAttribute("inert", "")
            container.setAttribute("aria-busy", "true")
        try:
            await view.render(self, self.scope, container, **params)
        finally:
            if leaving:
                container.removeAttribute("inert")
                container.removeAttribute("aria-busy")
            container.setAttribute("data-view", name)
            container.setAttribute("data-route", shown_hash)  # tests wait on it
            container.setAttribute("aria-label", VIEW_NAMES[name])
            self._mark_nav(name)
            if previous is not None:
                previous.dispose()
            run_soon(self.loss_banner.update())

    def navigate(self, hash_path: str) -> None:
        """Go to a route; the hashchange listener renders it."""
        if str(js.location.hash) == hash_path:
            run_soon(self.show())
        else:
            js.location.hash = hash_path

    def refresh(self) -> None:
        """Render the current view again (after a change it shows)."""
        run_soon(self.show())

    def render_nav(self) -> None:
        nav = self.document.getElementById("app-nav")
        links = [el(self.document, "a", {"href": href, "class": "nav-link"}, label)
                 for label, href in NAV]
        replace_children(nav, *links)
        self.nav_scope.on(js.window, "hashchange", lambda event: run_soon(self.show()))

    def _mark_nav(self, view: str) -> None:
        current = {"dashboard": "#/", "workspace": "#/", "library": "#/library",
                   "storage": "#/storage", "trash": "#/trash"}.get(view)
        for link in self.document.querySelectorAll("#app-nav a"):
            if link.getAttribute("href") == current:
                link.setAttribute("aria-current", "page")
            else:
                link.removeAttribute("aria-current")

    # --- notices --------------------------------------------------------------------------------
    def alert(self, message: str) -> None:
        """Show an error in a role=alert notice that stays until dismissed."""
        self._notice(message, "alert", "notice notice-error")

    def info(self, message: str) -> None:
        """Show a passing confirmation (role=status), e.g. how much space a delete freed."""
        self._notice(message, "status", "notice notice-info")

    def report(self, exc: BaseException) -> None:
        """An exception from a handler: shown as an alert; unexpected ones also go to the console."""
        if not isinstance(exc, SceneVaultError):  # a bug: the test suite fails on this line
            js.console.error(f"SceneVault unexpected error: {type(exc).__name__}: {exc}")
        self.alert(str(exc) if isinstance(exc, SceneVaultError) else
                   f"Something went wrong ({type(exc).__name__}: {exc}). Your stored files are "
                   "safe; reload the page and try again.")

    def _notice(self, message: str, role: str, css: str) -> None:
        notices = self.document.getElementById("notices")
        close = el(self.document, "button", {"type": "button", "class": "notice-close",
                                             "aria-label": "Dismiss"}, "×")
        notice = el(self.document, "div", {"class": css, "role": role},
                    el(self.document, "span", {"class": "notice-text"}, message), close)
        close.addEventListener("click", _once(lambda: notice.remove()))
        if role == "status":
            for old in notices.querySelectorAll(".notice-info"):
                old.remove()
        notices.append(notice)


def _once(action):
    """A one-shot click proxy that destroys itself after running (for notices)."""
    from pyodide.ffi import create_once_callable

    return create_once_callable(lambda event: action())
