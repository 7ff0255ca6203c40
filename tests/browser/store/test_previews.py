"""Previews off the write path, in a real Chromium on real IndexedDB: a put commits its blob
and record and returns before its waveform or poster frame exists; the background maker
(app/store/preview_maker.py) makes it afterwards, marks media it cannot preview and never tries
it again, never leaves a preview behind a deleted blob, and resumes after a reload; the slot
card and the library swap their placeholder for the preview when it lands, without
re-rendering. What is stored is read with plain IndexedDB (not the vault's code).

Order, not timing: each test holds the maker (`hold()`), writes, looks at what is committed,
then releases it and waits for it to go idle."""

from __future__ import annotations

import base64
import json
import textwrap

import pytest
from playwright.sync_api import expect

import clipkit
from conftest import install_pagekit, open_route, run_python, vault_state, wait_for_app_state

PRELUDE = """
import json, js, pagekit
from app.store import media
from app.startup import current_app, current_vault
vault = current_vault()
maker = vault.preview_maker
"""
# What IndexedDB holds for one media hash: its blob, its preview entry, and its asset records.
STORED_JS = """async (sha) => {
  const db = await new Promise((ok, no) => { const r = indexedDB.open("scenevault");
                                              r.onsuccess = () => ok(r.result); r.onerror = no; });
  const tx = db.transaction(["assets", "blobs", "previews"]);
  const get = (req) => new Promise((ok, no) => { req.onsuccess = () => ok(req.result); req.onerror = no; });
  const [blob, preview, assets] = await Promise.all([
    get(tx.objectStore("blobs").get(sha)), get(tx.objectStore("previews").get(sha)),
    get(tx.objectStore("assets").index("sha256").getAll(sha))]);
  db.close();
  return { blob: blob ? blob.blob.size : null, assets: assets.length,
           preview: preview ? { failed: !!preview.failed, reason: preview.reason || null,
                                type: preview.blob ? preview.blob.type : null } : null };
}"""


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def stored(page, sha256: str) -> dict:
    return page.evaluate(STORED_JS, sha256)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, clipkit.Clip]:
    return clipkit.make_clips(tmp_path_factory.mktemp("clips"))


def undecodable_mp4(clip: clipkit.Clip) -> bytes:
    """A real MP4 whose header (moov, first) is intact and whose media data is zeroed: the
    browser reads its size and duration, but cannot decode a frame of it."""
    data = clip.path.read_bytes()
    start = data.index(b"mdat") + 4
    return data[:start] + bytes(len(data) - start)


def test_a_put_returns_before_its_preview_exists_and_the_preview_lands_afterwards(vault_page):
    page = vault_page
    made = py(page, """
        events = []
        unsubscribe = maker.subscribe(lambda sha, blob: events.append(("landed", blob is not None)))
        maker.hold()
        project = await vault.create_project("Preview order")
        asset = await vault.put_asset(project.id, "audio", "scene:1:narration",
                                      pagekit.wav_bytes(24_044), "audio/wav")
        events.append(("put returned", maker.is_pending(asset.sha256)))
        js.window.previewEvents = js.JSON.parse(json.dumps(events))
        json.dumps({"project": project.id, "sha": asset.sha256, "id": asset.id,
                    "duration": asset.duration_ms})
    """)
    held = stored(page, made["sha"])
    assert held == {"blob": 24_044, "assets": 1, "preview": None}  # committed, no preview yet
    assert made["duration"] == 3000  # 24,000 samples at 8 kHz: from the metadata, no decode
    assert py(page, f"json.dumps(await vault.get_preview({made['id']!r}) is None)") is True
    after = py(page, f"""
        maker.release()
        await maker.idle()
        unsubscribe()
        json.dumps({{"events": events, "attempts": maker.attempts.get({made['sha']!r})}})
    """)
    assert after["events"] == [["put returned", True], ["landed", True]]
    assert after["attempts"] == 1
    assert stored(page, made["sha"])["preview"] == {"failed": False, "reason": None,
                                                    "type": "image/webp"}
    stats = clipkit.preview_stats(page, made["sha"])
    assert (stats["width"], stats["height"]) == (320, 80) and stats["litColumns"] > 100
    py(page, f"await vault.delete_project({made['project']!r}); json.dumps(0)")
    assert stored(page, made["sha"]) == {"blob": None, "assets": 0, "preview": None}


