"""Rendering the final video in the page: a 3-scene project (two narrated scenes, one silent)
is rendered into a WebM that the page plays with the right length, that ffprobe reads outside
the browser with a video stream of the chosen size and an audio stream, that carries its title,
recipe and AI label as Matroska tags, that can be cancelled mid-way with nothing stored, and
that is rendered again from its recipe after a recipe-only backup was restored and its images
regenerated."""

import base64
import hashlib
import io
import json
import textwrap
import zipfile
from datetime import datetime, timezone

import pytest

from clipkit import ffprobe, movie_tags
from conftest import install_pagekit, open_route, run_python

PRELUDE = """
import base64, json, js, pagekit
from app.backup import service as backups
from app.store import media
from app.core import storyboard
from app.core.errors import RenderError
from app.generation.service import GenerationService
from app.generation.client import ProxyClient
from app.render.encoder import Renderer
from app.render.timeline import RenderSettings
from app.startup import current_vault
vault = current_vault()
service = GenerationService(vault, ProxyClient())
renderer = Renderer(vault)

async def current(project_id, slot):
    return next((a for a in await vault.versions(project_id, slot) if a.current), None)
"""
SILENT_SCENE_MS = 1500
NARRATION = ("The vault opens at dawn.", None, "Nobody saw the moon leave.")

DURATION_JS = """async (url) => {
  const video = document.createElement("video");
  video.preload = "metadata";
  video.muted = true;
  video.src = url;
  await new Promise((ok, no) => { video.onloadedmetadata = ok; video.onerror = () => no(video.error); });
  return { duration: video.duration, width: video.videoWidth, height: video.videoHeight };
}"""


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


@pytest.fixture(scope="module")
def project(shared_app):
    """A 3-scene project with generated frames, narration on scenes 1 and 3, and a first render."""
    _, page = shared_app
    install_pagekit(page)
    made = py(page, f"""
        project = await vault.create_project("Moon heist", aspect_ratio="16:9")
        for story in {list(NARRATION)!r}:
            project = storyboard.add_scene(project, story or "A silent pause", "a vault door, night")
        await vault.save_project(project)
        frames, narrations = [], []
        for scene, story in zip(project.scenes, {list(NARRATION)!r}):
            slots = storyboard.scene_slots(scene)
            frame = await service.generate(project.id, "scene", slots["frame"],
                                           {{"prompt": scene["prompt"], "width": 512, "height": 288}})
            frames.append(frame.sha256)
            if story:
                voice = await service.generate(project.id, "audio", slots["narration"], {{"prompt": story}})
                narrations.append(voice.duration_ms)
        settings = RenderSettings.for_aspect("16:9", 360, default_scene_ms={SILENT_SCENE_MS})
        final = await renderer.render(project.id, settings)
        json.dumps({{"id": project.id, "frames": frames, "narrations": narrations,
                     "final": pagekit.view(final)}})
    """)
    made["expected_ms"] = sum(made["narrations"]) + SILENT_SCENE_MS
    return made


def test_the_rendered_video_is_stored_with_a_recipe_naming_every_input(vault_page, project):
    final = project["final"]
    assert (final["kind"], final["slot"], final["source"]) == ("video", "final", "rendered")
    assert final["mime_type"] == "video/webm" and (final["width"], final["height"]) == (640, 360)
    assert abs(final["duration_ms"] - project["expected_ms"]) <= 0.1 * project["expected_ms"]
    recipe = final["recipe"]
    assert [s["image"]["sha256"] for s in recipe["scenes"]] == project["frames"]
    assert [s["durationMs"] for s in recipe["scenes"]] == [
        project["narrations"][0], SILENT_SCENE_MS, project["narrations"][1]]
    assert recipe["scenes"][1]["narration"] is None
    assert recipe["settings"]["width"] == 640 and recipe["settings"]["transition"] == "crossfade"
    assert recipe["totalMs"] == project["expected_ms"]


def test_the_page_plays_the_video_for_the_sum_of_the_scene_durations(vault_page, project):
    url = run_python(vault_page, PRELUDE + f"""
blob = await vault.get_blob({project["final"]["id"]!r})
media.object_url(blob)
""")
    shown = vault_page.evaluate(DURATION_JS, url)
    vault_page.evaluate("url => URL.revokeObjectURL(url)", url)
    expected = project["expected_ms"] / 1000
    assert abs(shown["duration"] - expected) <= 0.1 * expected, shown
    assert (shown["width"], shown["height"]) == (640, 360)


