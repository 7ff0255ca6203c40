"""The asset vault in a real Chromium on real IndexedDB: bit-exact round trips, dedupe,
versions, reference-counted deletes, missing media, usage, and refused bad input.

Each test runs Python in the shared booted page; the `vault_page` fixture then checks the
on-disk invariants with plain IndexedDB (tests/browser/invariants.js)."""

import json
import textwrap

import pytest

from conftest import run_python, vault_state

PRELUDE = """
import json, js, pagekit
from app.store import media
from app.startup import current_vault
vault = current_vault()
"""


def py(page, code: str):
    """Run `code` (ending in an expression that is JSON text) in the page; return it parsed."""
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


@pytest.mark.parametrize("size", [1024, 5 * 1024 * 1024, 50 * 1024 * 1024],
                         ids=["1KB", "5MB", "50MB"])
def test_round_trip_is_bit_exact(vault_page, size):
    result = py(vault_page, f"""
        data = pagekit.wav_bytes({size})
        project = await vault.create_project("Round trip {size}")
        asset = await vault.put_asset(project.id, "audio", "scene:1:narration", data, "audio/wav")
        back = await media.blob_bytes(await vault.get_blob(asset.id))
        same = back == data
        del data, back
        await vault.delete_project(project.id)
        json.dumps({{"same": same, "asset": pagekit.view(asset)}})
    """)
    assert result["same"] is True
    assert result["asset"]["size"] == size
    assert len(result["asset"]["sha256"]) == 64
    assert abs(result["asset"]["duration_ms"] - (size - 44) / 8000 * 1000) <= 1


def test_image_dimensions_and_preview_come_from_the_media(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Dims")
        asset = await vault.put_asset(project.id, "scene", "scene:1", pagekit.png(1280, 720),
                                      "image/png", recipe={"prompt": "red", "seed": 7})
        preview = await vault.get_preview(asset.id)
        bitmap = await __import__("js").createImageBitmap(preview)
        out = {"asset": pagekit.view(asset), "preview": [bitmap.width, bitmap.height, preview.type],
               "stored": pagekit.view(await vault.get(asset.id))}
        await vault.delete_project(project.id)
        json.dumps(out)
    """)
    assert (result["asset"]["width"], result["asset"]["height"]) == (1280, 720)
    assert result["preview"] == [320, 180, "image/webp"]
    assert result["stored"] == result["asset"]
    assert result["stored"]["recipe"] == {"prompt": "red", "seed": 7}
    assert result["stored"]["id"].startswith("ast_")


def test_identical_bytes_are_stored_once_and_survive_until_the_last_user_goes(vault_page):
    before = vault_state(vault_page)["counts"]
    result = py(vault_page, """
        project = await vault.create_project("Dedupe")
        data = pagekit.png(64, 64, (1, 2, 3))
        first = await vault.put_asset(project.id, "scene", "scene:1", data, "image/png")
        second = await vault.put_asset(project.id, "character", "character:hero", data, "image/png")
        json.dumps({"ids": [first.id, second.id], "project": project.id,
                    "same_sha": first.sha256 == second.sha256})
    """)
    assert result["same_sha"]
    both = vault_state(vault_page)["counts"]
    assert both["blobs"] - before["blobs"] == 1 and both["assets"] - before["assets"] == 2
    freed = py(vault_page, f"""
        report = await vault.delete_asset({result["ids"][0]!r})
        readable = (await vault.get_blob({result["ids"][1]!r})).size
        json.dumps([pagekit.view(report), readable])
    """)
    assert freed[0] == {"assets_removed": 1, "bytes_freed": 0} and freed[1] > 0
    assert vault_state(vault_page)["counts"]["blobs"] == both["blobs"]
    last = py(vault_page, f"""
        json.dumps(pagekit.view(await vault.delete_asset({result["ids"][1]!r})))
    """)
    assert last["bytes_freed"] == freed[1]
    after = vault_state(vault_page)["counts"]
    assert after["blobs"] == before["blobs"] and after["previews"] == before["previews"]
    py(vault_page, f"await vault.delete_project({result['project']!r}); '0'")


def test_versions_count_up_and_set_current_restores_an_older_one(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Versions")
        made = [await vault.put_asset(project.id, "scene", "scene:3", pagekit.png(32, 32, (i, 9, 9)),
                                      "image/png") for i in range(3)]
        history = await vault.versions(project.id, "scene:3")
        restored = await vault.set_current(made[0].id)
        after = await vault.versions(project.id, "scene:3")
        out = {"made": [(a.version, a.current) for a in made],
               "history": [(a.version, a.current) for a in history],
               "restored": [restored.version, restored.current],
               "after": [(a.version, a.current) for a in after]}
        await vault.delete_project(project.id)
        json.dumps(out)
    """)
    assert result["made"] == [[1, True], [2, True], [3, True]]
    assert result["history"] == [[1, False], [2, False], [3, True]]
    assert result["restored"] == [1, True]
    assert result["after"] == [[1, True], [2, False], [3, False]]


