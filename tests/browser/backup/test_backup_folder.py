"""The live backup folder in a real Chromium, through the storage view's buttons and the header's
status: an Origin Private File System folder stands in for the folder a user picks
(`showDirectoryPicker` is replaced before the page loads). One browser context for the module;
the tests run in order, each building on the folder the one before left.

Faults are injected in the page's File System Access API (a write that throws NotAllowedError
or QuotaExceededError once armed), and every createWritable is counted by file name."""

from __future__ import annotations

import json
from textwrap import dedent

import pytest

from backupkit import db_digest, py
from conftest import AppPage, install_pagekit, is_loopback, wait_for_app_state

from app.backup.manifest import parse_manifest

FOLDER = "backup-folder"
STATE = ".scenevault-folder.json"

# Runs before the page's scripts: the picker answers with an OPFS folder; writes are counted,
# and a write fails with `__folderTest.fault.name` once `fault.after` more writes went through;
# with sessionStorage.svPrompt set, the folder's permission is "prompt" until requested.
INIT_JS = """
(() => {
  const test = window.__folderTest = { writes: [], fault: null };
  window.showDirectoryPicker = async () =>
    (await navigator.storage.getDirectory()).getDirectoryHandle(test.pick || %r, { create: true });
  const create = FileSystemFileHandle.prototype.createWritable;
  FileSystemFileHandle.prototype.createWritable = async function (...args) {
    const stream = await create.apply(this, args);
    test.writes.push(this.name);
    const write = stream.write.bind(stream);
    stream.write = async (data) => {
      const fault = test.fault;
      if (fault && fault.after-- <= 0) throw new DOMException("test fault", fault.name);
      return write(data);
    };
    return stream;
  };
  const query = FileSystemHandle.prototype.queryPermission;
  FileSystemHandle.prototype.queryPermission = async function (options) {
    if (sessionStorage.svPrompt && !test.granted) return "prompt";
    return query.call(this, options);
  };
  FileSystemHandle.prototype.requestPermission = async function () {
    test.granted = true;
    return "granted";
  };
})();
""" % FOLDER

# The folder as it is on disk: path -> {size, sha256, text (JSON files only)}.
READ_FOLDER_JS = """async (name) => {
  const root = await (await navigator.storage.getDirectory()).getDirectoryHandle(name);
  const found = {};
  const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  const walk = async (folder, prefix) => {
    for await (const [entryName, entry] of folder.entries()) {
      if (entry.kind === "directory") { await walk(entry, prefix + entryName + "/"); continue; }
      const bytes = await (await entry.getFile()).arrayBuffer();
      found[prefix + entryName] = { size: bytes.byteLength, sha256: hex(await crypto.subtle.digest("SHA-256", bytes)),
                                    text: entryName.endsWith(".json") ? new TextDecoder().decode(bytes) : null };
    }
  };
  await walk(root, "");
  return found;
}"""

# Overwrites a file in the folder the way another program would.
EDIT_JS = """async ([name, path]) => {
  let folder = await (await navigator.storage.getDirectory()).getDirectoryHandle(name);
  const parts = path.split("/");
  for (const part of parts.slice(0, -1)) folder = await folder.getDirectoryHandle(part);
  const handle = await folder.getFileHandle(parts[parts.length - 1]);
  const stream = await handle.createWritable();
  await stream.write(new TextEncoder().encode("edited by hand in another program"));
  await stream.close();
}"""

REMOVE_JS = """async ([name, path]) => {
  let folder = await (await navigator.storage.getDirectory()).getDirectoryHandle(name);
  const parts = path.split("/");
  for (const part of parts.slice(0, -1)) folder = await folder.getDirectoryHandle(part);
  await folder.removeEntry(parts[parts.length - 1]);
}"""