def test_rendering_from_the_workspace_stores_a_new_version_that_ffprobe_reads(vault_page, project,
                                                                             tmp_path):
    page = vault_page
    open_route(page, "#/project/" + project["id"])
    panel = page.get_by_role("region", name="Render the final video")
    panel.get_by_label("Video size").select_option(label="1280×720")
    panel.get_by_label("Seconds per scene without narration").fill(str(SILENT_SCENE_MS / 1000))
    panel.get_by_role("button", name="Render video").click()
    page.get_by_role("status").filter(has_text="Rendered the final video").wait_for(timeout=120_000)
    final_card = page.locator("section.slot[data-slot='final']")
    assert "v2 of 2" in final_card.locator(".slot-status").inner_text()
    assert "1280×720" in final_card.locator(".slot-status").inner_text()
    final_card.get_by_role("button", name="Recipe of Final video").click()
    dialog = page.get_by_role("dialog", name="Recipe of Final video v2")
    assert '"kind": "render"' in dialog.locator("pre").inner_text()
    assert dialog.get_by_role("button", name="Reuse recipe").count() == 0  # not a generation form
    dialog.get_by_role("button", name="Close").click()
    final_card.get_by_role("button", name="History of Final video").click()
    history = page.get_by_role("dialog", name="History of Final video")
    posters = history.get_by_role("img", name="Final video version")
    posters.nth(1).wait_for(timeout=30_000)
    assert posters.count() == 2  # each rendered version shows its poster frame
    assert posters.first.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    history.get_by_role("button", name="Close").click()
    with page.expect_download() as download:
        final_card.get_by_role("button", name="Download Final video").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.suffix == ".webm"
    probe = ffprobe(path)
    video = [s for s in probe["streams"] if s["codec_type"] == "video"]
    audio = [s for s in probe["streams"] if s["codec_type"] == "audio"]
    assert [(s["codec_name"], s["width"], s["height"]) for s in video] == [("vp9", 1280, 720)]
    assert [s["codec_name"] for s in audio] == ["opus"]
    expected = project["expected_ms"] / 1000
    assert abs(float(probe["format"]["duration"]) - expected) <= 0.1 * expected
    assert probe["format"]["format_name"].startswith("matroska")


def test_the_rendered_webm_carries_its_title_recipe_and_ai_label_as_matroska_tags(vault_page, project,
                                                                                 tmp_path):
    data = py(vault_page, f"""
        final = await vault.get({project["final"]["id"]!r})
        data = await media.blob_bytes(await vault.get_blob(final.id))
        json.dumps({{"b64": base64.b64encode(data).decode(), "recipe": final.recipe,
                    "created_at": final.created_at, "sha256": final.sha256}})
    """)
    path = tmp_path / "final.webm"
    path.write_bytes(base64.b64decode(data["b64"]))
    # the render worker hashed the video as it read it back; the vault stored that digest
    assert hashlib.sha256(path.read_bytes()).hexdigest() == data["sha256"]
    probe = ffprobe(path)
    tags = movie_tags(probe)
    assert "SCENEVAULT_RECIPE" in tags, probe["format"]
    recipe = data["recipe"]
    assert recipe == project["final"]["recipe"] and recipe["title"] == "Moon heist"
    assert json.loads(tags["SCENEVAULT_RECIPE"]) == recipe  # exactly the stored recipe
    assert tags["TITLE"] == "Moon heist"
    assert tags["DESCRIPTION"].startswith("Moon heist: 3 scenes, ")
    assert tags["DIGITAL_SOURCE_TYPE"] == (
        "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia")
    assert tags["ENCODER"].startswith("SceneVault ") and "SCENEVAULT_RECIPE" in tags["COMMENT"]
    made_on = datetime.fromtimestamp(data["created_at"] / 1000, timezone.utc).date().isoformat()
    assert tags["DATE"] == made_on
    # the tags change nothing else: still a VP9 + Opus WebM of the recipe's length
    assert sorted(s["codec_name"] for s in probe["streams"]) == ["opus", "vp9"]
    expected = project["expected_ms"] / 1000
    assert abs(float(probe["format"]["duration"]) - expected) <= 0.1 * expected


def test_a_full_backup_carries_the_rendered_video_and_its_recipe(vault_page, project):
    exported = py(vault_page, f"""
        archive, name = await backups.export(vault, [{project["id"]!r}])
        json.dumps(base64.b64encode(await media.blob_bytes(archive)).decode())
    """)
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(exported))) as archive:
        manifest = json.loads(archive.read("scenevault.json"))
        videos = [a for a in manifest["assets"] if a["slot"] == "final"]
        first = next(a for a in videos if a["id"] == project["final"]["id"])
        data = archive.read(first["path"])
        names = [name for name in archive.namelist() if not name.endswith(".json")]  # no sidecars
    assert first["path"].endswith("/video/final-v1.webm")
    assert hashlib.sha256(data).hexdigest() == project["final"]["sha256"]
    assert first["recipe"] == project["final"]["recipe"]
    assert sum("/audio/" in name for name in names) == 2
    assert sum("/scenes/" in name for name in names) == 3


def test_a_project_without_narration_renders_a_video_without_audio(vault_page, tmp_path):
    data = py(vault_page, f"""
        project = await vault.create_project("Silent", aspect_ratio="9:16")
        project = storyboard.add_scene(project, "Still", "a quiet street")
        await vault.save_project(project)
        slot = storyboard.scene_slots(project.scenes[0])["frame"]
        await vault.put_asset(project.id, "scene", slot, pagekit.png(90, 160, (20, 90, 200)), "image/png")
        final = await renderer.render(project.id, RenderSettings.for_aspect("9:16", 360,
                                                                            default_scene_ms=1000))
        data = await media.blob_bytes(await vault.get_blob(final.id))
        await vault.delete_project(project.id)
        json.dumps(base64.b64encode(data).decode())
    """)
    path = tmp_path / "silent.webm"
    path.write_bytes(base64.b64decode(data))
    streams = ffprobe(path)["streams"]
    assert [(s["codec_type"], s["width"], s["height"]) for s in streams] == [("video", 360, 640)]


