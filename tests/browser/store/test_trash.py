"""The trash in a real Chromium on real IndexedDB (app/store/trash.py): deletes move records into
one trash record and back, exactly; blobs stay while the trash references them; emptying frees
only what nothing else uses; Undo after new versions; old trash freed first when storage runs
short; and a crash in the middle of any trash change leaves no half record.

Each test runs Python in the page; `vault_page` then checks the on-disk invariants
(tests/browser/invariants.js), which count the trash's references."""

import json
import textwrap

from backupkit import db_digest
from conftest import install_pagekit, run_python, vault_state, wait_for_app_state

PRELUDE = """
import json, js, pagekit
from app.store import media
from app.startup import current_vault
vault = current_vault()

async def blob_count(*shas):
    return len(await vault.read_blobs(shas))

async def entry_of(item_id):
    return next((e for e in await vault.trash_entries() if e.item.id == item_id), None)
"""
DAY_MS = 24 * 60 * 60 * 1000
BACKDATE_JS = """async ([itemId, days]) => {
  const db = await new Promise((ok, no) => { const r = indexedDB.open("scenevault");
                                              r.onsuccess = () => ok(r.result); r.onerror = no; });
  const tx = db.transaction("trash", "readwrite");
  const store = tx.objectStore("trash");
  store.get(itemId).onsuccess = (e) => {
    const item = e.target.result; item.trashedAt -= days * 86400000; store.put(item); };
  await new Promise((ok) => { tx.oncomplete = ok; });
  db.close();
}"""


def py(page, code: str):
    """Run `code` (ending in an expression that is JSON text) in the page; return it parsed."""
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def test_a_project_goes_to_the_trash_and_comes_back_exactly(vault_page):
    before = vault_state(vault_page)["counts"]
    result = py(vault_page, """
        project = await vault.create_project("Trash round trip", description="keep me")
        for i in range(3):
            await vault.put_asset(project.id, "scene", "scene:s1", pagekit.png(24, 24, (i, 1, 1)),
                                  "image/png", recipe={"prompt": f"take {i}"})
        await vault.put_asset(project.id, "audio", "scene:s1:narration", pagekit.wav_bytes(4000),
                              "audio/wav")
        old = await vault.set_current((await vault.versions(project.id, "scene:s1"))[0].id)
        assets = pagekit.view(await vault.list_assets(project.id))
        stored = pagekit.view(await vault.get_project(project.id))
        moved = await vault.trash_project(project.id)
        gone = [p.id for p in await vault.list_projects()].count(project.id)
        left = len(await vault.list_assets(project.id))
        blobs = await blob_count(*{a["sha256"] for a in assets})
        entry = await entry_of(moved.item_id)
        json.dumps({"moved": pagekit.view(moved), "gone": gone, "left": left, "blobs": blobs,
                    "held": entry.held, "what": entry.item.what, "project": project.id,
                    "assets": assets, "stored": stored,
                    "size": sum({a["sha256"]: a["size"] for a in assets}.values())})
    """)
    assert result["gone"] == 0 and result["left"] == 0 and result["blobs"] == 4
    assert result["moved"]["assets_moved"] == 4 and result["moved"]["label"] == "Trash round trip"
    assert result["what"] == "project" and result["held"] == result["size"]
    during = vault_state(vault_page)["counts"]
    assert during["trash"] == before["trash"] + 1 and during["assets"] == before["assets"]
    assert during["blobs"] == before["blobs"] + 4 and during["trashedAssets"] == before["trashedAssets"] + 4
    back = py(vault_page, f"""
        report = await vault.restore({result["moved"]["item_id"]!r})
        json.dumps({{"report": pagekit.view(report),
                    "assets": pagekit.view(await vault.list_assets({result["project"]!r})),
                    "stored": pagekit.view(await vault.get_project({result["project"]!r})),
                    "entry": (await entry_of({result["moved"]["item_id"]!r})) is None}})
    """)
    assert back["report"] == {"label": "Trash round trip", "assets_restored": 4, "notes": []}
    assert back["assets"] == result["assets"] and back["stored"] == result["stored"]
    assert back["entry"] is True
    assert vault_state(vault_page)["counts"]["trash"] == before["trash"]
    py(vault_page, f"await vault.delete_project({result['project']!r}); '0'")