GENERATE = """
from app.generation.service import GenerationService
from app.generation.client import ProxyClient
service = GenerationService(vault, ProxyClient())

async def image(project_id, slot, seed):
    return await service.generate(project_id, "scene", slot, {"prompt": f"lighthouse {seed}",
                                  "seed": seed, "width": 128, "height": 72})

async def records(project_id):
    assets = sorted(await vault.list_assets(project_id), key=lambda a: a.id)
    shas = [await media.sha256_hex(await vault.get_blob(a.id)) for a in assets if not a.missing]
    project = await vault.get_project(project_id)
    return {"project": project.to_record(), "assets": [a.to_record() for a in assets], "blobs": shas}
"""


@pytest.fixture(scope="module")
def page(browser, server):
    context = browser.new_context()
    recorder = AppPage(context, server.url)
    context.on("request", lambda r: None if is_loopback(r.url) else recorder.outside_requests.append(r.url))
    context.add_init_script(INIT_JS)
    opened = recorder.open("/#/storage")
    assert wait_for_app_state(opened) == "ready"
    install_pagekit(opened)
    made = py(opened, GENERATE + dedent("""
        project = await vault.create_project("Lighthouse Keeper")
        await image(project.id, "scene:1", 1)
        await image(project.id, "scene:2", 2)
        await service.generate(project.id, "audio", "scene:1:narration", {"prompt": "The lamp turns."})
        json.dumps({"project": project.id})
    """))
    opened.project_id = made["project"]
    yield opened
    context.close()
    assert recorder.outside_requests == [] and recorder.page_errors == []


def folder(page) -> dict:
    return page.evaluate(READ_FOLDER_JS, FOLDER)


def status(page):
    return page.locator("#folder-status")


def writes(page) -> list[str]:
    return page.evaluate("window.__folderTest.writes")


def reset_writes(page, fault=None) -> None:
    page.evaluate("fault => { window.__folderTest.writes = []; window.__folderTest.fault = fault; }", fault)


def wait_for_write(page, name: str, timeout: int = 30_000) -> None:
    page.wait_for_function("name => window.__folderTest.writes.includes(name)", arg=name,
                           timeout=timeout)


def wait_idle(page) -> None:
    page.wait_for_function("!document.querySelector('#folder-status').textContent.includes('…')")


def content_stores(page) -> dict:
    return py(page, GENERATE + f"json.dumps(await records({page.project_id!r}))")


def check_consistent(files: dict) -> dict:
    """The folder holds no partial file, and the manifest's files match it: return the manifest."""
    assert not [path for path in files if path.endswith(".partial")]
    manifest = parse_manifest(files["scenevault.json"]["text"].encode())
    for item in manifest.assets:
        assert files[item.path]["sha256"] == item.asset.sha256, item.path
    return manifest


def test_picking_a_folder_writes_files_sidecars_and_the_manifest(page):
    page.get_by_role("button", name="Back up to a folder…").click()
    wait_for_write(page, STATE + ".partial")
    wait_idle(page)
    assert status(page).inner_text().startswith(f"Backed up to folder {FOLDER}: just now")
    files = folder(page)
    manifest = check_consistent(files)
    media = {item.path for item in manifest.assets}
    assert len(media) == 3 and all(path.startswith("projects/lighthouse-keeper/") for path in media)
    assert set(files) == {"scenevault.json", STATE} | media | {path + ".json" for path in media}
    for path in media:
        card = json.loads(files[path + ".json"]["text"])
        assert card["format"] == "scenevault-sidecar" and card["sha256"] == files[path]["sha256"]
        assert card["assets"][0]["project"] == "Lighthouse Keeper"
    state = json.loads(files[STATE]["text"])["files"]
    assert {path: record["sha256"] for path, record in state.items()} == {
        path: info["sha256"] for path, info in files.items() if path != STATE}
    records = content_stores(page)
    assert records["project"]["backedUpAt"] == manifest.exported_at
    assert {a["backedUpAt"] for a in records["assets"]} == {manifest.exported_at}