def test_scenes_that_are_not_ready_are_named_and_nothing_is_stored(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Unready")
        failures = [await pagekit.error_of(renderer.render(project.id, RenderSettings.for_aspect("16:9")))]
        project = storyboard.add_scene(project, "One", "first")
        project = storyboard.add_scene(project, "Two", "second")
        await vault.save_project(project)
        await vault.put_asset(project.id, "scene", storyboard.scene_slots(project.scenes[0])["frame"],
                              pagekit.png(64, 36), "image/png")
        failures.append(await pagekit.error_of(renderer.render(project.id,
                                                               RenderSettings.for_aspect("16:9"))))
        stored = [a.kind for a in await vault.list_assets(project.id)]
        await vault.delete_project(project.id)
        json.dumps({"failures": failures, "stored": stored})
    """)
    empty, unready = result["failures"]
    assert empty["type"] == "RenderError" and "no scenes" in empty["message"]
    assert unready["type"] == "RenderError" and "scene 2 has no frame image" in unready["message"]
    assert "scene 1" not in unready["message"]
    assert result["stored"] == ["scene"]


def test_cancel_stops_a_render_midway_and_stores_nothing(vault_page, project):
    page = vault_page
    open_route(page, "#/project/" + project["id"])
    panel = page.get_by_role("region", name="Render the final video")
    panel.get_by_label("Video size").select_option(label="1920×1080")
    before = py(page, f"json.dumps(len(await vault.versions({project['id']!r}, 'final')))")
    panel.get_by_role("button", name="Render video").click()
    bar = panel.get_by_role("progressbar", name="Render progress")
    page.wait_for_function("""() => {
        const panel = document.querySelector(".render-panel");
        return panel.dataset.state === "rendering" && panel.querySelector("progress").value >= 10;
    }""", timeout=60_000)
    seen = [bar.evaluate("bar => [bar.value, bar.max]") for _ in range(3)]
    panel.get_by_role("button", name="Cancel render").click()
    page.get_by_role("status").filter(has_text="Render cancelled").wait_for(timeout=60_000)
    assert panel.get_attribute("data-state") == "idle"
    assert all(0 < value < total for value, total in seen), seen
    after = py(page, f"json.dumps(len(await vault.versions({project['id']!r}, 'final')))")
    assert after == before


def test_a_recipe_only_backup_rerenders_once_its_images_are_regenerated(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Lost and found")
        for story in ("The lights go out.", ""):
            project = storyboard.add_scene(project, story, "a dark corridor")
        await vault.save_project(project)
        for scene in project.scenes:
            slots = storyboard.scene_slots(scene)
            await service.generate(project.id, "scene", slots["frame"],
                                   {"prompt": scene["prompt"], "width": 384, "height": 216})
            if scene["story"]:
                await service.generate(project.id, "audio", slots["narration"], {"prompt": scene["story"]})
        settings = RenderSettings.for_aspect("16:9", 360, default_scene_ms=1000)
        original = await renderer.render(project.id, settings)
        archive, _ = await backups.export(vault, [project.id], recipe_only=True)
        await vault.delete_project(project.id)          # every file of it is gone from this device
        report = await backups.import_archive(vault, archive)
        kinds = {a.id: a.kind for a in await vault.missing(project.id)}
        outcomes = await service.regenerate_missing(project.id)
        final = await current(project.id, "final")
        info = await media.inspect(await vault.get_blob(final.id), final.mime_type)
        out = {"missing_before": sorted(kinds.values()),
               "statuses": [(kinds[o.asset_id], o.status) for o in outcomes],
               "original": pagekit.view(original), "final": pagekit.view(final),
               "duration_ms": info.duration_ms, "width": info.width,
               "missing_after": [a.kind for a in await vault.missing(project.id)]}
        await vault.delete_project(project.id)
        json.dumps(out)
    """)
    assert result["missing_before"] == ["audio", "scene", "scene", "video"]
    assert result["statuses"][-1][0] == "video"  # re-rendered after its inputs came back
    generated = [status for kind, status in result["statuses"] if kind != "video"]
    assert generated == ["restored (identical)"] * 3
    (rendered,) = [status for kind, status in result["statuses"] if kind == "video"]
    assert rendered in ("restored (identical)", "re-rolled")
    final, original = result["final"], result["original"]
    assert final["source"] == "rendered" and final["recipe"] == original["recipe"]
    expected = original["recipe"]["totalMs"]
    assert abs(result["duration_ms"] - expected) <= 0.1 * expected and result["width"] == 640
    assert result["missing_after"] == ([] if rendered == "restored (identical)" else ["video"])