def test_shared_bytes_stay_until_no_live_asset_and_no_trash_item_uses_them(vault_page):
    before = vault_state(vault_page)["counts"]
    result = py(vault_page, """
        project = await vault.create_project("Refcount")
        shared, other = pagekit.png(40, 40, (7, 7, 7)), pagekit.png(40, 40, (8, 8, 8))
        live = await vault.put_asset(project.id, "character", "character:hero", shared, "image/png")
        old = await vault.put_asset(project.id, "scene", "scene:s1", shared, "image/png")
        await vault.put_asset(project.id, "scene", "scene:s1", other, "image/png")
        await vault.put_asset(project.id, "scene", "scene:s2", shared, "image/png")
        steps = {}
        version = await vault.trash_assets([old.id], keep_favorites=False)   # a trashed version
        slot = await vault.trash_slots(project.id, ["scene:s2"])             # another trashed item
        steps["held_while_live"] = [(await entry_of(version.item_id)).held,
                                    (await entry_of(slot.item_id)).held]
        again = await vault.trash_assets([live.id], keep_favorites=False)   # now only trash holds it
        steps["held_trash_only"] = [(await entry_of(i)).held
                                    for i in (version.item_id, slot.item_id, again.item_id)]
        steps["purge_version"] = pagekit.view(await vault.purge(version.item_id))
        steps["after_version"] = await blob_count(old.sha256)
        steps["purge_again"] = pagekit.view(await vault.purge(again.item_id))
        steps["after_again"] = await blob_count(old.sha256)
        steps["held_last"] = (await entry_of(slot.item_id)).held
        # an old-style delete of a live asset frees nothing the trash still holds
        kept = await vault.put_asset(project.id, "scene", "scene:s3", shared, "image/png")
        steps["legacy_delete"] = pagekit.view(await vault.delete_asset(kept.id))
        steps["purge_slot"] = pagekit.view(await vault.purge(slot.item_id))
        steps["after_slot"] = await blob_count(old.sha256)
        steps["size"] = old.size
        await vault.delete_project(project.id)
        json.dumps(steps)
    """)
    assert result["held_while_live"] == [0, 0]
    assert result["held_trash_only"] == [0, 0, 0]  # three items share the bytes: none holds them alone
    assert result["purge_version"] == {"assets_removed": 1, "bytes_freed": 0}
    assert result["after_version"] == 1
    assert result["purge_again"] == {"assets_removed": 1, "bytes_freed": 0}
    assert result["after_again"] == 1 and result["held_last"] == result["size"]
    assert result["legacy_delete"] == {"assets_removed": 1, "bytes_freed": 0}
    assert result["purge_slot"] == {"assets_removed": 1, "bytes_freed": result["size"]}
    assert result["after_slot"] == 0
    after = vault_state(vault_page)["counts"]
    assert (after["blobs"], after["previews"], after["trash"]) == (
        before["blobs"], before["previews"], before["trash"])


