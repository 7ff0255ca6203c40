"""The app boots in a real Chromium from vendored files only, its Python in one archive with
its bytecode, an edited module reaches the page on reload, and every failure to boot ends on a
visible error instead of a spinner."""

import json
import tomllib

import pytest
from playwright.sync_api import expect

from conftest import ROOT, run_python, start_server, wait_for_app_state
from offline_support import copy_app
from tools import bundle


def test_boot_reaches_ready_offline_with_no_page_errors(app_page):
    page = app_page.open()
    assert wait_for_app_state(page) == "ready"
    assert page.get_by_role("heading", name="No projects yet").is_visible()
    assert not page.locator("#boot-status").is_visible()
    assert app_page.page_errors == []
    # app_page's teardown fails this test if any request left loopback.


def test_footer_shows_the_version_from_python(ready_page):
    from app.core.version import __version__

    assert ready_page.locator("footer").inner_text().startswith(f"SceneVault {__version__}")


def test_vendored_wheels_and_the_page_python_work(ready_page):
    result = json.loads(run_python(ready_page, """
import json, sys, urllib.request, js, pyodide_http
pyodide_http.patch_all()
with urllib.request.urlopen(js.location.origin + "/api/health") as reply:
    health = json.loads(reply.read())
json.dumps({"pyodide_http": pyodide_http.__version__, "python": sys.version_info[:2],
            "health": health})
"""))
    assert result["pyodide_http"] == "0.2.2"
    assert result["python"][0] == 3 and result["python"][1] >= 12
    assert result["health"]["ok"] is True


def test_loading_indicator_shows_while_python_starts(app_page):
    held = []
    app_page.context.route("**/python_stdlib.zip", lambda route: held.append(route))
    page = app_page.open()
    for _ in range(200):  # the route handler runs while Playwright waits
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the boot should be waiting for the Python standard library"
    assert page.evaluate("document.documentElement.dataset.appState") == "loading"
    assert page.get_by_role("status").is_visible()
    assert "Starting SceneVault" in page.get_by_role("status").inner_text()
    held[0].continue_()
    assert wait_for_app_state(page) == "ready"


@pytest.mark.parametrize("missing", [
    "static/vendor/pyscript/core.js",
    "static/vendor/pyodide/pyodide.mjs",
    "static/vendor/pyodide/pyodide.asm.wasm",
    "static/vendor/pyodide/python_stdlib.zip",
    "static/vendor/wheels/pyodide_http.whl",
    "static/app.zip",
    "app/main.py",
])
def test_a_missing_runtime_file_ends_in_a_visible_error(app_page, missing):
    app_page.context.route(f"**/{missing}", lambda route: route.fulfill(status=404, body="gone"))
    page = app_page.open()
    assert wait_for_app_state(page) == "error"
    alert = page.get_by_role("alert")
    assert alert.is_visible()
    # The file's name may arrive a moment after the state: the 404 reaches the resource timeline
    # after the loader reports its own, vaguer error.
    expect(alert).to_contain_text(missing.rsplit("/", 1)[1], timeout=5_000)
    assert not page.get_by_role("status").is_visible()


def bridge_modules() -> list[str]:
    """The ES modules pyscript.toml's [js_modules.main] imports before Python starts."""
    config = tomllib.loads((ROOT / "pyscript.toml").read_text())
    return [source.removeprefix("./") for source in config.get("js_modules", {}).get("main", {})]


@pytest.mark.parametrize("missing", bridge_modules())
def test_a_missing_bridge_module_ends_in_a_visible_error_naming_it(app_page, missing):
    app_page.context.route(f"**/{missing}", lambda route: route.fulfill(status=404, body="gone"))
    page = app_page.open()
    assert wait_for_app_state(page) == "error"
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(missing.rsplit("/", 1)[1], timeout=5_000)
    assert not page.get_by_role("status").is_visible()


