"""Shared fixtures: a real server.py on port 0, one Chromium for the whole run, a fresh browser
context per test that fails the test when any request leaves loopback, and a helper that waits
for <html data-app-state>.

    def test_boot(app_page):              # a fresh context: full boot, own routes
        page = app_page.open()
        assert wait_for_app_state(page) == "ready"

    def test_version(ready_page):         # the page booted once for the whole run
        assert run_python(ready_page, "1 + 1") == 2
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Any host but loopback fails fast; the request log below still proves nothing tried.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
BOOT_TIMEOUT_MS = 60_000


@dataclass
class RunningServer:
    """A server.py child process and where it listens."""

    process: subprocess.Popen
    url: str
    log_path: Path

    @property
    def port(self) -> int:
        return urlsplit(self.url).port

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_server(root: Path, log_path: Path, *args: str,
                 env: dict[str, str] | None = None) -> RunningServer:
    """Start `root/server.py` on a free port and wait for its 'serving http://...' line.
    `env` adds (or overrides) environment variables, such as SCENEVAULT_* provider settings."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, str(root / "server.py"), "--port", "0", *args], cwd=root,
            stdout=subprocess.PIPE, stderr=log, text=True,
            env={**os.environ, **env} if env is not None else None)
    line = process.stdout.readline()
    if " serving http://" not in line:
        process.kill()
        raise RuntimeError(f"server.py did not start: {line!r}\n{log_path.read_text()}")
    return RunningServer(process, line.split(" serving ", 1)[1].strip(), log_path)


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> RunningServer:
    """The app's own server.py, shared by the whole run."""
    running = start_server(ROOT, tmp_path_factory.mktemp("server") / "server.log", "--quiet")
    yield running
    running.stop()


# What a runnable copy of the app needs: the served tree, and the server with what it imports.
APP_TOP_FILES = ("server.py", "index.html", "pyscript.toml", "requirements-browser.txt")
APP_FOLDERS = ("app", "proxy", "tools")


def copy_app_tree(destination: Path, static_ignore: tuple[str, ...] = ()) -> Path:
    """A copy of the app under `destination` that `server.py` can serve: the top files, app/,
    the server-only proxy/ and tools/ (the shell list), and static/ minus `static_ignore`."""
    destination.mkdir(parents=True)
    for name in APP_TOP_FILES:
        shutil.copy2(ROOT / name, destination / name)
    for folder in APP_FOLDERS:
        shutil.copytree(ROOT / folder, destination / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "static", destination / "static",
                    ignore=shutil.ignore_patterns(*static_ignore))
    return destination


@pytest.fixture
def unvendored_server(tmp_path) -> RunningServer:
    """server.py in a copy of the app that lacks static/vendor/ (as before `make setup`)."""
    root = copy_app_tree(tmp_path / "app", static_ignore=("vendor",))
    running = start_server(root, tmp_path / "server.log")
    yield running
    running.stop()


# --- browser ------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def chromium_never_crashes(request):
    """Every browser test fails (in teardown, whatever its own outcome) when a Chromium process
    crashed while it ran: the crash is named from Chromium's own minidump (process, signal,
    address; tests/browser/crashdumps.py) and the dump kept in test-artifacts/crashes/."""
    if "browser" not in request.node.path.parts:
        yield
        return
    import crashdumps  # tests/browser, on the pythonpath

    before = crashdumps.existing_dumps()
    yield
    crashed = crashdumps.new_dumps(before)
    if crashed:
        kept = ROOT / "test-artifacts" / "crashes"
        kept.mkdir(parents=True, exist_ok=True)
        for dump in crashed:
            shutil.copy2(dump, kept / f"{request.node.name[:80]}-{dump.name}")
        pytest.fail("Chromium crashed during this test: "
                    + "; ".join(crashdumps.describe(dump) for dump in crashed)
                    + f". The minidumps are in {kept}.")


@pytest.fixture(scope="session")
def browser():
    """One real Chromium (Debian's) for the whole run."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test`, which installs it")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.hostname in LOOPBACK_HOSTS


@dataclass
class AppPage:
    """A fresh context on the app's server; records page errors and off-machine requests."""

    context: object
    base_url: str
    outside_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def open(self, path: str = "/"):
        page = self.context.new_page()
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("console", self._console)
        page.goto(self.base_url.rstrip("/") + path)
        return page

    def _console(self, message) -> None:
        """An exception the app's handlers did not expect (App.report logs it with this prefix,
        and shows "Something went wrong"): a bug, counted as a page error."""
        if message.type == "error" and message.text.startswith("SceneVault unexpected error"):
            self.page_errors.append(message.text)


