"""The vault under pressure, each in its own browser context: a full quota, a page closed in
the middle of writes, another tab upgrading the schema, a blocked open, and an upgrade from
the previous schema version. Afterwards the invariants hold and earlier data reads back."""

import json
import textwrap

from app.store.schema import VERSION as SCHEMA_VERSION
from conftest import install_pagekit, run_python, vault_state, wait_for_app_state

PRELUDE = """
import json, pagekit
from app.store import idb
from app.store import media
from app.store import schema
from app.startup import current_vault
vault = current_vault()
"""


def booted(app_page):
    page = app_page.open()
    assert wait_for_app_state(page) == "ready"
    install_pagekit(page)
    return page


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def test_writes_until_the_quota_is_full_lose_nothing(app_page):
    page = booted(app_page)
    cdp = app_page.context.new_cdp_session(page)
    origin = app_page.base_url.rstrip("/")
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin, "quotaSize": 12 << 20})
    try:
        result = py(page, """
            project = await vault.create_project("Quota")
            stored, failure = [], None
            for i in range(40):
                data = pagekit.wav_bytes(1 << 20)
                try:
                    asset = await vault.put_asset(project.id, "audio", f"scene:{i}:narration",
                                                  data, "audio/wav")
                except Exception as exc:
                    failure = {"type": type(exc).__name__, "message": str(exc)}
                    break
                stored.append([asset.id, pagekit.sha256(data)])
            exact = []
            for asset_id, digest in stored:
                back = await media.blob_bytes(await vault.get_blob(asset_id))
                exact.append(pagekit.sha256(back) == digest)
            json.dumps({"stored": len(stored), "failure": failure, "exact": exact,
                        "records": len(await vault.list_assets(project.id))})
        """)
    finally:
        cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin})
    assert result["failure"] is not None and result["failure"]["type"] == "QuotaExceeded"
    assert "MB used of" in result["failure"]["message"]
    assert "Nothing of this change was stored" in result["failure"]["message"]
    assert 3 <= result["stored"] < 12
    assert result["records"] == result["stored"] and all(result["exact"])
    assert vault_state(page)["problems"] == []


def test_a_large_write_that_clearly_cannot_fit_is_refused_before_writing(app_page):
    page = booted(app_page)
    before = vault_state(page)["counts"]
    result = py(page, """
        import js
        from app.store.vault import Vault
        tight = js.Function.new("return {estimate: async () => ({usage: 5e6, quota: 1e7})}")()
        small = Vault(vault.db, storage=tight)
        project = await small.create_project("Tight")
        error = await pagekit.error_of(small.put_asset(
            project.id, "audio", "scene:1:narration", pagekit.wav_bytes(9 << 20), "audio/wav"))
        left = len(await small.list_assets(project.id))
        await small.delete_project(project.id)
        json.dumps({"error": error, "left": left})
    """)
    assert result["error"]["type"] == "QuotaExceeded" and "cannot fit" in result["error"]["message"]
    assert result["left"] == 0
    assert vault_state(page)["counts"] == before


def test_closing_the_page_mid_batch_leaves_no_half_written_record(app_page):
    page = booted(app_page)
    run_python(page, textwrap.dedent("""
        import asyncio, pagekit
        from app.startup import current_vault
        async def batch():
            vault = current_vault()
            project = await vault.create_project("Crash")
            for i in range(30):
                await vault.put_asset(project.id, "audio", f"scene:{i}:narration",
                                      pagekit.wav_bytes(2 << 20), "audio/wav")
        _crash_task = asyncio.ensure_future(batch())
        0
    """))
    page.wait_for_timeout(700)
    page.close(run_before_unload=False)
    reopened = booted(app_page)
    state = vault_state(reopened)
    assert state["problems"] == []
    result = py(reopened, """
        crash = [p for p in await vault.list_projects() if p.title == "Crash"]
        assets = await vault.list_assets(crash[0].id) if crash else []
        sizes = [(await vault.get_blob(a.id)).size for a in assets]
        json.dumps({"projects": len(crash), "sizes": sizes})
    """)
    assert result["projects"] == 1
    assert len(result["sizes"]) < 30, "the page should have closed before the batch finished"
    assert all(size == 2 << 20 for size in result["sizes"])


def test_another_tab_upgrading_the_schema_is_reported_and_not_blocked(app_page):
    first = booted(app_page)
    second = app_page.context.new_page()
    second.goto(app_page.base_url + "static/icons/icon.svg")  # same origin, no app
    opened = second.evaluate("""version => new Promise((resolve) => {
        const req = indexedDB.open("scenevault", version);
        req.onblocked = () => resolve("blocked");
        req.onsuccess = () => { req.result.close(); resolve("opened"); };
        req.onerror = () => resolve("error: " + req.error.name);
    })""", py(first, "json.dumps(schema.VERSION + 1)"))
    assert opened == "opened"
    notice = first.get_by_role("alert")
    notice.wait_for()
    assert "updated in another tab" in notice.inner_text()
    error = py(first, 'json.dumps(await pagekit.error_of(vault.list_projects()))')
    assert error["type"] == "VaultError" and "Reload" in error["message"]


def test_a_blocked_open_is_reported_not_a_silent_hang(app_page):
    page = booted(app_page)
    page.evaluate("""() => new Promise((resolve) => {
        const req = indexedDB.open("blocked-test", 1);
        req.onsuccess = () => { window.heldConnection = req.result; resolve(); };
    })""")
    result = py(page, """
        error = await pagekit.error_of(idb.connect("blocked-test", version=2))
        json.dumps(error)
    """)
    assert result["type"] == "DatabaseBlocked"
    assert "Close the other SceneVault tabs" in result["message"]


def test_upgrading_from_the_previous_schema_version_keeps_every_record(app_page):
    page = booted(app_page)
    result = py(page, """
        from app.store.vault import Vault
        old = await idb.connect("upgrade-test", version=schema.VERSION)
        before = Vault(old, name="upgrade-test")
        project = await before.create_project("Survivor")
        asset = await before.put_asset(project.id, "scene", "scene:1", pagekit.png(20, 20), "image/png")
        idb.close("upgrade-test")
        newer = {**schema.UPGRADES, schema.VERSION + 1: [
            schema.CreateIndex("assets", "favorite", "favorite"),
            schema.CreateStore("notes", "id")]}
        db = await idb.connect("upgrade-test", version=schema.VERSION + 1, upgrades=newer)
        after = Vault(db, name="upgrade-test")
        kept = await after.get(asset.id)
        blob = await after.get_blob(asset.id)
        stores = sorted(db.objectStoreNames.to_py() if hasattr(db.objectStoreNames, "to_py")
                        else [db.objectStoreNames.item(i) for i in range(db.objectStoreNames.length)])
        tx = db.transaction("assets")
        indexes = sorted(tx.objectStore("assets").indexNames.item(i)
                         for i in range(tx.objectStore("assets").indexNames.length))
        json.dumps({"same": pagekit.view(kept) == pagekit.view(asset), "blob": blob.size,
                    "version": db.version, "stores": stores, "indexes": indexes,
                    "title": (await after.get_project(project.id)).title})
    """)
    assert result["same"] and result["blob"] > 0 and result["title"] == "Survivor"
    assert "notes" in result["stores"] and "favorite" in result["indexes"]
    assert {"blobs", "previews", "projects", "assets"} <= set(result["stores"])
    assert result["version"] == SCHEMA_VERSION + 1
    assert vault_state(page, "upgrade-test")["problems"] == []