def test_deleting_the_current_version_promotes_the_newest_remaining(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Promote")
        made = [await vault.put_asset(project.id, "thumbnail", "thumbnail", pagekit.png(16, 16, (i, 1, 1)),
                                      "image/png") for i in range(3)]
        await vault.delete_asset(made[2].id)
        after = [(a.version, a.current) for a in await vault.versions(project.id, "thumbnail")]
        await vault.delete_project(project.id)
        json.dumps(after)
    """)
    assert result == [[1, False], [2, True]]


def test_delete_versions_keeps_the_newest_and_the_current(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Prune")
        made = [await vault.put_asset(project.id, "scene", "scene:1", pagekit.png(16, 16, (i, 2, 2)),
                                      "image/png") for i in range(5)]
        await vault.set_current(made[0].id)
        report = await vault.delete_versions(project.id, "scene:1", keep=2)
        left = [(a.version, a.current) for a in await vault.versions(project.id, "scene:1")]
        await vault.delete_project(project.id)
        json.dumps({"report": pagekit.view(report), "left": left})
    """)
    assert result["left"] == [[1, True], [5, False]]
    assert result["report"]["assets_removed"] == 3 and result["report"]["bytes_freed"] > 0


def test_project_delete_cascades_but_keeps_bytes_another_project_uses(vault_page):
    before = vault_state(vault_page)["counts"]
    result = py(vault_page, """
        doomed = await vault.create_project("Doomed")
        keeper = await vault.create_project("Keeper")
        shared = pagekit.png(48, 48, (5, 5, 5))
        await vault.put_asset(doomed.id, "scene", "scene:1", shared, "image/png")
        await vault.put_asset(doomed.id, "scene", "scene:2", pagekit.png(48, 48, (6, 6, 6)), "image/png")
        await vault.put_asset(doomed.id, "audio", "scene:1:narration", pagekit.wav_bytes(2000), "audio/wav")
        kept = await vault.put_asset(keeper.id, "thumbnail", "thumbnail", shared, "image/png")
        report = await vault.delete_project(doomed.id)
        out = {"report": pagekit.view(report), "left": len(await vault.list_assets(doomed.id)),
               "kept_readable": (await vault.get_blob(kept.id)).size,
               "projects": [p.title for p in await vault.list_projects()]}
        await vault.delete_project(keeper.id)
        json.dumps(out)
    """)
    assert result["report"]["assets_removed"] == 3
    assert result["left"] == 0 and result["kept_readable"] > 0
    assert "Doomed" not in result["projects"] and "Keeper" in result["projects"]
    assert vault_state(vault_page)["counts"] == before


def test_listing_by_project_kind_and_across_projects(vault_page):
    result = py(vault_page, """
        one = await vault.create_project("One")
        two = await vault.create_project("Two", description="second")
        await vault.put_asset(one.id, "scene", "scene:1", pagekit.png(8, 8), "image/png")
        await vault.put_asset(one.id, "audio", "scene:1:narration", pagekit.wav_bytes(1000), "audio/wav")
        await vault.put_asset(two.id, "audio", "scene:4:narration", pagekit.wav_bytes(1200), "audio/wav")
        renamed = await vault.rename_project(one.id, "One, renamed")
        out = {"one": sorted(a.kind for a in await vault.list_assets(one.id)),
               "one_audio": len(await vault.list_assets(one.id, kind="audio")),
               "all_audio": sorted(a.project_id for a in await vault.list_by_kind("audio")
                                   if a.project_id in (one.id, two.id)),
               "order": [p.title for p in await vault.list_projects()][:2],
               "renamed": renamed.title, "ids": [one.id, two.id]}
        await vault.delete_project(one.id); await vault.delete_project(two.id)
        json.dumps(out)
    """)
    assert result["one"] == ["audio", "scene"] and result["one_audio"] == 1
    assert result["all_audio"] == sorted(result["ids"])
    assert result["order"] == ["One, renamed", "Two"]  # the rename made One the newest change


