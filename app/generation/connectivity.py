"""Connectivity (browser): is the SceneVault server reachable, news when that changes, and a
queue for the generations asked for while it is not.

The state lives in static/js/offline.js (`window.SceneVaultNet`), which also drives the header's
Online/Offline indicator, so Python and the page never disagree. Reachable means the server
answered `GET /api/health`, not merely that the browser has a network.

`OfflineQueue` keeps queued generation requests as small JSON in localStorage, so they survive
a reload, and runs them through a callback when the server is back. An item leaves the queue
only when its generation succeeds or the user removes it; a failure stays queued with its
message. One tab at a time runs the queue (a Web Lock). The queue owns the proxies it creates
(`stop()` releases them); `subscribe` hands back the function that releases its own.

    from app.generation import connectivity
    if not connectivity.is_server_reachable():
        show(connectivity.OFFLINE_MESSAGE)
    stop = connectivity.subscribe(lambda reachable: print("server reachable:", reachable))

    queue = connectivity.OfflineQueue(lambda item: service.generate(
        item.project_id, item.kind, item.slot, item.request))
    queue.add(project.id, "scene", "scene:1", {"prompt": "a harbour at dawn"})
    queue.items()      # [QueuedGeneration(id=..., slot="scene:1", attempts=0, error=None)]
    queue.start()      # runs now if the server is reachable, and again whenever it comes back
"""

from __future__ import annotations

import asyncio
import inspect
import json
import secrets
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Awaitable, Callable

import js
from pyodide.ffi import create_proxy, jsnull, to_js

from app.core.errors import SceneVaultError

OFFLINE_MESSAGE = "Generation needs the SceneVault server; your files are all here."
STORAGE_KEY = "scenevault.offline-queue.v1"
LOCK_NAME = "scenevault-offline-queue"
DONE, FAILED = "done", "failed"


def _net():
    net = getattr(js.window, "SceneVaultNet", None)
    if net is None:
        raise RuntimeError("static/js/offline.js is not loaded, so connectivity is unknown")
    return net


def _is_null(value) -> bool:
    """JS null arrives as `jsnull` (Pyodide 0.28+), undefined as None."""
    return value is None or value is jsnull


def is_server_reachable() -> bool:
    """True when the server answered its last health check (before the first answer: whether
    the browser has a network at all)."""
    reachable = _net().reachable
    return bool(js.navigator.onLine) if _is_null(reachable) else bool(reachable)


async def check() -> bool:
    """Ask the server now (GET /api/health); updates the indicator and notifies subscribers."""
    return bool(await _net().check())


def subscribe(callback: Callable[[bool], object]) -> Callable[[], None]:
    """Call `callback(reachable)` on every change (a coroutine function is scheduled); returns
    the function that unsubscribes and releases the proxy."""
    def relay(reachable):
        result = callback(bool(reachable))
        if inspect.isawaitable(result):
            asyncio.ensure_future(result)

    proxy = create_proxy(relay)
    stop = _net().subscribe(proxy)

    def unsubscribe() -> None:
        stop()
        proxy.destroy()

    return unsubscribe


@dataclass(frozen=True)
class QueuedGeneration:
    """One generation asked for while offline: where it goes and the request to send."""

    id: str
    project_id: str
    kind: str
    slot: str
    request: dict
    queued_at: int  # milliseconds since the epoch
    attempts: int = 0
    error: str | None = None  # the last failure's message, for the queue's list

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> QueuedGeneration:
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})


@dataclass(frozen=True)
class QueueOutcome:
    """What running one queued item did: `done` (with the callback's result) or `failed`."""

    item_id: str
    status: str
    message: str = ""
    result: object = None