def test_media_without_a_possible_preview_is_marked_and_never_tried_again(vault_page, clips):
    page = vault_page
    broken = base64.b64encode(undecodable_mp4(clips["mp4"])).decode()
    made = py(page, f"""
        import base64
        project = await vault.create_project("Unpreviewable")
        asset = await vault.put_asset(project.id, "clip", "scene:1:clip",
                                      base64.b64decode({broken!r}), "video/mp4")
        await maker.idle()
        first = maker.attempts.get(asset.sha256)
        maker.want(asset.sha256, "video/mp4")   # asked again in this session
        maker.resume_pending()                  # and by a scan, as at boot
        await maker.idle()
        again = maker.attempts.get(asset.sha256)
        from app.store.preview_maker import PreviewMaker
        reloaded = PreviewMaker(vault)          # a new session's maker (as after a reload)
        reloaded.resume_pending()
        await reloaded.idle()
        json.dumps({{"project": project.id, "sha": asset.sha256, "id": asset.id,
                     "size": [asset.width, asset.height, asset.duration_ms],
                     "attempts": [first, again, reloaded.attempts.get(asset.sha256)],
                     "preview": await vault.get_preview(asset.id) is None,
                     "listed": list(await vault.read_previews([asset]))}})
    """)
    assert made["size"] == [240, 320, 3000]  # the record is right although nothing decodes
    assert made["attempts"] == [1, 1, None]
    entry = stored(page, made["sha"])["preview"]
    assert entry["failed"] is True and "No preview of this video could be made" in entry["reason"]
    assert made["preview"] is True and made["listed"] == []  # readers see no picture
    assert vault_state(page)["counts"]["failedPreviews"] >= 1
    py(page, f"await vault.delete_project({made['project']!r}); json.dumps(0)")
    assert stored(page, made["sha"]) == {"blob": None, "assets": 0, "preview": None}


def test_a_preview_made_after_its_media_was_deleted_is_not_stored_but_new_bytes_get_one(vault_page):
    made = py(vault_page, """
        maker.hold()
        voice = pagekit.wav_bytes(8_044)
        project = await vault.create_project("Deleted before its preview")
        asset = await vault.put_asset(project.id, "audio", "scene:1:narration", voice, "audio/wav")
        await vault.delete_project(project.id)
        maker.release()
        await maker.idle()
        json.dumps({"sha": asset.sha256, "attempts": maker.attempts.get(asset.sha256)})
    """)
    assert stored(vault_page, made["sha"]) == {"blob": None, "assets": 0, "preview": None}
    # The same bytes stored again, in this session, are new media: they get their preview.
    again = py(vault_page, """
        project = await vault.create_project("Stored again")
        asset = await vault.put_asset(project.id, "audio", "scene:1:narration", voice, "audio/wav")
        await maker.idle()
        json.dumps({"project": project.id, "sha": asset.sha256})
    """)
    assert again["sha"] == made["sha"]
    assert stored(vault_page, made["sha"])["preview"] == {"failed": False, "reason": None,
                                                          "type": "image/webp"}
    py(vault_page, f"await vault.delete_project({again['project']!r}); json.dumps(0)")


def test_a_reload_resumes_the_previews_it_interrupted(app_page):
    page = app_page.open()
    assert wait_for_app_state(page) == "ready"
    install_pagekit(page)
    made = py(page, """
        maker.hold()
        project = await vault.create_project("Interrupted previews")
        asset = await vault.put_asset(project.id, "audio", "scene:1:narration",
                                      pagekit.wav_bytes(16_044), "audio/wav")
        json.dumps({"sha": asset.sha256, "project": project.id})
    """)
    assert stored(page, made["sha"])["preview"] is None
    page.reload()
    assert wait_for_app_state(page) == "ready"
    install_pagekit(page)
    py(page, "await maker.idle(); json.dumps(0)")  # the boot's scan found it and made it
    assert stored(page, made["sha"])["preview"] == {"failed": False, "reason": None,
                                                    "type": "image/webp"}
    assert vault_state(page)["problems"] == []
    assert app_page.page_errors == []


