"""Narration waveforms and clip posters, end to end in a real Chromium against the real server:
a generated narration gets a waveform preview and a duration that agree with its WAV; real WebM
and MP4 clips imported through a slot's file input get their size, duration and a poster frame
taken from the media; media that only looks like video is refused with an alert and stores
nothing. The clips are encoded by ffmpeg and measured by ffprobe (tests/browser/clipkit.py)."""

from __future__ import annotations

import base64
import io
import json
import textwrap
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

import clipkit
from conftest import open_route, run_python, settle_previews, vault_state

PRELUDE = """
import json, js, pagekit
from app.startup import current_app, current_vault
from app.core import storyboard
vault = current_vault()
"""
DURATION_JS = """el => el.readyState >= 1 ? el.duration
  : new Promise((ok, no) => { el.onloadedmetadata = () => ok(el.duration);
                              el.onerror = () => no(new Error("the media did not load")); })"""
VIDEO_SIZE_JS = """el => new Promise((ok, no) => {
  const size = () => ok([el.videoWidth, el.videoHeight]);
  if (el.readyState >= 1) return size();
  el.onloadedmetadata = size;
  el.onerror = () => no(new Error("the video did not load")); })"""
IMAGE_SIZE_JS = "img => img.decode().then(() => [img.naturalWidth, img.naturalHeight])"
DECODED_SIZE_JS = """src => new Promise((ok, no) => { const img = new Image();
  img.onload = () => ok([img.naturalWidth, img.naturalHeight]);
  img.onerror = () => no(new Error("the image did not load")); img.src = src; })"""
DROP_PREVIEW_JS = """async (sha) => {
  const db = await new Promise((ok, no) => { const r = indexedDB.open("scenevault");
                                              r.onsuccess = () => ok(r.result); r.onerror = no; });
  const tx = db.transaction("previews", "readwrite");
  tx.objectStore("previews").delete(sha);
  await new Promise((ok) => { tx.oncomplete = ok; });
  db.close();
}"""
GARBAGE = bytes((n * 73 + 41) % 256 for n in range(4096))
STORY = "The crew slips past the harbour lights. The old keeper watches them go, and says nothing."
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, clipkit.Clip]:
    """The ffmpeg-made clips, encoded once per run (the tests fail if ffmpeg is missing)."""
    try:
        return clipkit.make_clips(tmp_path_factory.mktemp("clips"))
    except RuntimeError as exc:
        pytest.fail(str(exc))


@dataclass
class Scene:
    """A project with one scene, open in the workspace of the shared page."""

    page: object
    project_id: str
    slots: dict[str, str]  # frame, clip, narration -> slot name

    def region(self, part: str):
        return self.page.get_by_role("region", name=f"Scene 1 {part}", exact=True)

    def current(self, part: str) -> dict | None:
        """The current asset record of one of the scene's slots, as the vault returns it."""
        return py(self.page, f"""
            found = [a for a in await vault.versions({self.project_id!r}, {self.slots[part]!r})
                     if a.current]
            json.dumps(pagekit.view(found[0]) if found else None)
        """)

    def asset_count(self) -> int:
        return py(self.page, f"json.dumps(len(await vault.list_assets({self.project_id!r})))")


@pytest.fixture
def scene(vault_page):
    """A fresh project with one scene, shown in the workspace; deleted afterwards."""
    made = py(vault_page, f"""
        STORY = {STORY!r}
        project = await vault.create_project("Media slots")
        project = await vault.save_project(storyboard.add_scene(project, story=STORY,
                                                                prompt="a harbour at dawn"))
        json.dumps({{"id": project.id, "slots": storyboard.scene_slots(project.scenes[0])}})
    """)
    shown = Scene(vault_page, made["id"], made["slots"])
    # the previous test's workspace looks the same and stays on screen until this one renders:
    # a file set on its input would go to that (deleted) project
    open_route(vault_page, f"#/project/{made['id']}")
    expect(shown.region("clip")).to_be_visible()
    yield shown
    py(vault_page, f"""
        await vault.delete_project({made['id']!r})
        current_app().navigate("#/")
        json.dumps(0)
    """)


def shot(locator, name: str) -> None:
    """A picture in test-artifacts/ (look at it: a broken layout passes every assertion)."""
    ARTIFACTS.mkdir(exist_ok=True)
    locator.screenshot(path=str(ARTIFACTS / f"media-slots-{name}.png"))


