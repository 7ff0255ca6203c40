"""The workspace and dashboard, driven like a person would: by role and name, in a real
Chromium against the real server and its local provider. Screenshots of each view go to
test-artifacts/ (look at them: a broken layout is a bug even when assertions pass)."""

import json
import struct
import zlib
from pathlib import Path

import pytest

from conftest import EVICT_JS, AppPage, is_loopback, run_python, vault_state, wait_for_app_state

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
URL_COUNTER = """
window.__liveUrls = new Set();
const create = URL.createObjectURL.bind(URL), revoke = URL.revokeObjectURL.bind(URL);
URL.createObjectURL = (obj) => { const u = create(obj); window.__liveUrls.add(u); return u; };
URL.revokeObjectURL = (u) => { window.__liveUrls.delete(u); revoke(u); };
"""

@pytest.fixture(scope="module")
def studio(browser, server):
    """One fresh context and page for this module's flows (a clean database, URL counting)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(URL_COUNTER)
    recorder = AppPage(context, server.url)
    context.on("request", lambda r: None if is_loopback(r.url) else recorder.outside_requests.append(r.url))
    page = recorder.open()
    assert wait_for_app_state(page) == "ready"
    ARTIFACTS.mkdir(exist_ok=True)
    yield page
    context.close()
    assert recorder.outside_requests == []
    assert recorder.page_errors == []


def fill_dialog(page, submit: str, **fields):
    dialog = page.get_by_role("dialog")
    for label, value in fields.items():
        dialog.get_by_label(label.replace("_", " "), exact=True).fill(value)
    dialog.get_by_role("button", name=submit, exact=True).click()
    dialog.wait_for(state="detached")


def shot(page, name: str):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def slot(page, label: str):
    return page.get_by_role("region", name=label, exact=True)


def test_01_create_project_with_characters_and_scenes_and_generate_everything(studio):
    page = studio
    page.get_by_role("button", name="New project").click()
    fill_dialog(page, "Create project", Title="Moon Heist", Description="A crew robs a lunar bank")
    page.get_by_role("heading", name="Moon Heist", level=1).wait_for()
    for name in ("Ava", "Rook"):
        page.get_by_role("button", name="Add character").click()
        fill_dialog(page, "Add character", Name=name, Description=f"{name}, a thief in a red suit")
        page.get_by_role("heading", name=name, exact=True).wait_for()
    for number in (1, 2, 3):
        page.get_by_role("button", name="Add scene").click()
        fill_dialog(page, "Add scene", Story=f"Part {number}: the crew nears the vault.",
                    Frame_prompt=f"a moon base at night, part {number}")
        page.get_by_role("heading", name=f"Scene {number}", exact=True).wait_for()
    page.get_by_role("button", name="Generate all empty").click()
    page.get_by_text("Generated 12 files.").wait_for(timeout=180_000)
    assert page.locator("img.slot-media").count() == 6
    assert page.locator("audio.slot-media").count() == 3
    assert page.locator("section.slot[data-slot$=':clip'] video.slot-media").count() == 3
    shot(page, "workspace")


def test_02_everything_is_still_there_after_a_reload(studio):
    page = studio
    page.reload()
    assert wait_for_app_state(page) == "ready"
    page.locator("img.slot-media").nth(5).wait_for()
    widths = page.eval_on_selector_all(
        "img.slot-media", "imgs => Promise.all(imgs.map(i => i.decode().then(() => i.naturalWidth)))")
    assert len(widths) == 6 and all(w > 0 for w in widths)
    durations = page.eval_on_selector_all("audio.slot-media", """els => Promise.all(els.map(a =>
        a.readyState >= 1 ? a.duration : new Promise(ok => a.onloadedmetadata = () => ok(a.duration))))""")
    assert len(durations) == 3 and all(d > 0.5 for d in durations)


def test_03_regenerate_then_restore_version_1_from_the_history(studio):
    page = studio
    frame = slot(page, "Scene 1 frame")
    frame.get_by_role("button", name="Regenerate Scene 1 frame").click()
    frame.get_by_text("v2 of 2").wait_for(timeout=60_000)
    frame.get_by_role("button", name="History of Scene 1 frame").click()
    history = page.get_by_role("dialog", name="History of Scene 1 frame")
    history.get_by_role("listitem").nth(1).wait_for()
    assert history.get_by_role("listitem").count() == 2
    shot(page, "history")
    history.get_by_role("button", name="Restore version 1").click()
    history.get_by_text("Version 1 (current)").wait_for()
    history.get_by_role("button", name="Close").click()
    frame.get_by_text("v1 of 2").wait_for()


def test_04_missing_media_shows_a_placeholder_and_regenerates(studio):
    page = studio
    sha = json.loads(run_python(page, """