def test_cards_swap_their_placeholder_for_the_preview_when_it_lands(vault_page):
    page = vault_page
    made = py(page, """
        from app.core import storyboard
        maker.hold()
        project = await vault.create_project("Landing previews")
        project = await vault.save_project(storyboard.add_scene(project, story="A quiet pier.",
                                                                prompt="a pier"))
        slot = storyboard.scene_slots(project.scenes[0])["narration"]
        asset = await vault.put_asset(project.id, "audio", slot, pagekit.wav_bytes(16_044),
                                      "audio/wav")
        json.dumps({"project": project.id, "id": asset.id})
    """)
    try:
        open_route(page, f"#/project/{made['project']}")
        card = page.get_by_role("region", name="Scene 1 narration", exact=True)
        expect(card.locator(".slot-waveform.placeholder[data-preview=pending]")).to_be_attached()
        card.locator("audio.slot-media").evaluate("el => { el.dataset.kept = 'yes'; }")
        py(page, "maker.release(); await maker.idle(); json.dumps(0)")
        waveform = card.get_by_role("img", name="Waveform of Scene 1 narration, version 1")
        expect(waveform).to_be_visible()
        assert waveform.evaluate("img => img.decode().then(() => img.naturalWidth)") == 320
        # the same player element: the card was not re-rendered
        assert card.locator("audio.slot-media").get_attribute("data-kept") == "yes"

        py(page, f"""
            maker.hold()
            again = await vault.put_asset({made['project']!r}, "audio", "scene:9:narration",
                                          pagekit.wav_bytes(8_044), "audio/wav")
            current_app().navigate("#/library")
            json.dumps(0)
        """)
        expect(page.get_by_role("heading", name="Media library", level=1)).to_be_visible()
        page.get_by_label("Project", exact=True).select_option(label="Landing previews")
        newest = page.locator(".media-card").first
        expect(newest.locator(".media-icon")).to_have_text("♪")  # pending: the neutral icon
        py(page, "maker.release(); await maker.idle(); json.dumps(0)")
        expect(newest.locator(".media-thumb img[src^='blob:']")).to_be_attached()
    finally:
        py(page, f"""
            maker.release()
            await vault.delete_project({made['project']!r})
            current_app().navigate("#/")
            json.dumps(0)
        """)


# Writes straight into a database (plain IndexedDB): a failure mark whose blob is gone, and a
# preview entry that is neither a picture nor a mark.
BREAK_JS = """async (name) => {
  const db = await new Promise((ok, no) => { const r = indexedDB.open(name);
                                              r.onsuccess = () => ok(r.result); r.onerror = no; });
  const tx = db.transaction(["previews"], "readwrite");
  tx.objectStore("previews").put({ sha256: "f".repeat(64), failed: true, reason: "x", size: 0 });
  tx.objectStore("previews").put({ sha256: "e".repeat(64), size: 3 });
  await new Promise((ok) => { tx.oncomplete = ok; });
  db.close();
}"""


def test_the_invariants_accept_a_pending_preview_and_catch_orphans(vault_page):
    name = "sv-preview-invariants"
    made = py(vault_page, f"""
        from app.store.vault import Vault
        other = await Vault.open({name!r})
        other.preview_maker.hold()   # the narration's preview stays pending
        project = await other.create_project("Pending")
        asset = await other.put_asset(project.id, "audio", "scene:1:narration",
                                      pagekit.wav_bytes(8_044), "audio/wav")
        json.dumps(asset.sha256)
    """)
    assert vault_state(vault_page, name)["problems"] == []  # pending is not a problem
    vault_page.evaluate(BREAK_JS, name)
    problems = vault_state(vault_page, name)["problems"]
    assert sorted(problems) == sorted([
        f"preview {'f' * 64} has no blob", f"preview {'e' * 64} has no blob",
        f"preview {'e' * 64} is neither a picture nor a failure mark"]), problems
    assert stored_in(vault_page, name, made) is None
    py(vault_page, f"""
        other.preview_maker.release()
        await other.preview_maker.idle()
        other.db.close()
        js.indexedDB.deleteDatabase({name!r})
        json.dumps(0)
    """)


def stored_in(page, name: str, sha256: str):
    """The previews entry of `sha256` in database `name` (None when there is none)."""
    return page.evaluate("""async ([name, sha]) => {
      const db = await new Promise((ok, no) => { const r = indexedDB.open(name);
                                                  r.onsuccess = () => ok(r.result); r.onerror = no; });
      const entry = await new Promise((ok, no) => {
        const r = db.transaction("previews").objectStore("previews").get(sha);
        r.onsuccess = () => ok(r.result); r.onerror = no; });
      db.close();
      return entry === undefined ? null : entry;
    }""", [name, sha256])
