"""Export past the plain zip's limits, in a real Chromium: a vault of 33,000 small files (with
their sidecars and the manifest, 66,001 entries: more than 65,535, so zip64) exports through the
visible "Export all" button, streamed into the file the save picker returns (an OPFS file here,
standing in for the user's disk), opens in Python's zipfile and in Debian's `unzip -t`, and
imports back as a copy with every record. A cancel while the stream is writing, or a write that
fails, aborts the file (nothing claims to be complete), leaves the vault as it was, and the
notice says so.

SCENEVAULT_ZIP64_ASSETS=2000 runs the same checks on a smaller vault (then without zip64); the
cancel needs at least 1,500 files, so that a write happens before the last one."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from backupkit import py, upload
from conftest import AppPage, install_pagekit, is_loopback, vault_state, wait_for_app_state
from hostile_zips import PROJECT_ID as HOSTILE_PROJECT_ID, zip64_end, valid_backup

from app.core.model import Asset, Project
from app.core.pngmeta import tiny_png
from app.store.library_index import indexed

COUNT = int(os.environ.get("SCENEVAULT_ZIP64_ASSETS", "33000"))
PROJECT_ID = "prj_zip64vault"
STAMP = 1_738_326_896_000
SEED_JS = (Path(__file__).parents[1] / "bulkseed.js").read_text()
EXPORT_TIMEOUT_MS = 900_000

# The save picker: an OPFS file of the suggested name. In mode "hold" the file's first write
# waits until the test calls window.releaseWrite(); in mode "fail" every write fails as a full
# disk would; in both, every call to the writable is logged. Mode "direct" returns the handle.
PICKER_JS = """(mode) => {
  window.sinkLog = [];
  window.writeHeld = false;
  window.showSaveFilePicker = async ({ suggestedName }) => {
    const root = await navigator.storage.getDirectory();
    const handle = await root.getFileHandle(suggestedName, { create: true });
    window.pickedName = suggestedName;
    if (mode === "direct") return handle;
    const gate = new Promise((resolve) => { window.releaseWrite = resolve; });
    const full = () => Promise.reject(new DOMException("the disk is full", "QuotaExceededError"));
    return { name: handle.name, createWritable: async () => {
      const real = await handle.createWritable();
      return {
        write: async (blob) => { window.sinkLog.push("write"); window.writeHeld = true;
                                 if (mode === "fail") return full();
                                 await gate; return real.write(blob); },
        close: async () => { window.sinkLog.push("close"); return real.close(); },
        abort: async () => { window.sinkLog.push("abort"); return real.abort(); },
      };
    } };
  };
}"""

OPFS_SIZE_JS = """async (name) => {
  const root = await navigator.storage.getDirectory();
  return (await (await root.getFileHandle(name)).getFile()).size;
}"""


def seed_payload(count: int) -> dict:
    """One project of `count` scene slots, each a distinct 8x8 PNG (records made by the app's
    own model with the library's index fields, as the vault stores them)."""
    project = Project(id=PROJECT_ID, title="Zip64 Vault", created_at=STAMP, updated_at=STAMP)
    assets, chunks = [], []
    for n in range(count):
        png = tiny_png(8, 8, ((n >> 16) & 255, (n >> 8) & 255, n & 255))
        asset = Asset(id=f"ast_z{n:06}", project_id=PROJECT_ID, kind="scene",
                      slot=f"scene:{n + 1}", version=1, current=True,
                      sha256=hashlib.sha256(png).hexdigest(), mime_type="image/png",
                      size=len(png), source="imported", created_at=STAMP, width=8, height=8)
        assets.append(indexed({k: v for k, v in asset.to_record().items() if v is not None}))
        chunks.append(png)
    return {"dbName": "scenevault", "projects": [project.to_record()], "assets": assets,
            "data": base64.b64encode(b"".join(chunks)).decode(),
            "lengths": [len(c) for c in chunks]}


@pytest.fixture(scope="module")
def big_vault(browser, server):
    """A fresh context whose vault holds the seeded project; the page is on the dashboard."""
    context = browser.new_context(accept_downloads=True)
    recorder = AppPage(context, server.url)
    context.on("request", lambda r: None if is_loopback(r.url)
               else recorder.outside_requests.append(r.url))
    page = recorder.open()
    assert wait_for_app_state(page) == "ready"
    assert page.evaluate(SEED_JS, seed_payload(COUNT)) == COUNT
    page.evaluate("location.hash = '#/'; location.reload()")
    assert wait_for_app_state(page) == "ready"
    install_pagekit(page)
    yield recorder, page
    context.close()
    assert recorder.outside_requests == []


def export_all(page) -> None:
    page.get_by_role("button", name="Export all").click()


def records_digest(page) -> str:
    """SHA-256 of every project and asset record (what an export may change: `backedUpAt`);
    cheaper than backupkit.db_digest, which hashes all 33,000 blobs too."""
    return py(page, """
        import hashlib
        records = [p.to_record() for p in await vault.list_projects()]
        records += [a.to_record() for p in await vault.list_projects()
                    for a in await vault.list_assets(p.id)]
        json.dumps(hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest())
    """)


def test_cancelling_a_streamed_export_aborts_the_file_and_changes_nothing(big_vault):
    _recorder, page = big_vault
    page.evaluate(PICKER_JS, "hold")
    before = records_digest(page)
    export_all(page)
    page.wait_for_function("window.writeHeld", timeout=EXPORT_TIMEOUT_MS)
    page.get_by_role("region", name="Exporting backup").get_by_role("button", name="Cancel").click()
    page.evaluate("window.releaseWrite()")
    notice = page.get_by_role("status").filter(has_text="Export cancelled")
    notice.wait_for(timeout=120_000)
    name = page.evaluate("window.pickedName")
    assert f"{name} was not written" in notice.inner_text()
    assert "nothing was changed" in notice.inner_text()
    assert page.evaluate("window.sinkLog") == ["write", "abort"]  # never closed: never complete
    assert page.evaluate(OPFS_SIZE_JS, name) == 0
    assert records_digest(page) == before
    assert page.get_by_role("region", name="Exporting backup").count() == 0


def test_a_write_that_fails_aborts_the_file_and_says_so(big_vault):
    _recorder, page = big_vault
    page.evaluate(PICKER_JS, "fail")
    before = records_digest(page)
    export_all(page)
    alert = page.get_by_role("alert").filter(has_text="could not be written")
    alert.wait_for(timeout=EXPORT_TIMEOUT_MS)
    assert "QuotaExceededError" in alert.inner_text()
    assert "what was written was discarded" in alert.inner_text()
    assert page.evaluate("window.sinkLog") == ["write", "abort"]
    assert page.evaluate(OPFS_SIZE_JS, page.evaluate("window.pickedName")) == 0
    assert records_digest(page) == before
    alert.get_by_role("button", name="Dismiss").click()


def test_a_streamed_export_of_more_than_65535_entries_opens_everywhere_and_imports_back(
        big_vault, tmp_path):
    _recorder, page = big_vault
    page.evaluate(PICKER_JS, "direct")
    export_all(page)
    saved = page.get_by_role("status").filter(has_text="Saved scenevault-all-")
    saved.wait_for(timeout=EXPORT_TIMEOUT_MS)
    name = page.evaluate("window.pickedName")
    assert name.endswith(".scenevault.zip") and name in saved.inner_text()
    with page.expect_download(timeout=120_000) as info:
        py(page, f"""
            root = await js.navigator.storage.getDirectory()
            opfs_file = await (await root.getFileHandle({name!r})).getFile()
            download.save(opfs_file, {name!r})
            "0"
        """)
    path = tmp_path / name
    shutil.copyfile(info.value.path(), path)
    data = path.read_bytes()

    entries = 1 + 2 * COUNT  # the manifest, each file and its sidecar
    with zipfile.ZipFile(io.BytesIO(data)) as opened:
        assert opened.testzip() is None
        names = opened.namelist()
        assert len(names) == entries
        manifest = json.loads(opened.read("scenevault.json"))
    assert len(manifest["assets"]) == COUNT
    assert (b"PK\x06\x06" in data[-200:]) == (entries >= 0xFFFF)  # zip64 only when needed
    tested = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True)
    assert tested.returncode == 0 and "No errors detected" in tested.stdout, tested.stdout

    backed_up = py(page, f"""
        json.dumps((await vault.get_project({PROJECT_ID!r})).backed_up_at is not None)
    """)
    assert backed_up  # a complete export marks the project backed up

    upload(page, data, name)
    result = py(page, f"""
        report = await backups.import_archive(vault, uploaded(), as_copy=True)
        copies = [p for p in await vault.list_projects() if p.id != {PROJECT_ID!r}]
        assets = await vault.list_assets(copies[0].id)
        json.dumps({{"projects": len(copies), "title": copies[0].title, "assets": len(assets),
                    "shas": len({{a.sha256 for a in assets}}), "added": report.assets_added}})
    """)
    assert result["projects"] == 1 and result["title"] == "Zip64 Vault (copy)"
    assert result["assets"] == result["shas"] == COUNT
    assert vault_state(page)["problems"] == []


def test_a_small_backup_ending_in_a_zip64_end_record_imports(vault_page):
    """Another tool may write the zip64 end record even when nothing overflows: it reads."""
    upload(vault_page, zip64_end(valid_backup()))
    result = py(vault_page, f"""
        report = await backups.import_archive(vault, uploaded())
        await vault.delete_project({HOSTILE_PROJECT_ID!r})
        json.dumps(pagekit.view(report))
    """)
    assert result["assets_added"] == 2 and result["projects_added"] == 1
