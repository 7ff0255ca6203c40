"""Scene clips in the final video, rendered in a Worker: a 7-scene project (frame images, a 4:3
clip held under longer narration, a clip with no frame image at 7 fps, a rotated MP4, a 4K clip,
a 59.94 fps clip) is rendered, and the WebM is checked OUTSIDE the page: ffprobe for the streams
and where they end, ffmpeg for sampled frames (each clip's colour in its own scene, letterboxed
or upright as it should be, the frame images in the others) and for the sound (the clip's own
tone under a clip scene, silence elsewhere). The recipe records each clip's SHA-256 and renders
the same bytes again; a clip missing from the device is named."""

import base64
import hashlib
import json
import textwrap

import pytest

from cutkit import loudness, make_cut_clips, pixel, stream_ends
from clipkit import ffprobe
from conftest import install_pagekit, run_python

PRELUDE = """
import base64, json, js, pagekit
from app.core import storyboard
from app.core.errors import RenderError
from app.generation.service import GenerationService
from app.generation.client import ProxyClient
from app.render.encoder import Renderer
from app.render.timeline import RenderSettings
from app.startup import current_vault
from app.store import media
vault = current_vault()
service = GenerationService(vault, ProxyClient())
renderer = Renderer(vault)

async def put_clip(project_id, scene, b64, mime):
    slot = storyboard.scene_slots(scene)["clip"]
    return await vault.put_asset(project_id, "clip", slot, base64.b64decode(b64), mime, source="imported")

async def put_frame(project_id, scene, rgb):
    slot = storyboard.scene_slots(scene)["frame"]
    return await vault.put_asset(project_id, "scene", slot, pagekit.png(160, 90, rgb), "image/png")
"""
BLUE, YELLOW = (30, 60, 220), (230, 220, 30)
LONG_STORY = "The vault door swings open and twelve quiet thieves walk in slowly"
# scene -> (frame colour or None, clip name or None, narration or None)
SCENES = [(BLUE, None, None), (YELLOW, "red", LONG_STORY), (None, "green7", None),
          (None, "rotated", None), (None, "magenta4k", None), (None, "cyan5994", None),
          (BLUE, None, "Goodbye.")]
W, H = 640, 360


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def b64(clip) -> str:
    return base64.b64encode(clip.data).decode()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return make_cut_clips(tmp_path_factory.mktemp("cut"))


@pytest.fixture(scope="module")
def cut(shared_app, clips, tmp_path_factory):
    """The project, its render's recipe and asset, and the WebM on disk."""
    _, page = shared_app
    install_pagekit(page)
    scenes = json.dumps([[rgb and list(rgb), name and b64(clips[name]), name and clips[name].mime_type,
                          story] for rgb, name, story in SCENES])
    made = py(page, f"""
        project = await vault.create_project("Clips in the cut", aspect_ratio="16:9")
        for n in range({len(SCENES)}):
            project = storyboard.add_scene(project, f"Scene {{n + 1}}", "a picture")
        await vault.save_project(project)
        clip_shas = []
        for scene, (rgb, data, mime, story) in zip(project.scenes, json.loads({scenes!r})):
            if rgb:
                await put_frame(project.id, scene, tuple(rgb))
            clip_shas.append(data and (await put_clip(project.id, scene, data, mime)).sha256)
            if story:
                await service.generate(project.id, "audio", storyboard.scene_slots(scene)["narration"],
                                       {{"prompt": story}})
        settings = RenderSettings.for_aspect("16:9", 360, transition="cut", pan=False,
                                             default_scene_ms=1000)
        final = await renderer.render(project.id, settings)
        data = await media.blob_bytes(await vault.get_blob(final.id))
        json.dumps({{"id": project.id, "final": pagekit.view(final), "clip_shas": clip_shas,
                     "b64": base64.b64encode(data).decode()}})
    """)
    path = tmp_path_factory.mktemp("rendered") / "cut.webm"
    path.write_bytes(base64.b64decode(made.pop("b64")))
    made["path"] = path
    made["scenes"] = made["final"]["recipe"]["scenes"]
    return made


def middle(scene: dict, at: float = 0.5) -> float:
    return (scene["startMs"] + at * scene["durationMs"]) / 1000


def near(rgb, expected, tolerance=60) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, expected))


BLACK = (0, 0, 0)


