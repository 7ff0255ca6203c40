"""Warnings before loss, through the visible UI (app/ui/parts/loss_banner.py): nothing on an
empty vault; the persistence warning once a project is stored, and what "Keep my data" gets
from the browser; the backup warning for a project 8 days old, naming it, dismissed for the
session (a reload keeps it hidden, a new tab brings it back) and cleared by Export all, after
which the storage view shows the export's time. Headless Chromium reports persisted() false
and answers persist() with false; a second test makes the browser agree (an init script) and
offers an install prompt."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from conftest import AppPage, install_pagekit, is_loopback, run_python, wait_for_app_state

PERSIST = "The browser may delete your files"
BACKUP = "Changes not backed up for more than 7 days"
DAY_MS = 24 * 60 * 60 * 1000
TITLE = "Harbour at dusk"

# Sets a project's createdAt and updatedAt in IndexedDB directly, as if it were made long ago.
AGE_PROJECT_JS = """async ([id, ms]) => {
  const db = await new Promise((ok, no) => { const r = indexedDB.open("scenevault");
                                              r.onsuccess = () => ok(r.result); r.onerror = no; });
  const tx = db.transaction(["projects"], "readwrite");
  const store = tx.objectStore("projects");
  store.get(id).onsuccess = (event) => {
    const record = event.target.result;
    record.createdAt = ms;
    record.updatedAt = ms;
    store.put(record);
  };
  await new Promise((ok, no) => { tx.oncomplete = ok; tx.onerror = no; });
  db.close();
}"""
# The browser agrees to keep the data (headless Chromium never does on its own).
GRANTING_STORAGE_JS = """(() => {
  let granted = false;
  StorageManager.prototype.persist = async function () { granted = true; return true; };
  StorageManager.prototype.persisted = async function () { return granted; };
})();"""
# What Chromium fires when the app can be installed: an event with prompt() and userChoice.
OFFER_INSTALL_JS = """() => {
  const event = new Event("beforeinstallprompt", { cancelable: true });
  event.prompt = async () => { window.installPrompted = true; };
  event.userChoice = Promise.resolve({ outcome: "dismissed", platform: "web" });
  window.dispatchEvent(event);
}"""


@pytest.fixture
def fresh_app(browser, server):
    """A fresh context (empty vault, own sessionStorage) that accepts downloads."""
    context = browser.new_context(accept_downloads=True)
    context.add_init_script("window.showSaveFilePicker = undefined")  # exports download
    recorder = AppPage(context, server.url)
    context.on("request", lambda request: None if is_loopback(request.url)
               else recorder.outside_requests.append(request.url))
    yield recorder
    context.close()
    assert recorder.outside_requests == []
    assert recorder.page_errors == []


def booted(recorder: AppPage, path: str = "/"):
    page = recorder.open(path)
    assert wait_for_app_state(page) == "ready"
    return page


def banner(page, name: str):
    return page.locator("#loss-warnings").get_by_role("region", name=name)


def create_project(page, title: str) -> None:
    page.get_by_role("button", name="New project").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Title").fill(title)
    dialog.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()


def go(page, route: str, heading: str) -> None:
    page.evaluate(f"location.hash = {route!r}")
    expect(page.get_by_role("heading", name=heading, exact=True, level=1)).to_be_visible()


def last_backups(page) -> dict[str, str]:
    rows = page.get_by_role("region", name="Backups").locator("dl.backup-history")
    expect(rows).to_be_visible()
    terms = rows.locator("dt").all_inner_texts()
    return dict(zip(terms, rows.locator("dd").all_inner_texts()))


def test_warnings_follow_the_vault_the_browser_and_the_backups(fresh_app):
    page = booted(fresh_app)
    assert page.evaluate("navigator.storage.persisted()") is False
    expect(page.get_by_role("heading", name="Projects", level=1)).to_be_visible()
    page.wait_for_timeout(500)  # the banners are drawn just after the view: give them the time
    expect(page.locator("#loss-warnings")).to_have_count(0)  # an empty vault: no nagging

    # Something is stored: the persistence warning, with its fixes.
    create_project(page, TITLE)
    warning = banner(page, PERSIST)
    expect(warning).to_contain_text("Safari) also delete what a site stored after 7 days")
    expect(warning.get_by_role("link", name="Back up to a folder")).to_have_attribute(
        "href", "#/storage")
    expect(warning.get_by_role("link", name="Export a backup")).to_have_attribute("href", "#/")
    expect(warning).to_contain_text("To install: use your browser's Install item")
    expect(banner(page, BACKUP)).to_have_count(0)  # a project of today is not stale

    # "Keep my data" asks the browser; the warning says what it answered.
    warning.get_by_role("button", name="Keep my data").click()
    if page.evaluate("navigator.storage.persisted()"):
        expect(warning).to_have_count(0)
    else:
        expect(warning.get_by_role("status")).to_have_text(
            re.compile("^The browser said no for now."))
        expect(warning.get_by_role("button", name="Keep my data")).to_be_focused()

    # A project (and its file) 8 days old and never backed up: the backup warning names it.
    install_pagekit(page)
    made = json.loads(run_python(page, f"""
import json, pagekit
from app.core.model import now_ms
from app.startup import current_vault
from app.ui.parts.storage_stats import unbacked
from app.ui.parts.dom import format_bytes
vault = current_vault()
project = [p for p in await vault.list_projects() if p.title == {TITLE!r}][0]
old = now_ms() - 8 * {DAY_MS} - 60_000
await vault.put_asset(project.id, "scene", "scene:1", pagekit.png(64, 36), "image/png",
                      created_at=old)