def test_undo_puts_the_current_version_back_and_restores_beside_newer_versions(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Undo")
        made = [await vault.put_asset(project.id, "scene", "scene:s1",
                                      pagekit.png(16, 16, (i, 2, 2)), "image/png") for i in range(3)]
        def shape(versions):
            return [(v.id, v.version, v.current) for v in versions]
        out = {"made": [m.id for m in made]}
        first = await vault.trash_assets([made[2].id], keep_favorites=False)
        out["while_trashed"] = shape(await vault.versions(project.id, "scene:s1"))
        out["undo"] = pagekit.view(await vault.restore(first.item_id))
        out["after_undo"] = shape(await vault.versions(project.id, "scene:s1"))
        second = await vault.trash_assets([made[2].id], keep_favorites=False)
        newer = await vault.put_asset(project.id, "scene", "scene:s1", pagekit.png(16, 16, (9, 9, 9)),
                                      "image/png")
        out["newer"] = newer.id
        out["late"] = pagekit.view(await vault.restore(second.item_id))
        out["after_late"] = shape(await vault.versions(project.id, "scene:s1"))
        whole = await vault.trash_slots(project.id, ["scene:s1"], label="Scene 1")
        fresh = await vault.put_asset(project.id, "scene", "scene:s1", pagekit.png(16, 16, (5, 5, 5)),
                                      "image/png")
        out["fresh"] = fresh.id
        out["slot"] = pagekit.view(await vault.restore(whole.item_id))
        out["after_slot"] = shape(await vault.versions(project.id, "scene:s1"))
        await vault.delete_project(project.id)
        json.dumps(out)
    """)
    a, b, c = result["made"]
    assert result["while_trashed"] == [[a, 1, False], [b, 2, True]]
    assert result["undo"]["notes"] == [] and result["undo"]["assets_restored"] == 1
    assert result["after_undo"] == [[a, 1, False], [b, 2, False], [c, 3, True]]
    newer = result["newer"]
    assert result["after_late"] == [[a, 1, False], [b, 2, False], [newer, 3, True], [c, 4, False]]
    assert any("version 3 came back as version 4" in note for note in result["late"]["notes"])
    assert any("stays current" in note for note in result["late"]["notes"])
    currents = [row for row in result["after_slot"] if row[2]]
    assert currents == [[result["fresh"], 1, True]]
    assert sorted(row[1] for row in result["after_slot"]) == [1, 2, 3, 4, 5]
    assert result["slot"]["assets_restored"] == 4 and result["slot"]["notes"]


def test_a_crash_in_the_middle_of_any_trash_change_leaves_no_half_record(vault_page):
    setup = py(vault_page, """
        project = await vault.create_project("Crash in the trash")
        for i in range(2):
            await vault.put_asset(project.id, "scene", "scene:s1", pagekit.png(12, 12, (i, 3, 3)),
                                  "image/png")
        parked = await vault.trash_slots(project.id, ["scene:s1"])
        made = [await vault.put_asset(project.id, "scene", slot, pagekit.png(12, 12, (hue, 4, 4)),
                                      "image/png")  # s1 has a version made since
                for slot, hue in (("scene:s1", 6), ("scene:s2", 4))]
        json.dumps({"project": project.id, "parked": parked.item_id, "s2": made[1].id})
    """)
    before = db_digest(vault_page)
    crashes = py(vault_page, f"""
        from app.store import trash, trash_items, writes
        def crash(*args, **kwargs):
            raise RuntimeError("crash")
        out = {{}}
        # moving in: the records are already queued for deletion when writing the item fails
        saved = trash_items.TrashItem.to_record
        trash.TrashItem.to_record = crash
        try:
            out["project"] = await pagekit.error_of(vault.trash_project({setup["project"]!r}))
            out["slot"] = await pagekit.error_of(vault.trash_slots({setup["project"]!r}, ["scene:s2"]))
        finally:
            trash.TrashItem.to_record = saved
        # coming back: a restored record that collides with a live one aborts the whole restore
        plan_of = trash.restore_plan
        def colliding(item, live):
            plan = plan_of(item, live)
            clash = {{**plan.records[-1], "id": {setup["s2"]!r}}}  # a live id in another slot
            return trash_items.RestorePlan(plan.records + (clash,), plan.demote, plan.notes)
        trash.restore_plan = colliding
        try:
            out["restore"] = await pagekit.error_of(vault.restore({setup["parked"]!r}))
        finally:
            trash.restore_plan = plan_of
        # emptying: the items are already queued for deletion when freeing a blob fails
        drop = writes.PendingReport.drop
        writes.PendingReport.drop = crash
        try:
            out["empty"] = await pagekit.error_of(vault.empty_trash())
        finally:
            writes.PendingReport.drop = drop
        json.dumps(out)
    """)
    assert crashes["project"]["type"] == "RuntimeError" and crashes["slot"]["type"] == "RuntimeError"
    assert crashes["restore"]["type"] == "VaultError" and "ConstraintError" in crashes["restore"]["message"]
    assert crashes["empty"]["type"] == "RuntimeError"
    state = vault_state(vault_page)
    assert state["problems"] == []
    after = py(vault_page, f"""
        versions = await vault.versions({setup["project"]!r}, "scene:s1")
        kept = [e.item.id for e in await vault.trash_entries()]
        json.dumps({{"s1": len(versions), "s2": len(await vault.versions({setup["project"]!r}, "scene:s2")),
                    "parked": {setup["parked"]!r} in kept}})
    """)
    assert after == {"s1": 1, "s2": 1, "parked": True}
    assert db_digest(vault_page)["digest"] == before["digest"], "a crashed change left something"
    py(vault_page, f"""
        await vault.purge({setup["parked"]!r})
        await vault.delete_project({setup["project"]!r})
        '0'
    """)


def test_a_large_write_past_the_threshold_frees_trash_older_than_30_days_first(vault_page):
    result = py(vault_page, """
        from app.store.vault import Vault
        project = await vault.create_project("Threshold")
        old = await vault.put_asset(project.id, "audio", "scene:s1:narration",
                                    pagekit.wav_bytes(300_000), "audio/wav")
        recent = await vault.put_asset(project.id, "audio", "scene:s2:narration",
                                       pagekit.wav_bytes(200_000), "audio/wav")
        old_item = await vault.trash_slots(project.id, ["scene:s1:narration"])
        recent_item = await vault.trash_slots(project.id, ["scene:s2:narration"])
        json.dumps({"project": project.id, "old": old_item.item_id, "recent": recent_item.item_id,
                    "sha_old": old.sha256, "sha_recent": recent.sha256})
    """)
    vault_page.evaluate(BACKDATE_JS, [result["old"], 31])
    after = py(vault_page, f"""
        from app.store.vault import Vault
        heard = []
        nearly_full = js.Function.new("return {{estimate: async () => ({{usage: 1e6, quota: 1e7}})}}")()
        tight = Vault(vault.db, storage=nearly_full)
        tight.on_notice = heard.append
        asset = await tight.put_asset({result["project"]!r}, "audio", "scene:s3:narration",
                                      pagekit.wav_bytes(int(8.5 * 1048576)), "audio/wav")
        kept = [e.item.id for e in await vault.trash_entries()]
        out = {{"heard": heard, "stored": asset.size,
               "old_kept": {result["old"]!r} in kept, "recent_kept": {result["recent"]!r} in kept,
               "blobs": [await blob_count({result["sha_old"]!r}), await blob_count({result["sha_recent"]!r})]}}
        await vault.purge({result["recent"]!r})
        await vault.delete_project({result["project"]!r})
        json.dumps(out)
    """)
    assert after["stored"] == int(8.5 * 1048576)
    assert after["old_kept"] is False and after["recent_kept"] is True
    assert after["blobs"] == [0, 1]
    assert after["heard"] == ["Freed 293 KB by emptying trash older than 30 days (1 file), to make room."]


def test_a_write_refused_for_space_frees_old_trash_and_is_stored(app_page):
    page = app_page.open()
    assert wait_for_app_state(page) == "ready"
    install_pagekit(page)
    cdp = app_page.context.new_cdp_session(page)
    origin = app_page.base_url.rstrip("/")
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin, "quotaSize": 12 << 20})
    setup = py(page, """
        project = await vault.create_project("Quota and trash")
        old = [await vault.put_asset(project.id, "audio", f"scene:o{i}:narration",
                                     pagekit.wav_bytes(1 << 20), "audio/wav") for i in range(6)]
        item = await vault.trash_slots(project.id, [f"scene:o{i}:narration" for i in range(6)],
                                       label="Six old narrations")
        json.dumps({"project": project.id, "item": item.item_id})
    """)
    page.evaluate(BACKDATE_JS, [setup["item"], 45])
    try:
        result = py(page, f"""
            stored, failure = 0, None
            for i in range(30):
                try:
                    await vault.put_asset({setup["project"]!r}, "audio", f"scene:n{{i}}:narration",
                                          pagekit.wav_bytes(1 << 20), "audio/wav")
                except Exception as exc:
                    failure = {{"type": type(exc).__name__, "message": str(exc)}}
                    break
                stored += 1
            kept = [e.item.id for e in await vault.trash_entries()]
            json.dumps({{"stored": stored, "failure": failure, "trash_kept": {setup["item"]!r} in kept}})
        """)
    finally:
        cdp.send("Storage.overrideQuotaForOrigin", {"origin": origin})
    assert result["trash_kept"] is False, result
    assert result["failure"] and result["failure"]["type"] == "QuotaExceeded"
    assert "emptying the trash" in result["failure"]["message"]
    assert result["stored"] >= 6, result  # at least the space the old trash held was reused
    notice = page.get_by_role("status").filter(has_text="by emptying trash older than 30 days")
    notice.wait_for()
    assert "Freed 6.0 MB" in notice.inner_text()
    assert vault_state(page)["problems"] == []


def test_a_removed_scene_comes_back_in_its_place_with_its_files(vault_page):
    result = py(vault_page, """
        from app.core import storyboard
        project = await vault.create_project("Scenes")
        for story in ("one", "two", "three"):
            project = await vault.save_project(storyboard.add_scene(project, story))
        scene = project.scenes[1]
        slots = storyboard.scene_slots(scene)
        await vault.put_asset(project.id, "scene", slots["frame"], pagekit.png(20, 20), "image/png")
        await vault.put_asset(project.id, "audio", slots["narration"], pagekit.wav_bytes(3000),
                              "audio/wav")
        moved = await vault.trash_slots(project.id, list(slots.values()), label="Scene 2",
                                        project=storyboard.remove_scene(project, scene["id"]),
                                        entry={"list": "scenes", "index": 1, "value": scene})
        during = await vault.get_project(project.id)
        files_during = len(await vault.list_assets(project.id))
        back = await vault.restore(moved.item_id)
        after = await vault.get_project(project.id)
        out = {"moved": moved.assets_moved, "during": [s["story"] for s in during.scenes],
               "files_during": files_during, "after": [s["story"] for s in after.scenes],
               "files_after": len(await vault.list_assets(project.id)), "notes": list(back.notes),
               "missing_project": await pagekit.error_of(vault.restore("trs_gone"))}
        await vault.delete_project(project.id)
        json.dumps(out)
    """)
    assert result["moved"] == 2 and result["files_during"] == 0
    assert result["during"] == ["one", "three"] and result["after"] == ["one", "two", "three"]
    assert result["files_after"] == 2 and result["notes"] == []
    assert result["missing_project"]["type"] == "NotFound"
    assert "restored or deleted for good already" in result["missing_project"]["message"]


def test_versions_whose_project_is_gone_are_not_restored(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Gone")
        made = [await vault.put_asset(project.id, "scene", "scene:s1", pagekit.png(8, 8, (i, 0, 0)),
                                      "image/png") for i in range(2)]
        version = await vault.trash_assets([made[0].id])
        whole = await vault.trash_project(project.id)
        error = await pagekit.error_of(vault.restore(version.item_id))
        still = [e.item.id for e in await vault.trash_entries()]
        await vault.restore(whole.item_id)
        back = await vault.restore(version.item_id)    # the project first, then its version
        versions = [(v.version, v.current) for v in await vault.versions(project.id, "scene:s1")]
        await vault.delete_project(project.id)
        json.dumps({"error": error, "kept": version.item_id in still, "versions": versions,
                    "notes": list(back.notes)})
    """)
    assert result["error"]["type"] == "NotFound" and "restore the project first" in result["error"]["message"]
    assert result["kept"] is True
    assert result["versions"] == [[1, False], [2, True]] and result["notes"] == []


