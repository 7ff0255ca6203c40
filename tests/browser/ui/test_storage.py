"""The storage panel (#/storage), driven by role and name: the meter and the charts follow a put
and a project delete, the persistence button reports what the browser answered, and the
"not backed up" warning appears past its threshold and goes once the files are backed up."""

from __future__ import annotations

import json
import re
import textwrap
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import (AppPage, install_pagekit, is_loopback, run_python, vault_state,
                      wait_for_app_state)

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
PRELUDE = """
import json, js, pagekit
from app.startup import current_app, current_vault
from app.ui.views import storage
from app.ui.parts import storage_stats
from app.ui.parts.dom import format_bytes
vault = current_vault()
"""
# navigator.storage.estimate() once usage has stopped moving.
SETTLED_USAGE_JS = """async () => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  let last = -1;
  for (let i = 0; i < 40; i++) {
    const { usage } = await navigator.storage.estimate();
    if (usage === last) return usage;
    last = usage;
    await sleep(400);
  }
  return last;
}"""


@pytest.fixture
def quiet_app(browser, server):
    """A fresh context without the service worker, whose precaching would move the storage
    estimate by megabytes while the test measures it. Fails if a request leaves loopback."""
    context = browser.new_context(service_workers="block")
    recorder = AppPage(context, server.url)
    context.on("request", lambda request: None if is_loopback(request.url)
               else recorder.outside_requests.append(request.url))
    yield recorder
    context.close()
    # Not page_errors: static/js/offline.js reads `registration.waiting` of the blocked worker.
    assert recorder.outside_requests == []


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def open_view(page, route: str, heading: str) -> None:
    """Navigate the app to `route` and wait until that view has rendered afresh."""
    page.evaluate("document.getElementById('view').replaceChildren()")
    run_python(page, f"from app.startup import current_app; current_app().navigate({route!r}); 0")
    expect(page.get_by_role("heading", name=heading, exact=True, level=1)).to_be_visible()


def meter_value(page) -> int:
    meter = page.get_by_role("meter", name="Storage used by this site")
    expect(meter).to_be_visible()
    return int(meter.get_attribute("aria-valuenow"))


def table_rows(page, name: str) -> dict[str, str]:
    table = page.get_by_role("table", name=name)
    cells = table.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.children].map(c => c.textContent))")
    return {label: size for label, size, _share in cells}


def test_meter_and_charts_follow_a_put_and_a_project_delete(quiet_app):
    page = quiet_app.open()
    page.set_viewport_size({"width": 1280, "height": 900})
    assert wait_for_app_state(page) == "ready"
    install_pagekit(page)
    empty = page.evaluate(SETTLED_USAGE_JS)
    sizes = py(page, """
        big = await vault.create_project("Big reel")
        small = await vault.create_project("Small reel")
        await vault.put_asset(big.id, "audio", "scene:1:narration", pagekit.wav_bytes(3_000_000),
                              "audio/wav")
        await vault.put_asset(small.id, "scene", "scene:1", pagekit.png(64, 36), "image/png")
        usage = await vault.usage()
        json.dumps({"big": format_bytes(usage.by_project[big.id]),
                    "audio": format_bytes(usage.by_kind["audio"])})
    """)
    before = page.evaluate(SETTLED_USAGE_JS)
    open_view(page, "#/storage", "Storage")
    used = meter_value(page)
    assert used >= empty + 3_000_000 and used >= before - 100_000
    assert table_rows(page, "Bytes by project")["Big reel"] == sizes["big"]
    assert table_rows(page, "Bytes by kind")["audio"] == sizes["audio"]
    bars = page.locator(".chart-project rect.chart-bar")
    widths = {bar.get_attribute("data-label"): float(bar.get_attribute("width"))
              for bar in bars.all()}
    assert widths["Big reel"] > 100 * widths["Small reel"] > 0
    expect(page.locator(".chart-project svg")).to_contain_text("Big reel")
    screenshot(page, "storage.png")
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 360, "height": 800})
    screenshot(page, "storage-dark-360px.png")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 1280, "height": 900})

    open_view(page, "#/", "Projects")
    page.get_by_role("button", name="Delete Big reel").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete project").click()
    expect(page.locator(".notice-info")).to_contain_text("Moved “Big reel” to the trash")
    open_view(page, "#/trash", "Trash")  # the trash holds its bytes until it is emptied
    page.get_by_role("button", name="Empty trash").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Empty trash").click()
    expect(page.locator(".notice-info")).to_contain_text("Emptied the trash")
    page.evaluate(SETTLED_USAGE_JS)
    open_view(page, "#/storage", "Storage")
    assert meter_value(page) < used - 2_000_000
    assert "Big reel" not in table_rows(page, "Bytes by project")
    assert "audio" not in table_rows(page, "Bytes by kind")
    assert vault_state(page)["problems"] == []


