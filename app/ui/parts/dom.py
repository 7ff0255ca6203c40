"""Tiny DOM toolkit (browser): build elements from Python, and a `Scope` that owns everything a
rendered view creates (event-handler proxies and object URLs) so one `dispose()` frees it all.

Text always goes in as text nodes, never as HTML, so user data cannot inject markup. Handlers
may be plain or async functions; an exception they raise is shown to the user through the
error reporter the app installs (`set_error_reporter`), never swallowed.

    scope = Scope()
    button = el(document, "button", {"type": "button"}, "Save")
    scope.on(button, "click", save)          # async def save(event): ...
    img = el(document, "img", {"src": scope.url(blob), "alt": "Scene 1"})
    scope.dispose()                          # revokes the URL, destroys the proxy
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Callable

import js
from pyodide.ffi import create_proxy, jsnull

_report_error: Callable[[BaseException], None] = lambda exc: js.console.error(str(exc))


def set_error_reporter(report: Callable[[BaseException], None]) -> None:
    """Where exceptions from event handlers go (the app shows them in a role=alert notice)."""
    global _report_error
    _report_error = report


def el(document, tag: str, attrs: dict | None = None, *children):
    """Return a new `tag` element with `attrs` set and `children` (elements or str) appended."""
    node = document.createElement(tag)
    for name, value in (attrs or {}).items():
        if value is True:
            node.setAttribute(name, "")
        elif value not in (None, False):
            node.setAttribute(name, str(value))
    for child in children:
        if child is None:
            continue
        node.append(document.createTextNode(child) if isinstance(child, str) else child)
    return node


def found(node):
    """`node` as Python sees a DOM lookup's answer: None when nothing was found. Pyodide turns
    JS null (what `querySelector`, `closest` and `getElementById` return for no match) into
    `jsnull`, which is not None: `found(grid.querySelector(".x")) is None` is the test to use."""
    return None if node is None or node is jsnull else node


def replace_children(node, *children) -> None:
    """Swap `node`'s content for `children` in one DOM operation."""
    node.replaceChildren(*[c for c in children if c is not None])


def run_soon(work) -> asyncio.Task:
    """Run a coroutine in the background; its exception reaches the error reporter. Returns
    the task, for a caller that must wait for it later."""
    task = asyncio.ensure_future(work)
    task.add_done_callback(_report_failure)
    return task


def _report_failure(task) -> None:
    if not task.cancelled() and task.exception() is not None:
        _report_error(task.exception())


class Scope:
    """Owns a view's event proxies and object URLs; `dispose()` releases every one of them."""

    def __init__(self):
        self._proxies: list = []
        self._urls: list[str] = []
        self._cleanups: list[Callable[[], None]] = []
        self._children: list[Scope] = []
        self._parent: Scope | None = None
        self.disposed = False

    def child(self) -> Scope:
        """A scope disposed with this one (or before it, on its own, e.g. a page of cards)."""
        child = Scope()
        child._parent = self
        self._children.append(child)
        return child

    def defer(self, cleanup: Callable[[], None]) -> None:
        """Run `cleanup()` on dispose (e.g. a child component's own dispose)."""
        self._cleanups.append(cleanup)

    def on(self, node, event: str, handler: Callable) -> None:
        """Call `handler(event)` (sync or async) on `event`; errors go to the reporter."""
        def dispatch(dom_event):
            try:
                result = handler(dom_event)
            except Exception as exc:  # shown to the user, never lost
                _report_error(exc)
                return
            if inspect.isawaitable(result):
                run_soon(result)

        proxy = create_proxy(dispatch)
        self._proxies.append((node, event, proxy))
        node.addEventListener(event, proxy)

    def url(self, blob) -> str:
        """An object URL for `blob` that this scope revokes on dispose."""
        url = js.URL.createObjectURL(blob)
        self._urls.append(url)
        return url

    def dispose(self) -> None:
        for child in list(self._children):
            child.dispose()
        if self._parent is not None and self in self._parent._children:
            self._parent._children.remove(self)
        for cleanup in self._cleanups:
            cleanup()
        self._cleanups.clear()
        for url in self._urls:
            js.URL.revokeObjectURL(url)
        for node, event, proxy in self._proxies:
            node.removeEventListener(event, proxy)  # no event may reach a destroyed proxy
            proxy.destroy()
        self._urls.clear()
        self._proxies.clear()
        self.disposed = True


def format_bytes(size: int | None) -> str:
    """1536 -> '1.5 KB'."""
    if size is None:
        return "unknown"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def format_time(ms: int | None) -> str:
    """Milliseconds since the epoch -> the user's local date and time."""
    if ms is None:
        return "never"
    return str(js.Date.new(ms).toLocaleString())