def wav_duration_ms(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as reader:
        return reader.getnframes() * 1000 / reader.getframerate()


def test_generated_narration_has_a_waveform_preview_and_the_wav_duration(scene):
    page, card = scene.page, scene.region("narration")
    card.get_by_role("button", name="Generate Scene 1 narration", exact=True).click()
    waveform = card.get_by_role("img", name="Waveform of Scene 1 narration, version 1")
    expect(waveform).to_be_visible(timeout=60_000)
    asset = scene.current("narration")
    with page.expect_download() as download:
        card.get_by_role("button", name="Download Scene 1 narration").click()
    wav = download.value.path().read_bytes()
    assert asset["mime_type"] == "audio/wav" and asset["size"] == len(wav)
    assert abs(asset["duration_ms"] - wav_duration_ms(wav)) <= 50
    stats = clipkit.preview_stats(page, asset["sha256"])
    assert stats["type"] == "image/webp"
    assert (stats["width"], stats["height"]) == (320, 80)
    assert stats["litColumns"] > 320 * 0.4, stats  # a voice, not a flat line
    assert waveform.evaluate(IMAGE_SIZE_JS) == [320, 80]
    player = card.locator("audio.slot-media")
    assert player.get_attribute("src").startswith("blob:")
    assert abs(player.evaluate(DURATION_JS) * 1000 - asset["duration_ms"]) <= 50
    shot(card, "narration")


@pytest.mark.parametrize("name, poster_size", [("webm", (320, 180)), ("mp4", (240, 320)),
                                               ("webm-live", (320, 240))])
def test_imported_clip_gets_its_size_duration_and_a_poster_frame(scene, clips, name, poster_size):
    page, card, clip = scene.page, scene.region("clip"), clips[name]
    card.get_by_label("Choose a file for Scene 1 clip").set_input_files(files=[clip.as_upload()])
    page.get_by_text(f"Imported “{clip.path.name}” into Scene 1 clip.").wait_for()
    asset = scene.current("clip")
    assert asset["kind"] == "clip" and asset["source"] == "imported"
    assert asset["mime_type"] == clip.mime_type
    assert (asset["width"], asset["height"]) == (clip.width, clip.height)
    assert abs(asset["duration_ms"] - clip.duration_ms) <= 100, (asset["duration_ms"], clip)
    settle_previews(page)  # the poster frame is made after the import returned
    stats = clipkit.preview_stats(page, asset["sha256"])
    assert stats["type"] == "image/webp"
    assert (stats["width"], stats["height"]) == poster_size
    assert stats["colors"] > 20 and stats["spread"] > 20, stats  # a picture, not a blank frame
    player = card.locator("video.slot-media")
    poster = player.get_attribute("poster")
    assert poster and poster.startswith("blob:")
    assert page.evaluate(DECODED_SIZE_JS, poster) == list(poster_size)
    assert player.evaluate(VIDEO_SIZE_JS) == [clip.width, clip.height]
    expect(card.locator(".slot-status")).to_contain_text(
        f"{clip.width}×{clip.height} · {asset['duration_ms'] / 1000:.1f} s")
    shot(card, f"clip-{name}")


@pytest.mark.parametrize("source, name, fragment", [
    (b"\x1a\x45\xdf\xa3" + GARBAGE, "clip.webm", "cannot be decoded"),
    ("still", "clip.mp4", "'image/png' is not allowed for a clip"),
    (b"<!doctype html><html><body><script>alert(1)</script></body></html>", "clip.webm",
     "This is an HTML page"),
    ("sound-only", "voice.webm", "no picture"),
], ids=["corrupt-webm", "png-named-mp4", "html-named-webm", "webm-without-picture"])
def test_media_that_is_not_a_playable_clip_is_refused_and_nothing_is_stored(
        scene, clips, source, name, fragment):
    """`source` is bytes, or the name of a real file from clipkit; uploaded as `name`, with
    the type its extension claims (the app must look at the bytes instead)."""
    page = scene.page
    claimed = "video/mp4" if name.endswith(".mp4") else "video/webm"
    upload = (clips[source].as_upload(name, claimed) if isinstance(source, str)
              else {"name": name, "mimeType": claimed, "buffer": source})
    before = (scene.asset_count(), vault_state(page)["counts"])
    scene.region("clip").get_by_label("Choose a file for Scene 1 clip").set_input_files(
        files=[upload])
    alert = page.get_by_role("alert").filter(has_text=f"“{upload['name']}” was refused")
    expect(alert).to_be_visible(timeout=30_000)
    assert fragment in alert.inner_text()
    alert.get_by_role("button", name="Dismiss").click()
    assert (scene.asset_count(), vault_state(page)["counts"]) == before
    expect(scene.region("clip").locator(".slot-status")).to_have_text("No file yet")


def test_library_cards_show_waveforms_and_posters_and_keep_the_icon_without_one(vault_page, clips):
    page, title = vault_page, f"Media cards {time.time_ns()}"
    clip = base64.b64encode(clips["webm"].path.read_bytes()).decode()
    made = py(page, f"""
        import base64
        project = await vault.create_project({title!r})
        voice = await vault.put_asset(project.id, "audio", "scene:1:narration",
                                      pagekit.wav_bytes(16_044), "audio/wav")
        bare = await vault.put_asset(project.id, "audio", "scene:2:narration",
                                     pagekit.wav_bytes(8_044), "audio/wav")
        clip = await vault.put_asset(project.id, "clip", "scene:1:clip",
                                     base64.b64decode({clip!r}), "video/webm")
        await vault.preview_maker.idle()  # made after the puts returned
        json.dumps({{"project": project.id, "voice": voice.id, "clip": clip.id,
                     "bare": bare.id, "bare_sha": bare.sha256}})
    """)
    page.evaluate(DROP_PREVIEW_JS, made["bare_sha"])  # as if stored before previews existed
    try:
        py(page, "current_app().navigate('#/library'); json.dumps(0)")
        expect(page.get_by_role("heading", name="Media library", level=1)).to_be_visible()
        page.get_by_label("Project", exact=True).select_option(label=title)
        def thumb(asset_id: str):
            return page.locator(f'[data-asset-id="{asset_id}"] .media-thumb')

        for asset_id, size in ((made["voice"], [320, 80]), (made["clip"], [320, 180])):
            img = thumb(asset_id).locator("img[src^='blob:']")
            expect(img).to_be_attached()
            assert img.evaluate(IMAGE_SIZE_JS) == size
        expect(thumb(made["clip"]).locator(".media-badge")).to_contain_text("0:02")
        expect(thumb(made["bare"]).locator("img")).to_have_count(0)
        expect(thumb(made["bare"]).locator(".media-icon")).to_have_text("♪")
        shot(page.locator(".library-grid"), "library")
    finally:
        py(page, f"""
            await vault.delete_project({made['project']!r})
            current_app().navigate("#/")
            json.dumps(0)
        """)