def test_the_recipe_records_each_clip_by_sha256(vault_page, cut, clips):
    recipe = cut["final"]["recipe"]
    assert recipe["version"] == 2
    scenes = cut["scenes"]
    assert [s["clip"] and s["clip"]["sha256"] for s in scenes] == cut["clip_shas"]
    assert cut["clip_shas"][1] == hashlib.sha256(clips["red"].data).hexdigest()
    assert [s["image"] is None for s in scenes] == [False, True, True, True, True, True, False]
    # the scene with a clip and narration lasts as long as the longer of the two
    red = scenes[1]
    assert red["durationMs"] == max(red["clip"]["durationMs"], red["narration"]["durationMs"])
    assert red["narration"]["durationMs"] > red["clip"]["durationMs"] + 500  # so the clip is held
    assert scenes[2]["durationMs"] == scenes[2]["clip"]["durationMs"]  # no narration: the clip's length
    assert scenes[0]["durationMs"] == 1000
    assert recipe["totalMs"] == sum(s["durationMs"] for s in scenes)


def test_the_webm_has_the_streams_and_they_end_together(vault_page, cut):
    probe = ffprobe(cut["path"])
    video = [s for s in probe["streams"] if s["codec_type"] == "video"]
    audio = [s for s in probe["streams"] if s["codec_type"] == "audio"]
    assert [(s["codec_name"], s["width"], s["height"]) for s in video] == [("vp9", W, H)]
    assert [s["codec_name"] for s in audio] == ["opus"]
    ends = stream_ends(cut["path"])
    total = cut["final"]["recipe"]["totalMs"] / 1000
    assert abs(ends["video"] - total) <= 1 / 30 + 0.001, ends
    # one frame (33 ms) or one Opus packet (20 ms), whichever is longer
    assert abs(ends["audio"] - ends["video"]) <= 1 / 30 + 0.001, ends