def test_a_new_image_writes_only_its_file_its_sidecar_and_the_manifest(page):
    reset_writes(page)
    py(page, GENERATE + f"await image({page.project_id!r}, 'scene:3', 3); '0'")
    wait_for_write(page, STATE + ".partial")  # 5 s after the last change
    wait_idle(page)
    done = writes(page)
    assert sorted(done) == sorted(["scene-03-v1.png.partial", "scene-03-v1.png.json.partial",
                                   "scenevault.json.partial", STATE + ".partial"])
    assert done[-2:] == ["scenevault.json.partial", STATE + ".partial"]  # the manifest last
    manifest = check_consistent(folder(page))
    assert len(manifest.assets) == 4


def test_permission_lost_mid_write_leaves_no_half_file_and_the_vault_unchanged(page):
    reset_writes(page, {"name": "NotAllowedError", "after": 1})
    py(page, GENERATE + f"await image({page.project_id!r}, 'scene:4', 4); '0'")
    expect_status(page, "has no permission to write to the folder")
    before = content_stores(page)
    assert [a["slot"] for a in before["assets"] if a.get("backedUpAt") is None] == ["scene:4"]
    files = folder(page)
    check_consistent(files)  # still the previous manifest, and every file it lists is whole
    new_png = "projects/lighthouse-keeper/scenes/scene-04-v1.png"
    assert new_png in files and new_png + ".json" not in files  # written whole, then the fault
    # A manual run with the fault still armed fails the same way and changes nothing.
    reset_writes(page, {"name": "NotAllowedError", "after": 0})
    page.get_by_role("button", name="Back up now").click()
    expect_status(page, "has no permission")
    page.get_by_role("alert").filter(has_text="has no permission").get_by_role("button", name="Dismiss").click()
    assert content_stores(page) == before
    assert not [path for path in folder(page) if path.endswith(".partial")]
    # Once writes work again, the file written before the fault is hashed and kept, not rewritten.
    reset_writes(page)
    back_up_now(page)
    assert "scene-04-v1.png.partial" not in writes(page)
    assert "scene-04-v1.png.json.partial" in writes(page)
    check_consistent(folder(page))


def back_up_now(page) -> None:
    """Click "Back up now" and wait until that run wrote the state file and finished."""
    count = page.evaluate(f"window.__folderTest.writes.filter((n) => n === {STATE + '.partial'!r}).length")
    page.get_by_role("button", name="Back up now").click()
    page.wait_for_function(f"window.__folderTest.writes.filter((n) => n === {STATE + '.partial'!r}).length > {count}")
    wait_idle(page)
    expect_status(page, f"Backed up to folder {FOLDER}: just now")


def expect_status(page, text: str) -> None:
    page.wait_for_function("text => document.querySelector('#folder-status').textContent.includes(text)",
                           arg=text, timeout=30_000)


def test_a_full_disk_is_reported(page):
    reset_writes(page, {"name": "QuotaExceededError", "after": 0})
    page.get_by_role("button", name="Back up now").click()
    expect_status(page, f"The disk holding the folder '{FOLDER}' is full")
    page.get_by_role("alert").filter(has_text="is full").get_by_role("button", name="Dismiss").click()
    assert not [path for path in folder(page) if path.endswith(".partial")]
    reset_writes(page)


def test_a_file_changed_by_hand_is_reported_and_not_overwritten(page):
    path = "projects/lighthouse-keeper/scenes/scene-01-v1.png"
    page.evaluate(EDIT_JS, [FOLDER, path])
    edited = folder(page)[path]
    reset_writes(page)
    page.get_by_role("button", name="Back up now").click()
    expect_status(page, "changed outside the app")
    assert path in status(page).inner_text()
    page.get_by_role("alert").filter(has_text="changed outside").get_by_role("button", name="Dismiss").click()
    assert folder(page)[path] == edited and writes(page) == []
    # The user moves the file away: the next run puts SceneVault's copy back.
    page.evaluate(REMOVE_JS, [FOLDER, path])
    back_up_now(page)
    check_consistent(folder(page))