def test_missing_media_is_listed_refused_and_restorable_only_with_the_right_bytes(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Missing")
        data = pagekit.png(40, 40, (9, 8, 7))
        lost = await vault.add_missing(project.id, "scene", "scene:2", sha256=pagekit.sha256(data),
                                       mime_type="image/png", size=len(data), recipe={"seed": 1})
        listed = [a.id for a in await vault.missing(project.id)]
        read = await pagekit.error_of(vault.get_blob(lost.id))
        unknown = await pagekit.error_of(vault.get_blob("ast_nosuchasset"))
        wrong = await pagekit.error_of(vault.attach_media(lost.id, pagekit.png(40, 40, (1, 1, 1))))
        fixed = await vault.attach_media(lost.id, data)
        back = await media.blob_bytes(await vault.get_blob(lost.id))
        out = {"lost": [lost.missing, lost.id], "listed": listed, "read": read, "wrong": wrong,
               "unknown": unknown,
               "fixed": [fixed.missing, fixed.width], "exact": back == data,
               "still_missing": len(await vault.missing(project.id))}
        await vault.delete_project(project.id)
        json.dumps(out)
    """)
    assert result["lost"][0] is True and result["listed"] == [result["lost"][1]]
    assert result["read"]["type"] == "MissingBlob" and "regenerate" in result["read"]["message"]
    assert result["read"]["message"].startswith(f"The media of {result['lost'][1]} (scene:2, v1)")
    assert result["unknown"]["type"] == "NotFound" and "ast_nosuchasset" in result["unknown"]["message"]
    assert result["wrong"]["type"] == "IntegrityError"
    assert result["fixed"] == [False, 40] and result["exact"] and result["still_missing"] == 0


def test_usage_sums_records_per_kind_and_project(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Usage")
        before = await vault.usage()
        await vault.put_asset(project.id, "scene", "scene:1", pagekit.png(8, 8), "image/png")
        await vault.put_asset(project.id, "audio", "scene:1:narration", pagekit.wav_bytes(3000), "audio/wav")
        after = await vault.usage()
        persisted = await vault.request_persistence()
        await vault.delete_project(project.id)
        json.dumps({"before": pagekit.view(before), "after": pagekit.view(after),
                    "project": project.id, "persisted": persisted})
    """)
    after, before = result["after"], result["before"]
    assert after["by_kind"].get("audio", 0) - before["by_kind"].get("audio", 0) == 3000
    assert after["by_project"][result["project"]] == after["stored_bytes"] - before["stored_bytes"]
    assert after["quota"] > 0 and after["usage"] >= 0
    assert isinstance(result["persisted"], bool)


@pytest.mark.parametrize("call, error, fragment", [
    ('put_asset(project.id, "poster", "scene:1", pagekit.png(8, 8), "image/png")',
     "InvalidAsset", "'poster'"),
    ('put_asset(project.id, "scene", "scene:1", b"", "image/png")', "InvalidAsset", "empty"),
    ('put_asset(project.id, "scene", "Scene 1!", pagekit.png(8, 8), "image/png")',
     "InvalidAsset", "'Scene 1!'"),
    ('put_asset(project.id, "scene", "character:hero", pagekit.png(8, 8), "image/png")',
     "InvalidAsset", "cannot hold a scene"),
    ('put_asset(project.id, "scene", "scene:1", b"<svg/>", "image/svg+xml")',
     "InvalidAsset", "image/svg+xml"),
    ('put_asset(project.id, "scene", "scene:1", b"not a png at all", "image/png")',
     "InvalidAsset", "image cannot be decoded"),
    ('put_asset(project.id, "audio", "scene:1:narration", b"garbage" * 100, "audio/wav")',
     "InvalidAsset", "audio cannot be decoded"),
    ('put_asset("prj_nope", "scene", "scene:1", pagekit.png(8, 8), "image/png")',
     "NotFound", "prj_nope"),
    ('put_asset(project.id, "scene", "scene:1", pagekit.png(8, 8), "image/png", recipe="x")',
     "InvalidAsset", "recipe"),
    ('put_asset(project.id, "scene", "scene:1", pagekit.png(8, 8), "image/png", source="stolen")',
     "InvalidAsset", "'stolen'"),
    ('get("ast_nope")', "NotFound", "ast_nope"),
    ('set_current("ast_nope")', "NotFound", "ast_nope"),
    ('delete_asset("ast_nope")', "NotFound", "ast_nope"),
    ('delete_project("prj_nope")', "NotFound", "prj_nope"),
    ('update_project(project.id, title="  ")', "InvalidAsset", "title"),
    ('update_project(project.id, colour="red")', "InvalidAsset", "colour"),
    ('delete_versions(project.id, "scene:1", keep=0)', "InvalidAsset", "keep=0"),
])
def test_bad_input_is_refused_with_a_clear_error_and_nothing_is_written(vault_page, call, error,
                                                                        fragment):
    project_id = py(vault_page, 'json.dumps((await vault.create_project("Bad input")).id)')
    before = vault_state(vault_page)["counts"]
    result = py(vault_page, f"""
        project = await vault.get_project({project_id!r})
        json.dumps(await pagekit.error_of(vault.{call}))
    """)
    assert vault_state(vault_page)["counts"] == before
    py(vault_page, f"await vault.delete_project({project_id!r}); '0'")
    assert result["type"] == error
    assert fragment in result["message"]


