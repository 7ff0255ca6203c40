"""Shared by the offline and connectivity tests: a private, runnable copy of the app with its own
server.py that a test may stop, change and restart on the same port, and a browser context that
records off-machine requests and page errors (the fixture fails the test on either).

    def test_something(offline_app):          # imported into the test module
        page = boot_controlled(offline_app)   # ready, and the service worker controls the page
        offline_app.stop_server()
        offline_app.restart_server()          # same port, so the page's origin is unchanged
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import RunningServer, copy_app_tree, is_loopback, start_server, wait_for_app_state
from tools.precache import write_precache

SW_TIMEOUT_MS = 60_000


def copy_app(destination: Path) -> Path:
    """A runnable copy of the app (vendored runtime included) with its own precache list."""
    copy_app_tree(destination, static_ignore=("precache.js", ".*"))
    write_precache(destination)
    return destination


@dataclass
class OfflineApp:
    """A private app copy, its server (stoppable, restartable on the same port) and a context."""

    root: Path
    server: RunningServer
    context: object
    outside_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def open(self):
        page = self.context.new_page()
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.goto(self.url)
        return page

    def stop_server(self) -> None:
        self.server.stop()

    def restart_server(self) -> None:
        log = self.server.log_path.with_suffix(".restarted.log")
        self.server = start_server(self.root, log, "--quiet", "--port", str(self.server.port))


def watch_requests(context, outside: list[str]) -> None:
    context.on("request", lambda request: None if is_loopback(request.url)
               else outside.append(request.url))


@pytest.fixture
def offline_app(browser, tmp_path) -> OfflineApp:
    """A fresh context on a private app copy; fails the test on off-machine requests or page errors."""
    root = copy_app(tmp_path / "app")
    app = OfflineApp(root, start_server(root, tmp_path / "server.log", "--quiet"),
                     browser.new_context())
    watch_requests(app.context, app.outside_requests)
    yield app
    app.context.close()
    if app.server.process.poll() is None:
        app.stop_server()
    assert app.outside_requests == [], "requests left the machine"
    assert app.page_errors == [], "uncaught errors in the page"


def boot_controlled(app: OfflineApp):
    """Open the app, wait for `ready` and for the service worker to control the page."""
    page = app.open()
    assert wait_for_app_state(page) == "ready"
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=SW_TIMEOUT_MS)
    return page




def net_status(page) -> str:
    return page.locator("#net-status").inner_text()


def wait_for_net_status(page, text: str) -> None:
    page.wait_for_function("t => document.getElementById('net-status').textContent === t", arg=text)


def reload_into_ready(page) -> None:
    page.reload()
    assert wait_for_app_state(page) == "ready"