def test_each_clip_shows_in_its_own_scene_and_the_frames_in_the_others(vault_page, cut):
    path, scenes = cut["path"], cut["scenes"]
    centre = (W // 2, H // 2)
    assert near(pixel(path, middle(scenes[0]), centre), BLUE)
    assert near(pixel(path, middle(scenes[0]), (8, 8)), BLUE)  # the frame image covers the frame
    assert near(pixel(path, middle(scenes[6]), centre), BLUE)
    red = {"at": middle(scenes[1], 0.2), "held": middle(scenes[1], 0.95)}
    for when in red.values():  # 4:3 clip in 16:9: pillarboxed, never the yellow frame image
        assert near(pixel(path, when, centre), (255, 0, 0)), when
        assert near(pixel(path, when, (30, H // 2)), BLACK), when
        assert near(pixel(path, when, (W - 30, H // 2)), BLACK), when
    green = middle(scenes[2])  # 7 fps, square, no frame image: resampled to 30 fps, pillarboxed
    assert near(pixel(path, green, centre), (0, 255, 0))
    assert near(pixel(path, green, (60, H // 2)), BLACK)
    magenta = middle(scenes[4])  # 4K into 360p: fills the 16:9 frame
    assert near(pixel(path, magenta, centre), (255, 0, 255))
    assert near(pixel(path, magenta, (8, 8)), (255, 0, 255))
    cyan = middle(scenes[5])  # 59.94 fps
    assert near(pixel(path, cyan, centre), (0, 255, 255))


def test_a_rotated_clip_is_shown_upright(vault_page, cut, clips):
    from cutkit import frame_rgb

    width, height, data = frame_rgb(clips["rotated"].path, 0.5)
    assert (width, height) == (160, 320)  # ffmpeg, applying the display matrix
    left, right = (tuple(data[(160 * width + x) * 3:(160 * width + x) * 3 + 3]) for x in (40, 120))
    when = middle(cut["scenes"][3])
    # upright 160x320 fitted into 640x360 is 180x360, centred: x 230..410
    assert near(pixel(cut["path"], when, (275, H // 2)), left)
    assert near(pixel(cut["path"], when, (365, H // 2)), right)
    assert left != right
    assert near(pixel(cut["path"], when, (100, H // 2)), BLACK)


def test_a_clips_own_sound_plays_in_its_scene(vault_page, cut):
    path, scenes = cut["path"], cut["scenes"]
    silent = loudness(path, scenes[0]["startMs"] / 1000 + 0.1, 0.7)
    tone = loudness(path, scenes[2]["startMs"] / 1000 + 0.2, 1.0)   # the 7 fps clip's 440 Hz tone
    quiet_clip = loudness(path, scenes[4]["startMs"] / 1000 + 0.2, 0.6)  # the 4K clip has no sound
    assert silent < 0.005 and quiet_clip < 0.005, (silent, quiet_clip)
    # lavfi's sine is at 1/8 of full scale (RMS 0.088); the clip plays at CLIP_LEVEL 0.5
    assert 0.025 < tone < 0.07, tone


def test_rerendering_the_recipe_gives_the_same_bytes_and_a_missing_clip_is_named(vault_page, cut):
    result = py(vault_page, f"""
        final = await vault.get({cut["final"]["id"]!r})
        blob = await renderer.rerender(final.recipe, made_at_ms=final.created_at)
        again = (await media.inspect(blob, "video/webm")).sha256
        red = next(a for a in await vault.list_assets({cut["id"]!r})
                   if a.sha256 == final.recipe["scenes"][1]["clip"]["sha256"])
        await vault.delete_asset(red.id)
        error = await pagekit.error_of(renderer.rerender(final.recipe, made_at_ms=final.created_at))
        json.dumps({{"again": again, "stored": final.sha256, "error": error}})
    """)
    assert result["again"] == result["stored"]
    assert result["error"]["type"] == "RenderError"
    assert "scene 2's clip" in result["error"]["message"], result["error"]


def tone_level(path, start: float, seconds: float, hertz: float) -> float:
    """The amplitude of the `hertz` component of the sound from `start` for `seconds`
    (Goertzel over ffmpeg's 8 kHz mono decode)."""
    import array
    import math
    import subprocess

    from clipkit import FFMPEG

    raw = subprocess.run([FFMPEG, "-v", "error", "-ss", f"{start:.3f}", "-t", f"{seconds:.3f}",
                          "-i", str(path), "-vn", "-ac", "1", "-ar", "8000", "-f", "f32le", "-"],
                         check=True, capture_output=True, timeout=60).stdout
    samples = array.array("f", raw)
    coefficient = 2 * math.cos(2 * math.pi * hertz / 8000)
    before = previous = 0.0
    for sample in samples:
        before, previous = sample + coefficient * before - previous, before
    power = before * before + previous * previous - coefficient * before * previous
    return 2 * math.sqrt(max(power, 0.0)) / max(1, len(samples))


def test_the_clips_sound_is_ducked_while_the_narration_plays(vault_page, clips, tmp_path):
    """A 2 s clip with a 440 Hz tone under 0.8 s of 1 kHz narration: the tone plays at 0.15
    during the narration and at 0.5 after it (lavfi's sine is 1/8 of full scale; ffmpeg's
    stereo-to-mono downmix scales everything alike, so the ratio is what is checked)."""
    data = py(vault_page, f"""
        import io, math, struct, wave
        project = await vault.create_project("Ducking", aspect_ratio="16:9")
        project = storyboard.add_scene(project, "Tone", "a picture")
        await vault.save_project(project)
        scene = project.scenes[0]
        await put_clip(project.id, scene, {b64(clips["red"])!r}, "video/webm")
        voice = io.BytesIO()
        with wave.open(voice, "wb") as out:
            out.setnchannels(1); out.setsampwidth(2); out.setframerate(48000)
            out.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 1000 * i / 48000)))
                                     for i in range(int(0.8 * 48000))))
        await vault.put_asset(project.id, "audio", storyboard.scene_slots(scene)["narration"],
                              voice.getvalue(), "audio/wav", source="imported")
        final = await renderer.render(project.id, RenderSettings.for_aspect("16:9", 360))
        data = await media.blob_bytes(await vault.get_blob(final.id))
        await vault.delete_project(project.id)
        json.dumps(base64.b64encode(data).decode())
    """)
    path = tmp_path / "ducked.webm"
    path.write_bytes(base64.b64decode(data))
    ducked = tone_level(path, 0.1, 0.6, 440)
    full = tone_level(path, 1.1, 0.8, 440)
    voice = tone_level(path, 0.1, 0.6, 1000)
    assert voice > 0.1, voice  # the narration is there (8000/32768 = 0.24, before the downmix)
    assert full > 0.04, full   # the tone at 0.5 of 1/8 (0.0625, before the downmix)
    assert ducked / full == pytest.approx(0.15 / 0.5, rel=0.3), (ducked, full)