def test_settings_keep_json_values_and_a_directory_handle_as_they_were(vault_page):
    result = py(vault_page, """
        folder = await js.navigator.storage.getDirectory()
        await vault.put_setting("probe", {"at": 1_700_000_000_000, "names": ["a", "b"],
                                          "nested": {"ok": True}, "gone": None, "handle": folder})
        stored = await vault.get_setting("probe")
        same = await stored["handle"].isSameEntry(folder)
        await vault.delete_setting("probe")
        json.dumps({"at": stored["at"], "names": stored["names"], "nested": stored["nested"],
                    "keys": sorted(stored), "same": bool(same), "kind": str(stored["handle"].kind),
                    "after": await vault.get_setting("probe")})
    """)
    assert result == {"at": 1_700_000_000_000, "names": ["a", "b"], "nested": {"ok": True},
                      "keys": ["at", "handle", "names", "nested"], "same": True,
                      "kind": "directory", "after": None}


def test_a_write_chained_onto_a_promise_lands_or_says_why(vault_page):
    """idb.commit_when: the transaction `begin` opens as the promise resolves commits, and
    Python hears of each way it can fail: a rejected promise (its own JsException), `begin`
    raising, and a transaction that aborts (translated, nothing of it stored)."""
    result = py(vault_page, """
        import js
        from pyodide.ffi import JsException
        from app.store import idb
        db = vault.db

        def writer(*keys):
            def begin(value):
                tx = idb.Transaction(db, ["settings"], "readwrite")
                for key in keys:
                    tx.store("settings").add(idb.to_js_record({"key": key, "value": int(value)}))
                return tx
            return begin

        async def read(key):
            tx = idb.Transaction(db, ["settings"])
            found = tx.store("settings").get(key)
            await tx.done()
            return idb.from_js_record(found.result)

        value, tx = await idb.commit_when(js.Promise.resolve(7), writer("test:chained"))
        landed = await read("test:chained")
        rejected = await pagekit.error_of(idb.commit_when(
            js.Promise.reject(js.DOMException.new("no media", "EncodingError")), writer("test:never")))

        def failing(value):
            raise ValueError(f"begin refused {value}")
        raised = await pagekit.error_of(idb.commit_when(js.Promise.resolve(3), failing))
        aborted = await pagekit.error_of(idb.commit_when(
            js.Promise.resolve(5), writer("test:twice", "test:twice")))
        out = {"value": int(value), "mode": tx.mode, "landed": landed, "rejected": rejected,
               "raised": raised, "aborted": aborted, "never": await read("test:never"),
               "twice": await read("test:twice")}
        tx = idb.Transaction(db, ["settings"], "readwrite")
        tx.store("settings").delete("test:chained")
        await tx.done()
        json.dumps(out)
    """)
    assert result["value"] == 7 and result["mode"] == "readwrite"
    assert result["landed"] == {"key": "test:chained", "value": 7}
    assert result["rejected"]["type"] == "JsException" and "no media" in result["rejected"]["message"]
    assert result["raised"] == {"type": "ValueError", "message": "begin refused 3"}
    assert result["aborted"]["type"] == "VaultError"
    assert result["aborted"]["message"].startswith("IndexedDB ConstraintError")
    assert result["never"] is None and result["twice"] is None  # the aborted write left nothing
