"""Backups through the dashboard's buttons: export downloads a zip (captured by Playwright), the
project can be deleted and imported back from the file picker, a recipe-only backup restores
as missing files that "Regenerate all missing" brings back bit for bit, and a hostile file is
refused with an alert while nothing changes."""

import io
import json
import zipfile

import pytest

from conftest import AppPage, is_loopback, run_python, vault_state, wait_for_app_state

SETUP = """
import json
from app.generation.service import GenerationService
from app.generation.client import ProxyClient
from app.startup import current_vault
vault = current_vault()
service = GenerationService(vault, ProxyClient())
project = await vault.create_project("Backup Run")
await service.generate(project.id, "thumbnail", "thumbnail", {"prompt": "harbour", "seed": 1, "width": 256, "height": 144})
await service.generate(project.id, "scene", "scene:s1", {"prompt": "pier", "seed": 2, "width": 256, "height": 144})
await service.generate(project.id, "scene", "scene:s1", {"prompt": "pier at night", "seed": 3, "width": 256, "height": 144})
await service.generate(project.id, "audio", "scene:s1:narration", {"prompt": "The pier was quiet."})
json.dumps(sorted((a.id, a.sha256) for a in await vault.list_assets(project.id)))
"""
STATE = """
import json
from app.startup import current_vault
vault = current_vault()
projects = [p for p in await vault.list_projects() if p.title == "Backup Run"]
assets = await vault.list_assets(projects[0].id) if projects else []
json.dumps({"assets": sorted((a.id, a.sha256) for a in assets),
            "missing": len(await vault.missing(projects[0].id)) if projects else 0})
"""


def fresh(browser, server):
    context = browser.new_context(accept_downloads=True)
    # Exports download here, as where the browser has no save picker (test_backup_zip64.py
    # streams into one); headless Chromium's own picker would answer as if dismissed.
    context.add_init_script("window.showSaveFilePicker = undefined")
    recorder = AppPage(context, server.url)
    context.on("request", lambda r: None if is_loopback(r.url) else recorder.outside_requests.append(r.url))
    page = recorder.open()
    assert wait_for_app_state(page) == "ready"
    return recorder, page


def import_file(page, path, mode="Merge into existing projects"):
    page.get_by_label("Choose a backup to import").set_input_files(str(path))
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("How to import").select_option(mode)
    dialog.get_by_role("button", name="Import").click()


def test_export_delete_import_round_trip_and_recipe_only_restore(browser, server, tmp_path):
    recorder, page = fresh(browser, server)
    original = json.loads(run_python(page, SETUP))
    page.evaluate("location.hash = '#/'; location.reload()")
    wait_for_app_state(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export Backup Run").click()
    archive = tmp_path / download.value.suggested_filename
    download.value.save_as(archive)
    assert archive.name.startswith("backup-run-") and archive.name.endswith(".scenevault.zip")
    with zipfile.ZipFile(archive) as zf:
        manifest = json.loads(zf.read("scenevault.json"))
        assert {a["sha256"] for a in manifest["assets"]} == {sha for _, sha in original}
    page.get_by_text("Backed up").first.wait_for()

    page.get_by_role("button", name="Delete Backup Run").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete project").click()
    page.get_by_role("heading", name="No projects yet").wait_for()
    import_file(page, archive)
    page.get_by_text("Imported").first.wait_for(timeout=60_000)
    assert json.loads(run_python(page, STATE))["assets"] == original
    assert vault_state(page)["problems"] == []

    with page.expect_download() as recipes:
        page.get_by_role("button", name="Export recipes only").click()
    recipe_zip = tmp_path / "recipes.zip"
    recipes.value.save_as(recipe_zip)
    with zipfile.ZipFile(recipe_zip) as zf:
        assert zf.namelist() == ["scenevault.json"]
    recorder.context.close()
    assert recorder.outside_requests == []

    second, page = fresh(browser, server)
    import_file(page, recipe_zip)
    page.get_by_text("recipe-only").wait_for(timeout=60_000)
    assert json.loads(run_python(page, STATE))["missing"] == len(original)
    page.get_by_role("link", name="Backup Run").click()
    page.get_by_role("button", name="Regenerate all missing").click()
    page.get_by_text(f"Regenerated {len(original)} files: {len(original)} identical").wait_for(timeout=120_000)
    state = json.loads(run_python(page, STATE))
    assert state["missing"] == 0 and state["assets"] == original
    second.context.close()
    assert second.outside_requests == []


@pytest.mark.parametrize("name, payload, fragment", [
    ("notes.zip", b"this is not a zip file at all", "zip"),
    ("evil.zip", None, ".."),
])
def test_a_hostile_backup_is_refused_and_nothing_changes(browser, server, tmp_path, name, payload, fragment):
    if payload is None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr("scenevault.json", json.dumps({"format": "scenevault-backup", "version": 1,
                                                        "exportedAt": 0, "app": "x", "projects": [],
                                                        "assets": []}))
            zf.writestr("../../escape.png", b"\x89PNG\r\n\x1a\n")
        payload = buffer.getvalue()
    path = tmp_path / name
    path.write_bytes(payload)
    recorder, page = fresh(browser, server)
    before = vault_state(page)["counts"]
    import_file(page, path)
    alert = page.get_by_role("alert").first
    alert.wait_for(timeout=30_000)
    assert fragment in alert.inner_text()
    assert vault_state(page)["counts"] == before
    recorder.context.close()