import json
from app.startup import current_vault
vault = current_vault()
project = (await vault.list_projects())[0]
frame = [a for a in await vault.versions(project.id, project.scenes[1] and f"scene:{project.scenes[1]['id']}") if a.current][0]
json.dumps(frame.sha256)
"""))
    page.evaluate(EVICT_JS, sha)
    page.reload()
    wait_for_app_state(page)
    frame = slot(page, "Scene 2 frame")
    frame.get_by_text("Missing", exact=True).wait_for()
    shot(page, "missing")
    frame.get_by_role("button", name="Regenerate missing Scene 2 frame").click()
    frame.locator("img.slot-media").wait_for(timeout=60_000)
    assert page.get_by_text("regenerated bit for bit").count() == 1


def test_05_scenes_reorder_and_remove(studio):
    page = studio
    order = lambda: page.eval_on_selector_all("li.scene", "els => els.map(e => e.dataset.sceneId)")
    before = order()
    page.get_by_role("button", name="Move Scene 3 up").click()
    page.wait_for_function("ids => document.querySelectorAll('li.scene')[1].dataset.sceneId === ids[2]",
                           arg=before)
    assert order() == [before[0], before[2], before[1]]
    page.get_by_role("button", name="Remove Scene 3").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Remove scene").click()
    page.get_by_text("Moved Scene 3 to the trash").wait_for()
    page.wait_for_function("document.querySelectorAll('li.scene').length === 2")
    assert order() == [before[0], before[2]]
    assert vault_state(page)["problems"] == []


def a1111_png() -> bytes:
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    raw = b"".join(b"\x00" + bytes((30, 90, 160)) * 64 for _ in range(48))
    text = (b"parameters\x00a castle on a cliff, golden hour\nNegative prompt: blurry\n"
            b"Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 64x48, Model: sdxl")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0))
            + chunk(b"tEXt", text) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("name, mime, payload, fragment", [
    ("poster.svg", "image/svg+xml", b"<svg xmlns='http://www.w3.org/2000/svg'><script>1</script></svg>", "SVG"),
    ("photo.png", "image/png", b"<!DOCTYPE html><html><script>alert(1)</script></html>", "HTML page"),
])
def test_06_import_refuses_svg_and_disguised_html(studio, name, mime, payload, fragment):
    page = studio
    before = vault_state(page)["counts"]
    page.get_by_label("Choose a file for Thumbnail").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": payload}])
    alert = page.get_by_role("alert").filter(has_text=name)
    alert.wait_for()
    assert fragment in alert.inner_text()
    assert vault_state(page)["counts"] == before
    alert.get_by_role("button", name="Dismiss").click()


def test_07_import_of_an_a1111_png_keeps_its_recipe(studio):
    page = studio
    page.get_by_label("Choose a file for Thumbnail").set_input_files(
        files=[{"name": "castle.png", "mimeType": "image/png", "buffer": a1111_png()}])
    page.get_by_text("Imported “castle.png” into Thumbnail with its recipe (from A1111 or Forge).").wait_for()
    thumb = slot(page, "Thumbnail")
    thumb.get_by_role("button", name="Recipe of Thumbnail").click()
    recipe = page.get_by_role("dialog", name="Recipe of Thumbnail")
    text = recipe.locator("pre").inner_text()
    assert "a castle on a cliff, golden hour" in text and '"seed": 1234' in text
    shot(page, "recipe")
    recipe.get_by_role("button", name="Close").click()


def test_08_object_urls_are_revoked_when_views_change(studio):
    page = studio
    project_hash = page.evaluate("location.hash")
    counts = []
    for _ in range(3):
        page.evaluate("location.hash = '#/'")
        page.get_by_role("heading", name="Projects", level=1).wait_for()
        page.evaluate(f"location.hash = '{project_hash}'")
        page.locator("img.slot-media").first.wait_for()
        page.wait_for_timeout(300)
        counts.append(page.evaluate("window.__liveUrls.size"))
    assert counts[0] == counts[1] == counts[2] and counts[0] > 0


HOLD_WORKSPACE_RENDER = """
import asyncio
from app.startup import current_app
held_app = current_app()
held_entered, held_release = asyncio.Event(), asyncio.Event()
held_original = held_app.vault.get_project

async def held_get_project(project_id):
    held_entered.set()
    await held_release.wait()
    return await held_original(project_id)