def test_restore_from_folder_brings_back_a_deleted_project(page):
    before = content_stores(page)
    py(page, f"await vault.delete_project({page.project_id!r}); '0'")
    page.get_by_role("button", name="Restore from folder").click()
    page.get_by_role("status").filter(has_text=f"Restored from folder {FOLDER}").wait_for()
    assert content_stores(page) == before
    # The vault changed, so the folder follows; nothing but the manifest needs writing.
    reset_writes(page)
    wait_for_write(page, STATE + ".partial")
    wait_idle(page)
    assert sorted(writes(page)) == sorted(["scenevault.json.partial", STATE + ".partial"])
    assert not [path for path in folder(page) if path.startswith(".trash/")]


def test_deleting_an_asset_moves_its_files_to_the_trash_after_the_manifest(page):
    reset_writes(page)
    py(page, GENERATE + dedent(f"""
        [asset] = [a for a in await vault.list_assets({page.project_id!r}) if a.slot == "scene:4"]
        await vault.delete_asset(asset.id)
        '0'
    """))
    wait_for_write(page, STATE + ".partial")
    wait_idle(page)
    files = folder(page)
    manifest = check_consistent(files)
    assert len(manifest.assets) == 4
    gone = "projects/lighthouse-keeper/scenes/scene-04-v1.png"
    assert gone not in files and ".trash/" + gone in files and ".trash/" + gone + ".json" in files


def test_a_cancelled_write_stream_is_reported(page):
    reset_writes(page, {"name": "AbortError", "after": 0})
    page.get_by_role("button", name="Back up now").click()
    expect_status(page, f"A write to the folder '{FOLDER}' was cancelled")
    page.get_by_role("alert").filter(has_text="was cancelled").get_by_role("button", name="Dismiss").click()
    assert not [path for path in folder(page) if path.endswith(".partial")]
    reset_writes(page)
    back_up_now(page)


def test_restore_refuses_a_hand_edited_file_and_changes_nothing(page):
    path = "projects/lighthouse-keeper/scenes/scene-02-v1.png"
    page.evaluate(EDIT_JS, [FOLDER, path])
    digest = db_digest(page)["digest"]
    page.get_by_role("button", name="Restore from folder").click()
    alert = page.get_by_role("alert").filter(has_text=f"Nothing was restored from folder {FOLDER}")
    alert.wait_for()
    assert path in alert.inner_text()
    alert.get_by_role("button", name="Dismiss").click()
    assert db_digest(page)["digest"] == digest
    # Once the edited file is moved away, the next run writes SceneVault's copy again.
    page.evaluate(REMOVE_JS, [FOLDER, path])
    reset_writes(page)
    back_up_now(page)
    assert "scene-02-v1.png.partial" in writes(page)
    check_consistent(folder(page))


def test_stop_then_pick_the_same_folder_again_asks_before_mirroring(page):
    page.get_by_role("button", name="Stop backing up to this folder").click()
    page.get_by_role("status").filter(has_text="no longer backs up to that folder").wait_for()
    assert status(page).inner_text() == ""
    reset_writes(page)
    page.get_by_role("button", name="Back up to a folder…").click()
    expect_status(page, "already holds a SceneVault backup")
    assert writes(page) == []


def test_a_reload_keeps_the_folder_and_asks_for_permission_with_one_click(page):
    page.evaluate("sessionStorage.svPrompt = '1'")
    page.reload()
    assert wait_for_app_state(page) == "ready"
    expect_status(page, "needs your permission")
    allow = status(page).get_by_role("button", name=f"Allow backups to {FOLDER}")
    allow.click()
    expect_status(page, f"Backed up to folder {FOLDER}: just now")
    assert status(page).get_by_role("button").count() == 0