class OfflineQueue:
    """Generation requests kept in `storage` (localStorage) until `run(item)` succeeds."""

    def __init__(self, run: Callable[[QueuedGeneration], Awaitable[object]],
                 storage=None, key: str = STORAGE_KEY):
        self._run = run
        self._storage = js.localStorage if storage is None else storage
        self._key = key
        self._running = False
        self._listeners: list[Callable[[list[QueuedGeneration]], object]] = []
        self._proxies: list = []
        self._unsubscribe: Callable[[], None] | None = None

    # --- the list ---------------------------------------------------------------------------------
    def items(self) -> list[QueuedGeneration]:
        """What is queued, oldest first (read from storage, so other tabs' changes show)."""
        raw = self._storage.getItem(self._key)
        try:
            return [QueuedGeneration.from_dict(entry)
                    for entry in json.loads("[]" if _is_null(raw) else raw)]
        except (ValueError, TypeError) as exc:
            js.console.warn(f"SceneVault ignored an unreadable offline queue: {exc}")
            return []

    def add(self, project_id: str, kind: str, slot: str, request: dict) -> QueuedGeneration:
        """Queue a generation for `slot`; `request` must be JSON (it is stored as it is)."""
        if not isinstance(request, dict):
            raise TypeError(f"Cannot queue a request of type {type(request).__name__}; use a dict")
        item = QueuedGeneration(id=secrets.token_hex(8), project_id=project_id, kind=kind,
                                slot=slot, request=json.loads(json.dumps(request)),
                                queued_at=int(time.time() * 1000))
        self._save([*self.items(), item])
        return item

    def remove(self, item_id: str) -> bool:
        """Drop one item (the user cancelled it); False when it was not queued."""
        before = self.items()
        after = [item for item in before if item.id != item_id]
        if len(after) != len(before):
            self._save(after)
        return len(after) != len(before)

    def on_change(self, callback: Callable[[list[QueuedGeneration]], object]) -> None:
        """Call `callback(items)` whenever the queue changes, in this tab or another."""
        if not self._listeners:
            self._watch_other_tabs()
        self._listeners.append(callback)

    # --- running ----------------------------------------------------------------------------------
    async def run_pending(self) -> list[QueueOutcome]:
        """Run every queued item in order while the server stays reachable. Does nothing when
        this tab is already running the queue or another tab is."""
        if self._running or not self.items():
            return []
        self._running = True
        try:
            return await _exclusively(LOCK_NAME, self._run_all)
        finally:
            self._running = False

    def start(self) -> None:
        """Run the queue now if the server is reachable, and each time it comes back."""
        if self._unsubscribe is None:
            self._unsubscribe = subscribe(lambda reachable: self._kick() if reachable else None)
        if is_server_reachable():
            self._kick()

    def stop(self) -> None:
        """Stop watching connectivity and other tabs; release every proxy this queue made."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for event_name, proxy in self._proxies:
            js.window.removeEventListener(event_name, proxy)
            proxy.destroy()
        self._proxies.clear()
        self._listeners.clear()

    def _kick(self) -> None:
        asyncio.ensure_future(self.run_pending())

    async def _run_all(self) -> list[QueueOutcome]:
        outcomes = []
        if not await check():
            return outcomes
        for item in self.items():
            outcome = await self._run_one(item)
            if outcome is None:  # the server went away: the rest waits for the next time
                break
            outcomes.append(outcome)
        return outcomes

    async def _run_one(self, item: QueuedGeneration) -> QueueOutcome | None:
        try:
            result = await self._run(item)
        except SceneVaultError as exc:
            if not await check():
                return None
            self._replace(replace(item, attempts=item.attempts + 1, error=str(exc)))
            return QueueOutcome(item.id, FAILED, str(exc))
        self.remove(item.id)
        return QueueOutcome(item.id, DONE, "", result)

    # --- storage ----------------------------------------------------------------------------------
    def _replace(self, changed: QueuedGeneration) -> None:
        items = self.items()
        if any(item.id == changed.id for item in items):  # not if the user removed it meanwhile
            self._save([changed if item.id == changed.id else item for item in items])

    def _save(self, items: list[QueuedGeneration]) -> None:
        if items:
            self._storage.setItem(self._key, json.dumps([item.to_dict() for item in items]))
        else:
            self._storage.removeItem(self._key)
        self._notify()

    def _notify(self) -> None:
        items = self.items()
        for listener in list(self._listeners):
            result = listener(items)
            if inspect.isawaitable(result):
                asyncio.ensure_future(result)

    def _watch_other_tabs(self) -> None:
        def on_storage(event):
            if _is_null(event.key) or event.key == self._key:  # null: another tab cleared it
                self._notify()

        proxy = create_proxy(on_storage)
        js.window.addEventListener("storage", proxy)
        self._proxies.append(("storage", proxy))


async def _exclusively(name: str, work: Callable[[], Awaitable[list]]) -> list:
    """Run `work()` holding the Web Lock `name`; return [] at once if another tab holds it.
    Without Web Locks (a page served over plain http to another machine) it just runs."""
    locks = getattr(js.navigator, "locks", None)
    if locks is None:
        return await work()
    held = js.Promise.withResolvers()
    granted = asyncio.get_event_loop().create_future()

    def on_lock(lock):
        granted.set_result(not _is_null(lock))
        return held.promise

    proxy = create_proxy(on_lock)
    options = to_js({"ifAvailable": True}, dict_converter=js.Object.fromEntries)
    request = locks.request(name, options, proxy)
    try:
        if not await granted:
            return []
        return await work()
    finally:
        held.resolve()
        await request
        proxy.destroy()