held_app.vault.get_project = held_get_project
held_app.refresh()
await held_entered.wait()
"held"
"""


def test_08_a_click_while_the_view_renders_again_still_acts(studio):
    """A refresh (the server came back, a job finished) builds the view again while the old one
    is on screen; its buttons keep working until the new view replaces it."""
    page = studio
    assert run_python(page, HOLD_WORKSPACE_RENDER) == "held"  # the new render waits on the vault
    try:
        slot(page, "Thumbnail").get_by_role("button", name="Recipe of Thumbnail").click()
        dialog = page.get_by_role("dialog", name="Recipe of Thumbnail")
        dialog.wait_for(timeout=10_000)
    finally:
        run_python(page, "held_release.set()\ndel held_app.vault.get_project")
    dialog.get_by_role("button", name="Close").click()
    dialog.wait_for(state="detached")
    slot(page, "Thumbnail").get_by_role("button", name="Recipe of Thumbnail").click()
    page.get_by_role("dialog", name="Recipe of Thumbnail").get_by_role("button", name="Close").click()


HOLD_DASHBOARD_RENDER = """
import asyncio
from app.startup import current_app
held_app = current_app()
held_entered, held_release = asyncio.Event(), asyncio.Event()
held_original = held_app.vault.list_projects

async def held_list_projects():
    held_entered.set()
    await held_release.wait()
    return await held_original()

held_app.vault.list_projects = held_list_projects
import js
js.location.hash = "#/"
await held_entered.wait()
"held"
"""


def test_08_the_view_left_behind_takes_no_clicks_until_the_next_one_shows(studio):
    """Navigating away keeps the old view on screen while the new one is read from the vault;
    it is inert meanwhile, so a click aimed at the next page cannot act on the old project."""
    page = studio
    project_hash = page.evaluate("location.hash")
    view = page.locator("#view")
    assert view.get_attribute("inert") is None
    assert run_python(page, HOLD_DASHBOARD_RENDER) == "held"
    try:
        assert view.get_attribute("inert") == "" and view.get_attribute("aria-busy") == "true"
        button = page.locator("#view button[aria-label='Recipe of Thumbnail']")
        assert button.is_visible()  # still on screen...
        assert not button.evaluate("b => (b.focus(), document.activeElement === b)")  # no focus
        box = button.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # ...no click
    finally:
        run_python(page, "held_release.set()\ndel held_app.vault.list_projects")
    page.get_by_role("heading", name="Projects", level=1).wait_for()
    assert page.get_by_role("dialog").count() == 0  # the click opened no recipe of the old view
    assert view.get_attribute("inert") is None and view.get_attribute("aria-busy") is None
    page.evaluate(f"location.hash = '{project_hash}'")
    slot(page, "Thumbnail").get_by_role("button", name="Recipe of Thumbnail").wait_for()


def test_09_keyboard_reaches_actions_and_the_project_is_deleted_from_the_dashboard(studio):
    page = studio
    page.evaluate("location.hash = '#/'")
    page.get_by_role("heading", name="Projects", level=1).wait_for()
    shot(page, "dashboard")
    before = json.loads(run_python(page, """
import json
from app.startup import current_vault
json.dumps((await current_vault().usage()).stored_bytes)"""))
    page.get_by_role("button", name="Delete Moon Heist").focus()
    page.keyboard.press("Enter")
    page.get_by_role("alertdialog").get_by_role("button", name="Delete project").click()
    page.get_by_text("Moved “Moon Heist” to the trash").wait_for()
    page.get_by_role("heading", name="No projects yet").wait_for()
    usage = """
import json
from app.startup import current_vault
usage = await current_vault().usage()
json.dumps([usage.stored_bytes, usage.trash_bytes])"""
    after = json.loads(run_python(page, usage))
    assert before > 0 and after[0] == 0 and after[1] > 0  # the trash holds it until emptied
    assert vault_state(page)["counts"]["blobs"] > 0
    page.get_by_role("link", name="Trash", exact=True).click()
    page.get_by_role("list", name="Trash items").get_by_text("Moon Heist", exact=True).wait_for()
    page.get_by_role("button", name="Empty trash").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Empty trash").click()
    page.get_by_text("Emptied the trash").wait_for()
    assert json.loads(run_python(page, usage)) == [0, 0]
    assert vault_state(page)["counts"]["blobs"] == 0
    page.get_by_role("link", name="Projects", exact=True).click()
    page.get_by_role("heading", name="No projects yet").wait_for()


def test_10_narrow_screens_keep_the_layout(studio):
    page = studio
    page.set_viewport_size({"width": 360, "height": 800})
    page.get_by_role("button", name="New project").click()
    fill_dialog(page, "Create project", Title="Phone check")
    page.get_by_role("heading", name="Phone check", level=1).wait_for()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    shot(page, "workspace-narrow")
    assert overflow <= 0