DROP_JS = """async ([dbName, store, key]) => {
  const db = await new Promise((ok, no) => { const r = indexedDB.open(dbName);
                                              r.onsuccess = () => ok(r.result); r.onerror = no; });
  const tx = db.transaction(store, "readwrite");
  tx.objectStore(store).delete(key);
  await new Promise((ok) => { tx.oncomplete = ok; });
  db.close();
}"""


def test_the_invariants_count_trash_references_and_still_catch_a_leak(vault_page):
    made = py(vault_page, """
        from app.store import idb
        from app.store.vault import Vault
        other = await Vault.open(name="trash-leak-test")
        project = await other.create_project("Leak")
        kept = await other.put_asset(project.id, "scene", "scene:s1", pagekit.png(9, 9, (1, 1, 1)),
                                     "image/png")
        lost = await other.put_asset(project.id, "scene", "scene:s2", pagekit.png(9, 9, (2, 2, 2)),
                                     "image/png")
        first = await other.trash_slots(project.id, ["scene:s1"])
        second = await other.trash_slots(project.id, ["scene:s2"])
        idb.close("trash-leak-test")
        json.dumps({"first": first.item_id, "kept": kept.sha256, "lost": lost.sha256})
    """)
    assert vault_state(vault_page, "trash-leak-test")["problems"] == []  # trash references count
    vault_page.evaluate(DROP_JS, ["trash-leak-test", "trash", made["first"]])  # a lost trash record
    vault_page.evaluate(DROP_JS, ["trash-leak-test", "blobs", made["lost"]])   # a freed trashed blob
    problems = vault_state(vault_page, "trash-leak-test")["problems"]
    assert any(f"blob {made['kept']} is referenced by no asset and no trash item" in p for p in problems)
    assert any("lost its blob" in p for p in problems)
    vault_page.evaluate("name => new Promise((ok) => { indexedDB.deleteDatabase(name).onsuccess = ok; })",
                        "trash-leak-test")