def test_persistence_button_reports_the_browsers_answer(vault_page):
    page = vault_page
    open_view(page, "#/storage", "Storage")
    panel = page.get_by_role("region", name="Keep my files")
    expect(panel).to_contain_text("Browsers may evict")
    ask = panel.get_by_role("button", name="Keep my files (ask for persistent storage)")
    state = panel.get_by_role("status")
    if page.evaluate("navigator.storage.persisted()"):
        expect(ask).to_be_disabled()
        expect(state).to_have_text(re.compile("^Storage is persistent"))
        return
    ask.click()
    info = page.locator(".notice-info .notice-text")
    expect(info).to_have_text(re.compile("^The browser (granted|declined)"))
    granted = page.evaluate("navigator.storage.persisted()")
    said = info.inner_text()
    assert said.startswith("The browser granted" if granted else "The browser declined")
    expect(state).to_have_text(re.compile("^Storage is persistent" if granted else
                                          "^Storage is not persistent"))
    assert ask.is_disabled() == granted
    page.locator(".notice-info").get_by_role("button", name="Dismiss").click()


def test_a_granted_request_shows_persistent_storage(vault_page):
    page = vault_page
    py(page, """
        class Granting:  # the browser's StorageManager, except that persist() is granted
            def __init__(self, real):
                self.real, self.granted = real, False
            async def persist(self):
                self.granted = True
                return True
            async def persisted(self):
                return self.granted
            async def estimate(self):
                return await self.real.estimate()
        vault.storage = Granting(vault.storage)
        json.dumps(0)
    """)
    try:
        open_view(page, "#/storage", "Storage")
        panel = page.get_by_role("region", name="Keep my files")
        expect(panel.get_by_role("status")).to_have_text(re.compile("^Storage is not persistent"))
        ask = panel.get_by_role("button", name="Keep my files (ask for persistent storage)")
        ask.click()
        expect(page.locator(".notice-info .notice-text")).to_have_text(
            "The browser granted persistent storage: it will not evict your files.")
        expect(panel.get_by_role("status")).to_have_text(re.compile("^Storage is persistent"))
        expect(ask).to_be_disabled()
        page.locator(".notice-info").get_by_role("button", name="Dismiss").click()
    finally:
        py(page, "vault.storage = getattr(vault.storage, 'real', vault.storage)\njson.dumps(0)")
        run_python(page, "from app.startup import current_app; current_app().navigate('#/'); 0")


def test_unbacked_warning_appears_past_the_threshold_and_goes_after_a_backup(vault_page):
    page = vault_page
    title = f"Unbacked {time.time_ns()}"
    made = py(page, f"""
        project = await vault.create_project({title!r})
        await vault.put_asset(project.id, "audio", "scene:1:narration",
                              pagekit.wav_bytes(300_000), "audio/wav")
        pending = storage_stats.unbacked(await vault.list_all_assets())
        original = storage.UNBACKED_WARNING_BYTES
        storage.UNBACKED_WARNING_BYTES = pending.bytes - 1_000
        json.dumps({{"project": project.id, "pending": format_bytes(pending.bytes),
                    "original": original}})
    """)
    assert made["original"] == 500 * 1024 * 1024
    try:
        open_view(page, "#/storage", "Storage")
        backups = page.get_by_role("region", name="Backups")
        expect(backups).to_contain_text(f"Not backed up yet: {made['pending']} in")
        warning = backups.get_by_role("alert")
        expect(warning).to_contain_text(f"{made['pending']} of your files are not backed up")
        screenshot(page, "storage-warning.png")
        py(page, f"await vault.mark_backed_up({made['project']!r})\njson.dumps(0)")
        open_view(page, "#/storage", "Storage")
        expect(backups.get_by_role("alert")).to_have_count(0)
        expect(backups).to_contain_text("A warning shows here when more than")
        expect(backups).not_to_contain_text(f"Not backed up yet: {made['pending']} in")
    finally:
        py(page, f"""
            storage.UNBACKED_WARNING_BYTES = {made['original']}
            await vault.delete_project({made['project']!r})
            current_app().navigate("#/")
            json.dumps(0)
        """)