def test_a_vendor_file_gone_from_disk_names_make_setup(app_page):
    app_page.context.route("**/core.js", lambda route: route.fulfill(status=404, body="gone"))
    page = app_page.open()
    wait_for_app_state(page)
    assert "make setup" in page.get_by_role("alert").inner_text()


def archive_with(changed: dict[str, bytes]) -> bytes:
    """The app archive with some modules' source replaced (and no bytecode)."""
    return bundle.build_archive({**bundle.archived_modules(ROOT), **changed}, None, {})


def test_a_python_exception_at_start_up_is_shown(app_page):
    broken = archive_with({"app/ui/shell.py": b"raise RuntimeError('shell exploded on purpose')\n"})
    app_page.context.route("**/static/app.zip", lambda route: route.fulfill(
        status=200, content_type="application/zip", body=broken))
    page = app_page.open()
    assert wait_for_app_state(page) == "error"
    assert "shell exploded on purpose" in page.get_by_role("alert").inner_text()
    assert page.get_by_role("button", name="Reload").is_visible()


def test_the_app_arrives_in_one_archive_and_imports_from_its_bytecode(app_page):
    """One request brings every module (app/main.py, the entry script, comes on its own), and
    the modules the page imported ran from the archive's bytecode, read in place by zipimport."""
    requested = []
    app_page.context.on("request", lambda request: requested.append(request.url))
    page = app_page.open()
    assert wait_for_app_state(page) == "ready"
    base = app_page.base_url.rstrip("/")
    app_requests = sorted(url.removeprefix(base) for url in requested
                          if url.startswith(base + "/app/") or url.endswith("/static/app.zip"))
    assert app_requests == ["/app/main.py", "/static/app.zip"]
    loaded = json.loads(run_python(page, """
import json, sys, zipimport
json.dumps({name: [type(module.__loader__).__name__, module.__file__]
            for name, module in sorted(sys.modules.items())
            if name.startswith("app.") and name != "app.main"})
"""))
    # zipimport names a module after the file it ran: the .pyc when that matched its source.
    assert {loader for loader, _ in loaded.values()} == {"zipimporter"}
    assert [name for name, (_, path) in loaded.items()
            if not path.startswith("/home/pyodide/lib/app.zip/app/") or not path.endswith(".pyc")] == []
    assert len(loaded) > 20 and "app.startup" in loaded and "app.store.vault" in loaded
    # The dataclasses took their generated methods from the archive's table (app/core/codecache.py).
    assert run_python(page, "import dataclasses; dataclasses.exec.__name__") == "exec_generated"
    assert run_python(page, "from app.core import codecache; len(codecache.load('lib/app.zip'))") > 20


def test_the_boot_timeline_names_each_step_in_order(app_page):
    page = app_page.open()
    assert wait_for_app_state(page) == "ready"
    marks = page.evaluate("SceneVaultBoot.marks")
    steps = ["Loading files", "Loaded files", "main.py started", "app imported", "vault opened",
             "ready"]
    assert set(steps) <= set(marks)
    assert [marks[step] for step in steps] == sorted(marks[step] for step in steps)
    assert marks["ready"] == page.evaluate("SceneVaultBoot.readyAt")


def test_an_edited_module_reaches_the_page_on_reload_with_no_build_step(browser, tmp_path):
    """The server rebuilds the archive from app/ when a module changed since it was built."""
    root = copy_app(tmp_path / "app")
    running = start_server(root, tmp_path / "server.log", "--quiet")
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(running.url)
        assert wait_for_app_state(page) == "ready"
        version = root / "app" / "core" / "version.py"
        version.write_text(version.read_text().replace('__version__ = "', '__version__ = "9.9.9-'))
        (root / "app" / "core" / "added_later.py").write_text("ANSWER = 42\n")
        page.reload()
        assert wait_for_app_state(page) == "ready"
        assert page.locator("#app-version").inner_text().startswith("9.9.9-")
        assert run_python(page, "import app.core.added_later as m; m.ANSWER") == 42
    finally:
        context.close()
        running.stop()