json.dumps({{"id": project.id, "old": old,
            "pending": format_bytes(unbacked(await vault.list_all_assets()).bytes)}})
"""))
    page.evaluate(AGE_PROJECT_JS, [made["id"], made["old"]])
    go(page, "#/", "Projects")
    stale = banner(page, BACKUP)
    expect(stale).to_contain_text(f"Not in any backup: “{TITLE}” (never backed up, 8 days).")
    expect(stale).to_contain_text("or by Safari after 7 days without a visit")

    # Dismissed for the session: a reload keeps it hidden, a new tab brings it back.
    stale.get_by_role("button", name=f"Dismiss “{BACKUP}” until the next visit").click()
    expect(stale).to_have_count(0)
    page.reload()
    assert wait_for_app_state(page) == "ready"
    expect(banner(page, PERSIST)).to_be_visible()
    expect(banner(page, BACKUP)).to_have_count(0)
    page.close()
    page = booted(fresh_app)
    expect(banner(page, BACKUP)).to_contain_text(f"“{TITLE}” (never backed up, 8 days)")

    # The storage view before any backup: never, never, never, and the file not backed up.
    banner(page, PERSIST).get_by_role("link", name="Back up to a folder").click()
    expect(page.get_by_role("heading", name="Storage", exact=True, level=1)).to_be_visible()
    assert last_backups(page) == {"Zip export (full)": "never", "Recipe-only export": "never",
                                  "Folder backup": "never"}
    expect(page.get_by_role("region", name="Backups")).to_contain_text(
        f"Not backed up yet: {made['pending']} in 1 file.")

    # Export all (the dashboard's button, which downloads) clears the backup warning.
    go(page, "#/", "Projects")
    with page.expect_download() as download:
        page.get_by_role("button", name="Export all").click()
    assert download.value.suggested_filename.endswith(".zip")
    expect(banner(page, BACKUP)).to_have_count(0)
    expect(banner(page, PERSIST)).to_be_visible()  # a backup does not make storage persistent

    go(page, "#/storage", "Storage")
    shown = last_backups(page)
    assert shown["Zip export (full)"] != "never" and shown["Recipe-only export"] == "never"
    assert shown["Folder backup"] == "never"
    expect(page.get_by_role("region", name="Backups")).to_contain_text(
        "Not backed up yet: 0 B in 0 files.")
    go(page, "#/", "Projects")
    with page.expect_download():
        page.get_by_role("button", name="Export recipes only").click()
    expect(page.locator(".notice-info")).to_contain_text("recipes")
    go(page, "#/storage", "Storage")
    after = last_backups(page)
    assert after["Zip export (full)"] == shown["Zip export (full)"]
    assert after["Recipe-only export"].startswith(tuple("0123456789"))
    record = json.loads(run_python(page, """
import json
from app.startup import current_vault
json.dumps(await current_vault().get_setting("lastExport"))
"""))
    assert record["recipeOnly"] is True and record["projects"] == [made["id"]]
    assert record["fullAt"] < record["recipeOnlyAt"] == record["at"]


def test_the_browser_agrees_to_keep_the_data_and_the_app_can_be_installed(fresh_app):
    fresh_app.context.add_init_script(GRANTING_STORAGE_JS)
    page = booted(fresh_app)
    create_project(page, "Kept")
    warning = banner(page, PERSIST)
    expect(warning.get_by_role("button", name="Install SceneVault")).to_have_count(0)
    page.evaluate(OFFER_INSTALL_JS)
    install = warning.get_by_role("button", name="Install SceneVault")
    install.click()  # the app's handler runs as a task after the click: wait for its prompt()
    page.wait_for_function("window.installPrompted === true")
    expect(install).to_have_count(0)  # a prompt can be shown once; the help text is back
    expect(warning).to_contain_text("To install: use your browser's Install item")

    warning.get_by_role("button", name="Keep my data").click()
    expect(warning).to_have_count(0)
    expect(page.locator(".notice-info .notice-text")).to_have_text(
        "The browser agreed to keep SceneVault's storage: it will not delete your files to make "
        "room. Keep a backup all the same.")
    go(page, "#/storage", "Storage")
    expect(page.get_by_role("region", name="Keep my files").get_by_role("status")).to_have_text(
        re.compile("^Storage is persistent"))


def test_an_export_marks_only_the_files_it_holds(vault_page):
    """A file stored while an export runs is not in the archive, so it stays "not backed up":
    mark_backed_up(asset_ids=...) marks the project and only the listed assets."""
    result = json.loads(run_python(vault_page, """
import json, pagekit
from app.startup import current_vault
vault = current_vault()
project = await vault.create_project("Mid-export")
first = await vault.put_asset(project.id, "scene", "scene:1", pagekit.png(8, 8), "image/png")
second = await vault.put_asset(project.id, "scene", "scene:2", pagekit.png(9, 9), "image/png")
marked = await vault.mark_backed_up(project.id, when=1_000, asset_ids={first.id})
after = {a.id: a.backed_up_at for a in await vault.list_assets(project.id)}
await vault.delete_project(project.id)
json.dumps({"project": marked.backed_up_at, "first": after[first.id], "second": after[second.id]})
"""))
    assert result == {"project": 1_000, "first": 1_000, "second": None}
