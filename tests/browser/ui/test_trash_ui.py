"""The trash through the visible UI, by role and name: a deleted project comes back with Undo in
the notice; a version deleted in the history dialog is listed in the Trash view with the bytes
only it holds and comes back with Restore; "Delete for good" and "Empty trash" (after their
confirmations) free the bytes, as the independent invariants check (`vault_state`)."""

import json
import textwrap
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import AppPage, install_pagekit, is_loopback, run_python, vault_state, wait_for_app_state

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
PRELUDE = """
import json, pagekit
from app.startup import current_vault
vault = current_vault()
"""


@pytest.fixture(scope="module")
def page(browser, server):
    """One fresh context for this module (an empty vault and an empty trash)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    recorder = AppPage(context, server.url)
    context.on("request", lambda r: None if is_loopback(r.url) else recorder.outside_requests.append(r.url))
    opened = recorder.open()
    assert wait_for_app_state(opened) == "ready"
    install_pagekit(opened)
    yield opened
    context.close()
    assert recorder.outside_requests == [] and recorder.page_errors == []


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def go(page, route: str, heading: str) -> None:
    page.evaluate("document.getElementById('view').replaceChildren()")
    page.evaluate(f"location.hash = {route!r}")
    expect(page.get_by_role("heading", name=heading, exact=True, level=1)).to_be_visible()


def confirm(page, button: str) -> None:
    dialog = page.get_by_role("alertdialog")
    dialog.get_by_role("button", name=button, exact=True).click()
    dialog.wait_for(state="detached")


def make_project(page, title: str, versions: int = 2) -> dict:
    return py(page, f"""
        project = await vault.create_project({title!r})
        made = [await vault.put_asset(project.id, "thumbnail", "thumbnail",
                                      pagekit.png(48, 27, (i * 40, 90, 20), noise=True), "image/png")
                for i in range({versions})]
        json.dumps({{"id": project.id, "sizes": [a.size for a in made]}})
    """)


def test_a_deleted_project_comes_back_with_undo(page):
    before = vault_state(page)["counts"]
    make_project(page, "Comet run")
    with_project = vault_state(page)["counts"]
    go(page, "#/", "Projects")
    page.get_by_role("button", name="Delete Comet run").click()
    dialog = page.get_by_role("alertdialog", name="Delete Comet run?")
    expect(dialog).to_contain_text("to the trash")
    confirm(page, "Delete project")
    notice = page.get_by_role("status").filter(has_text="Moved “Comet run” to the trash")
    expect(notice).to_be_visible()
    expect(page.get_by_role("heading", name="No projects yet")).to_be_visible()
    assert vault_state(page)["counts"]["blobs"] == with_project["blobs"]  # nothing freed yet
    notice.get_by_role("button", name="Undo: restore Comet run").click()
    expect(page.get_by_role("status").filter(has_text="Restored “Comet run” (2 files).")).to_be_visible()
    expect(page.get_by_role("link", name="Comet run")).to_be_visible()
    state = vault_state(page)
    assert state["problems"] == [] and state["counts"] == with_project
    assert with_project["trash"] == before["trash"]


def test_a_version_deleted_in_history_is_listed_in_the_trash_and_restored(page):
    project = py(page, "json.dumps([p.id for p in await vault.list_projects() if p.title == 'Comet run'][0])")
    sizes = py(page, f"json.dumps([a.size for a in await vault.versions({project!r}, 'thumbnail')])")
    go(page, f"#/project/{project}", "Comet run")
    page.get_by_role("button", name="History of Thumbnail").click()
    history = page.get_by_role("dialog", name="History of Thumbnail")
    history.get_by_role("button", name="Delete version 1").click()
    confirm(page, "Delete version")
    expect(page.get_by_role("status").filter(has_text="Moved Thumbnail version 1 to the trash")).to_be_visible()
    expect(history.get_by_role("button", name="Delete version 1")).to_have_count(0)
    history.get_by_role("button", name="Close").click()

    go(page, "#/trash", "Trash")
    expect(page.get_by_role("link", name="Trash", exact=True)).to_have_attribute("aria-current", "page")
    item = page.get_by_role("list", name="Trash items").get_by_role("listitem").filter(
        has_text="Thumbnail version 1")
    expect(item).to_contain_text("Version · deleted")
    size = py(page, f"from app.ui.parts.dom import format_bytes; json.dumps(format_bytes({sizes[0]}))")
    expect(item).to_contain_text(f"{size} only here")
    item.get_by_role("button", name="Restore Thumbnail version 1").click()
    expect(page.get_by_role("status").filter(has_text="Restored “Thumbnail version 1” (1 file).")).to_be_visible()
    expect(page.get_by_text("The trash is empty.")).to_be_visible()
    versions = py(page, f"json.dumps([[a.version, a.current] for a in await vault.versions({project!r}, 'thumbnail')])")
    assert versions == [[1, False], [2, True]]
    assert vault_state(page)["problems"] == []


def test_delete_for_good_and_empty_trash_free_the_bytes(page):
    before = vault_state(page)["counts"]
    made = make_project(page, "Nebula", versions=1)
    go(page, "#/", "Projects")
    for title in ("Comet run", "Nebula"):
        page.get_by_role("button", name=f"Delete {title}").click()
        confirm(page, "Delete project")
        expect(page.get_by_role("status").filter(has_text=f"Moved “{title}” to the trash")).to_be_visible()
    full = vault_state(page)["counts"]
    assert full["trash"] == 2 and full["assets"] == 0 and full["blobs"] == before["blobs"] + 1

    go(page, "#/storage", "Storage")
    expect(page.get_by_text("of it is only in the Trash: emptying the Trash frees it")).to_be_visible()
    go(page, "#/trash", "Trash")
    items = page.get_by_role("list", name="Trash items").get_by_role("listitem")
    expect(items).to_have_count(2)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "trash.png"), full_page=True)
    page.get_by_role("button", name="Delete Nebula for good").click()
    dialog = page.get_by_role("alertdialog", name="Delete Nebula for good?")
    expect(dialog).to_contain_text("This cannot be undone")
    confirm(page, "Delete for good")
    freed = py(page, f"from app.ui.parts.dom import format_bytes; json.dumps(format_bytes({made['sizes'][0]}))")
    expect(page.get_by_role("status").filter(has_text=f"Deleted “Nebula” for good: {freed} freed.")).to_be_visible()
    expect(items).to_have_count(1)
    assert vault_state(page)["counts"]["blobs"] == before["blobs"]

    page.get_by_role("button", name="Empty trash").click()
    dialog = page.get_by_role("alertdialog", name="Empty the trash?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(items).to_have_count(1)  # cancelled: nothing deleted
    page.get_by_role("button", name="Empty trash").click()
    confirm(page, "Empty trash")
    expect(page.get_by_role("status").filter(has_text="Emptied the trash: 2 files deleted for good")).to_be_visible()
    expect(page.get_by_text("The trash is empty.")).to_be_visible()
    expect(page.get_by_role("button", name="Empty trash")).to_be_disabled()
    go(page, "#/storage", "Storage")
    expect(page.get_by_text("only in the Trash")).to_have_count(0)
    state = vault_state(page)
    assert state["problems"] == []
    assert (state["counts"]["blobs"], state["counts"]["previews"], state["counts"]["trash"]) == (0, 0, 0)


def test_a_removed_scene_comes_back_in_its_place_with_undo(page):
    made = py(page, """
        from app.core import storyboard
        project = await vault.create_project("Orbit")
        for story in ("launch", "drift", "landing"):
            project = await vault.save_project(storyboard.add_scene(project, story, story))
        await vault.put_asset(project.id, "scene", f"scene:{project.scenes[1]['id']}",
                              pagekit.png(32, 18), "image/png")
        json.dumps({"id": project.id, "scenes": [s["id"] for s in project.scenes]})
    """)
    go(page, f"#/project/{made['id']}", "Orbit")
    order = "els => els.map(e => e.dataset.sceneId)"
    page.get_by_role("button", name="Remove Scene 2").click()
    confirm(page, "Remove scene")
    notice = page.get_by_role("status").filter(has_text="Moved Scene 2 to the trash (1 file).")
    expect(notice).to_be_visible()
    page.wait_for_function("document.querySelectorAll('li.scene').length === 2")
    notice.get_by_role("button", name="Undo: restore Scene 2 of Orbit").click()
    expect(page.get_by_role("status").filter(has_text="Restored “Scene 2 of Orbit” (1 file).")).to_be_visible()
    page.wait_for_function("document.querySelectorAll('li.scene').length === 3")
    assert page.eval_on_selector_all("li.scene", order) == made["scenes"]
    expect(page.locator("li.scene").nth(1).locator("img.slot-media")).to_have_count(1)
    assert vault_state(page)["problems"] == []