@pytest.fixture
def app_page(browser, server) -> AppPage:
    """A fresh browser context; the test fails if any request leaves loopback."""
    context = browser.new_context()
    recorder = AppPage(context, server.url)
    context.on("request", lambda request: None if is_loopback(request.url)
               else recorder.outside_requests.append(request.url))
    yield recorder
    context.close()
    assert recorder.outside_requests == [], "requests left the machine"


@pytest.fixture(scope="session")
def shared_app(browser, server):
    """One context and page, booted once and shared by every test that needs a ready app."""
    context = browser.new_context()
    recorder = AppPage(context, server.url)
    context.on("request", lambda request: None if is_loopback(request.url)
               else recorder.outside_requests.append(request.url))
    page = recorder.open()
    state = wait_for_app_state(page)
    if state != "ready":
        pytest.fail(f"the shared app did not boot: {state}: {page.locator('#boot-error').inner_text()}")
    yield recorder, page
    context.close()


@pytest.fixture
def ready_page(shared_app):
    """The shared, booted page; the test fails on any off-machine request or page error it causes."""
    recorder, page = shared_app
    requests_before, errors_before = len(recorder.outside_requests), len(recorder.page_errors)
    yield page
    assert recorder.outside_requests[requests_before:] == [], "requests left the machine"
    assert recorder.page_errors[errors_before:] == [], "uncaught errors in the page"


# Deletes a blob and its preview the way the browser's eviction would (plain JS, not the vault's
# code), so a test can make media "missing" and check what the app does about it.
EVICT_JS = """async (sha) => {
  const db = await new Promise((ok, no) => { const r = indexedDB.open("scenevault");
                                              r.onsuccess = () => ok(r.result); r.onerror = no; });
  const tx = db.transaction(["blobs", "previews"], "readwrite");
  tx.objectStore("blobs").delete(sha);
  tx.objectStore("previews").delete(sha);
  await new Promise((ok) => { tx.oncomplete = ok; });
  db.close();
}"""
INVARIANTS_JS = (Path(__file__).parent / "browser" / "invariants.js").read_text()
PAGEKIT = (Path(__file__).parent / "browser" / "pagekit.py").read_text()


def install_pagekit(page) -> None:
    """Make tests/browser/pagekit.py importable as `pagekit` in the page's Pyodide."""
    run_python(page, f"open('/home/pyodide/pagekit.py', 'w').write({PAGEKIT!r}); "
                     "import sys; sys.modules.pop('pagekit', None); 0")


# Waits until the page's background preview maker (app/store/preview_maker.py) has nothing
# queued or in hand, so that counts read next do not change under the test. A page whose app
# has not started has no maker to wait for.
SETTLE_PREVIEWS_JS = """async () => {
  if (!window.sceneVault) return;
  await window.sceneVault.runPython(`
from app.core.errors import StartupError
from app.startup import current_vault
try:
    await current_vault().preview_maker.idle()
except StartupError:
    pass
0`);
}"""


def settle_previews(page) -> None:
    """Wait until previews still being made in the background have landed (or been marked)."""
    page.evaluate(SETTLE_PREVIEWS_JS)


def vault_state(page, db_name: str = "scenevault") -> dict:
    """{problems, counts} from tests/browser/invariants.js, read with plain IndexedDB once the
    page's previews being made in the background have landed."""
    settle_previews(page)
    return page.evaluate(INVARIANTS_JS, db_name)


@pytest.fixture
def vault_page(ready_page):
    """The shared booted page with `pagekit` installed; fails the test if the vault's
    invariants do not hold afterwards (blobs, previews, records, one current per slot)."""
    install_pagekit(ready_page)
    yield ready_page
    assert vault_state(ready_page)["problems"] == []


def wait_for_app_state(page, timeout_ms: int = BOOT_TIMEOUT_MS) -> str:
    """Wait until <html data-app-state> leaves 'loading'; return the new state."""
    page.wait_for_function("document.documentElement.dataset.appState !== 'loading'",
                           timeout=timeout_ms)
    return page.evaluate("document.documentElement.dataset.appState")


def run_python(page, code: str):
    """Run `code` in the page's Pyodide (window.sceneVault.runPython); return its last value."""
    return page.evaluate("code => window.sceneVault.runPython(code)", code)


def open_route(page, hash_path: str) -> None:
    """Go to `hash_path` (e.g. "#/project/prj_…") and wait until its view replaced the old one.

    Until then the old view stays on screen (inert), and a locator by role or name could find
    the old view's element, so tests that navigate by setting the hash wait here first."""
    page.evaluate("hash => { location.hash = hash; }", hash_path)
    page.locator(f"#view[data-route={json.dumps(hash_path)}]:not([inert])").wait_for()
