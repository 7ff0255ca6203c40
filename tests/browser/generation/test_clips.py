"""Clips generated from scene frames with the default, in-page local motion clip: the Clip card's
Generate makes a clip from the scene's frame that plays in its slot, ffprobe reads it as a VP9
WebM of the recipe's size and length whose Matroska tags carry that recipe, its prompt and the AI
label, a lost clip comes back bit for bit from its recipe, a scene without a frame is refused
with nothing stored, and "Generate all empty" makes clips after their frames."""

import base64
import json
import textwrap
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from clipkit import ffprobe, movie_tags
from conftest import (EVICT_JS, AppPage, install_pagekit, is_loopback, open_route, run_python, vault_state,
                      wait_for_app_state)

PRELUDE = """
import base64, json, js, pagekit
from app.core import storyboard
from app.generation.service import GenerationService
from app.generation.client import ProxyClient
from app.backup import service as backups
from app.store import media
from app.startup import current_vault
vault = current_vault()
service = GenerationService(vault, ProxyClient())

async def current(project_id, slot):
    return next((a for a in await vault.versions(project_id, slot) if a.current), None)
"""
PLAYS_JS = """async (video) => {
  if (video.readyState < 1) await new Promise((ok, no) => {
    video.addEventListener("loadedmetadata", ok, { once: true });
    video.addEventListener("error", () => no(video.error), { once: true }); });
  video.muted = true;
  await video.play();
  await new Promise((ok) => setTimeout(ok, 300));
  const played = video.currentTime;
  video.pause();
  return { duration: video.duration, width: video.videoWidth, height: video.videoHeight, played };
}"""


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def reopen(page, project_id: str) -> None:
    """Show the project's workspace afresh (through the project list, so it renders again)."""
    page.evaluate("location.hash = '#/'")
    page.get_by_role("button", name="New project").wait_for()
    open_route(page, "#/project/" + project_id)


@pytest.fixture(scope="module")
def clip_page(browser, server):
    """This module's own context and page: clips, jobs and backups made here stay out of the
    page the other modules share."""
    context = browser.new_context()
    recorder = AppPage(context, server.url)
    context.on("request", lambda request: None if is_loopback(request.url)
               else recorder.outside_requests.append(request.url))
    page = recorder.open()
    assert wait_for_app_state(page) == "ready"
    install_pagekit(page)
    yield page
    context.close()
    assert recorder.outside_requests == [] and recorder.page_errors == []


@pytest.fixture
def vault_page(clip_page):
    """This module's page; the vault's invariants must hold after each test."""
    yield clip_page
    assert vault_state(clip_page)["problems"] == []


@pytest.fixture(scope="module")
def scenes(clip_page):
    """A 16:9 project of two scenes; only scene 1 has a frame."""
    page = clip_page
    return py(page, """
        project = await vault.create_project("Clips", aspect_ratio="16:9")
        project = storyboard.add_scene(project, "The harbour wakes", "a harbour at dawn")
        project = storyboard.add_scene(project, "Nobody came", "an empty pier")
        await vault.save_project(project)
        slots = [storyboard.scene_slots(s) for s in project.scenes]
        frame = await service.generate(project.id, "scene", slots[0]["frame"],
                                       {"prompt": "a harbour at dawn", "seed": 5,
                                        "width": 512, "height": 288})
        json.dumps({"id": project.id, "slots": slots, "frame": frame.sha256})
    """)


def test_a_clip_generated_from_the_frame_plays_in_its_slot(vault_page, scenes):
    page = vault_page
    open_route(page, "#/project/" + scenes["id"])
    card = page.locator(f"section.slot[data-slot='{scenes['slots'][0]['clip']}']")
    card.get_by_role("button", name="Generate Scene 1 clip").click()
    expect(card.locator(".slot-status")).to_contain_text("v1 of 1", timeout=60_000)
    shown = card.locator("video").evaluate(PLAYS_JS)
    assert abs(shown["duration"] - 5) <= 0.5, shown
    assert (shown["width"], shown["height"]) == (640, 360) and shown["played"] > 0
    clip = py(page, f"""
        clip = await current({scenes["id"]!r}, {scenes["slots"][0]["clip"]!r})
        json.dumps(pagekit.view(clip))
    """)
    assert (clip["kind"], clip["source"], clip["mime_type"]) == ("clip", "generated", "video/webm")
    recipe = clip["recipe"]
    assert (recipe["kind"], recipe["provider"], recipe["model"], recipe["seconds"]) == (
        "clip", "local", "motion", 5)
    assert recipe["input_sha256"] == scenes["frame"] and isinstance(recipe["seed"], int)
    assert (recipe["width"], recipe["height"]) == (640, 360)


def test_the_clip_options_set_its_length_and_seed(vault_page, scenes):
    page = vault_page
    open_route(page, "#/project/" + scenes["id"])
    card = page.locator(f"section.slot[data-slot='{scenes['slots'][0]['clip']}']")
    card.get_by_role("button", name="Generation options for Scene 1 clip").click()
    dialog = page.get_by_role("dialog")
    assert dialog.get_by_label("Provider", exact=True).input_value() == "local"
    dialog.get_by_label("Motion prompt").fill("a slow pan to the right")
    dialog.get_by_label("Seconds (1-10)").fill("2")
    dialog.get_by_label("Seed (empty: random)").fill("6")
    dialog.get_by_role("button", name="Generate", exact=True).click()
    dialog.wait_for(state="detached")
    expect(card.locator(".slot-status")).to_contain_text("2.0 s", timeout=60_000)
    recipe = py(page, f"""
        clip = await current({scenes["id"]!r}, {scenes["slots"][0]["clip"]!r})
        json.dumps(clip.recipe)
    """)
    assert (recipe["seconds"], recipe["seed"], recipe["prompt"]) == (2, 6, "a slow pan to the right")


def test_the_local_motion_clip_is_a_vp9_webm_tagged_with_its_recipe(vault_page, scenes, tmp_path):
    made = py(vault_page, f"""
        clip = await service.generate({scenes["id"]!r}, "clip", {scenes["slots"][0]["clip"]!r},
                                      {{"prompt": "push in", "seed": 4, "seconds": 2}})
        blob = await vault.get_blob(clip.id)
        data = (await blob.arrayBuffer()).to_bytes()
        json.dumps({{"b64": base64.b64encode(data).decode(), "recipe": clip.recipe,
                    "version": clip.version, "created_at": clip.created_at}})
    """)
    path = tmp_path / "clip.webm"
    path.write_bytes(base64.b64decode(made["b64"]))
    probed = ffprobe(path)
    streams = probed["streams"]
    assert [s["codec_type"] for s in streams] == ["video"]  # a motion clip has no sound
    assert (streams[0]["codec_name"], streams[0]["width"], streams[0]["height"]) == ("vp9", 640, 360)
    assert abs(float(probed["format"]["duration"]) - 2) <= 0.2, probed["format"]
    assert made["recipe"]["seconds"] == 2 and made["recipe"]["seed"] == 4 and made["version"] >= 2
    tags = movie_tags(probed)
    assert "SCENEVAULT_RECIPE" in tags, probed["format"]
    assert json.loads(tags["SCENEVAULT_RECIPE"]) == made["recipe"]  # exactly the stored recipe
    assert tags["TITLE"] == "Motion clip: pan, 2 s, 640×360"  # seed 4: a reversed pan
    assert tags["DESCRIPTION"] == "push in"  # the prompt
    assert tags["DIGITAL_SOURCE_TYPE"] == (
        "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia")
    assert tags["ENCODER"].startswith("SceneVault ") and "SCENEVAULT_RECIPE" in tags["COMMENT"]
    made_on = datetime.fromtimestamp(made["created_at"] / 1000, timezone.utc).date().isoformat()
    assert tags["DATE"] == made_on


def test_a_lost_clip_is_restored_bit_for_bit_from_its_recipe(vault_page, scenes):
    made = py(vault_page, f"""
        clip = await service.generate({scenes["id"]!r}, "clip", {scenes["slots"][0]["clip"]!r},
                                      {{"prompt": "drift", "seed": 8, "seconds": 1}})
        json.dumps({{"id": clip.id, "sha": clip.sha256}})
    """)
    vault_page.evaluate(EVICT_JS, made["sha"])
    result = py(vault_page, f"""
        lost = await vault.get(({made["id"]!r}))
        outcome = await service.regenerate_asset(lost)
        blob = await vault.get_blob({made["id"]!r})
        json.dumps({{"status": outcome.status, "sha": await media.sha256_hex(blob),
                    "missing": [a.id for a in await vault.missing({scenes["id"]!r})]}})
    """)
    assert result == {"status": "restored (identical)", "sha": made["sha"], "missing": []}


def test_a_recipe_only_backup_brings_the_frame_back_then_the_clip_made_from_it(vault_page):
    result = py(vault_page, """
        project = await vault.create_project("Backed up clips", aspect_ratio="16:9")
        project = storyboard.add_scene(project, "The tide turns", "a beach at dusk")
        await vault.save_project(project)
        slots = storyboard.scene_slots(project.scenes[0])
        frame = await service.generate(project.id, "scene", slots["frame"],
                                       {"prompt": "a beach at dusk", "width": 384, "height": 216})
        clip = await service.generate(project.id, "clip", slots["clip"],
                                      {"prompt": "drift", "seconds": 1})
        archive, _ = await backups.export(vault, [project.id], recipe_only=True)
        await vault.delete_project(project.id)       # every file of it is gone from this device
        await backups.import_archive(vault, archive)
        kinds = {a.id: a.kind for a in await vault.missing(project.id)}
        outcomes = await service.regenerate_missing(project.id)
        back = await current(project.id, slots["clip"])
        out = {"statuses": [[kinds[o.asset_id], o.status] for o in outcomes],
               "recipe": back.recipe == clip.recipe, "sha": back.sha256 == clip.sha256,
               "left": len(await vault.missing(project.id))}
        await vault.delete_project(project.id)
        json.dumps(out)
    """)
    assert result["statuses"] == [["scene", "restored (identical)"], ["clip", "restored (identical)"]]
    assert result["recipe"] and result["sha"] and result["left"] == 0


def test_a_scene_without_a_frame_gets_no_clip_and_is_told_why(vault_page, scenes):
    result = py(vault_page, f"""
        error = await pagekit.error_of(service.generate(
            {scenes["id"]!r}, "clip", {scenes["slots"][1]["clip"]!r}, {{"prompt": "pan"}}))
        json.dumps({{"error": error, "versions": len(await vault.versions(
            {scenes["id"]!r}, {scenes["slots"][1]["clip"]!r}))}})
    """)
    assert result["error"]["type"] == "RecipeError" and result["versions"] == 0
    assert "no frame yet" in result["error"]["message"]


def test_generate_all_empty_makes_each_clip_from_the_frame_made_just_before(vault_page):
    page = vault_page
    made = py(page, """
        project = await vault.create_project("All at once", aspect_ratio="9:16")
        project = storyboard.add_scene(project, "A fox waits", "a fox in the snow")
        await vault.save_project(project)
        json.dumps({"id": project.id, "slots": storyboard.scene_slots(project.scenes[0])})
    """)
    open_route(page, "#/project/" + made["id"])
    page.get_by_role("button", name="Generate all empty").click()
    outcome = page.get_by_role("status").filter(has_text="Generated").or_(page.get_by_role("alert"))
    outcome.first.wait_for(timeout=120_000)
    assert "Generated 4 files." in outcome.first.inner_text()  # thumbnail, frame, clip, narration
    result = py(page, f"""
        frame = await current({made["id"]!r}, {made["slots"]["frame"]!r})
        clip = await current({made["id"]!r}, {made["slots"]["clip"]!r})
        json.dumps({{"frame": frame.sha256, "clip": clip.recipe}})
    """)
    assert result["clip"]["input_sha256"] == result["frame"]
    assert (result["clip"]["width"], result["clip"]["height"]) == (360, 640)


def test_history_and_recipe_work_for_generated_clips(vault_page, scenes):
    page = vault_page
    open_route(page, "#/project/" + scenes["id"])
    card = page.locator(f"section.slot[data-slot='{scenes['slots'][0]['clip']}']")
    card.get_by_role("button", name="Recipe of Scene 1 clip").click()
    dialog = page.get_by_role("dialog")
    recipe = json.loads(dialog.locator("pre.recipe").inner_text())
    assert (recipe["kind"], recipe["provider"], recipe["input_sha256"]) == ("clip", "local", scenes["frame"])
    assert dialog.get_by_role("button", name="Reuse recipe").count() == 1
    dialog.get_by_role("button", name="Close").click()
    dialog.wait_for(state="detached")
    card.get_by_role("button", name="History of Scene 1 clip").click()
    history = page.get_by_role("dialog")
    expect(history.get_by_role("heading", name="History of Scene 1 clip")).to_be_visible()
    rows = history.locator("li.history-row")
    assert rows.count() >= 2 and history.locator("li.history-row img").count() == rows.count()  # posters
    history.get_by_role("button", name="Compare version 1 with current").click()
    compared = history.get_by_role("group", name="Side-by-side comparison").locator("video")
    expect(compared).to_have_count(2)
    sizes = compared.evaluate_all("""vs => Promise.all(vs.map(v => v.readyState >= 1
        ? [v.videoWidth, v.videoHeight]
        : new Promise(ok => v.onloadedmetadata = () => ok([v.videoWidth, v.videoHeight]))))""")
    assert sizes == [[640, 360], [640, 360]]
    history.get_by_role("button", name="Close").click()
    history.wait_for(state="detached")


def test_a_job_the_server_lost_keeps_its_recipe_and_generates_again_in_one_click(vault_page, scenes):
    page = vault_page
    slot = scenes["slots"][1]["clip"]
    py(page, f"""
        from app.generation.clips import ClipService
        from app.store.jobs import PendingJob
        recipe = {{"kind": "clip", "prompt": "a slow pan", "provider": "local", "model": "motion",
                   "seed": 2, "seconds": 1, "width": 640, "height": 360,
                   "input_sha256": {scenes["frame"]!r}, "version": 1}}
        await vault.add_job(PendingJob("job_" + "f" * 32, {scenes["id"]!r}, "clip", {slot!r}, recipe))
        failed = []
        await ClipService(vault, ProxyClient()).resume(on_failed=lambda job, error: failed.append(str(error)))
        json.dumps(failed)
    """)
    reopen(page, scenes["id"])
    card = page.locator(f"section.slot[data-slot='{slot}']")
    expect(card.get_by_role("alert")).to_contain_text("no longer knows job")
    assert card.get_attribute("data-job") == "lost"
    # the lost job's recipe (seed 2, 1 s) is made again with one click, here by the page itself
    # once the scene has a frame to make it from
    py(page, f"""
        frame = await service.generate({scenes["id"]!r}, "scene", {scenes["slots"][1]["frame"]!r},
                                       {{"prompt": "an empty pier", "seed": 9, "width": 512, "height": 288}})
        json.dumps(frame.sha256)
    """)
    reopen(page, scenes["id"])
    card.get_by_role("button", name="Generate Scene 2 clip again").click()
    expect(card.locator(".slot-status")).to_contain_text("1.0 s", timeout=60_000)
    assert card.get_attribute("data-job") == "none"
    after = py(page, f"""
        clip = await current({scenes["id"]!r}, {slot!r})
        json.dumps({{"seed": clip.recipe["seed"], "seconds": clip.recipe["seconds"],
                    "jobs": len(await vault.pending_jobs({scenes["id"]!r}))}})
    """)
    assert after == {"seed": 2, "seconds": 1, "jobs": 0}


HOLD_JOB_READS = """
import asyncio
held_entered, held_release = asyncio.Event(), asyncio.Event()
held_original = vault.pending_jobs

async def held_pending_jobs(*args, **kwargs):
    if args == (HELD_PROJECT,):  # the card's own read; anyone else passes straight through
        held_entered.set()
        await held_release.wait()
    return await held_original(*args, **kwargs)

vault.pending_jobs = held_pending_jobs
json.dumps("held")
"""


def test_a_card_changes_in_one_step_its_status_never_runs_ahead_of_its_job_note(vault_page):
    """The card reads everything before it changes anything: while its read of the jobs is
    still pending, the status must not already describe the new clip beside the old job note
    (CI once read the new clip's length with the lost job's mark still on the card)."""
    page = vault_page
    made = py(page, """
        from app.generation.clips import ClipService
        from app.store.jobs import PendingJob
        project = await vault.create_project("One step")
        project = await vault.save_project(storyboard.add_scene(project, "A pier", "a pier"))
        slots = storyboard.scene_slots(project.scenes[0])
        frame = await vault.put_asset(project.id, "scene", slots["frame"],
                                      pagekit.png(320, 180, (30, 90, 160)), "image/png")
        recipe = {"kind": "clip", "prompt": "a pan", "provider": "fal", "model": "m", "seed": 1,
                  "seconds": 1, "width": 640, "height": 360, "input_sha256": frame.sha256,
                  "version": 1}
        await vault.add_job(PendingJob("job_" + "e" * 32, project.id, "clip", slots["clip"],
                                       recipe, state="lost", message="The server lost it."))
        json.dumps({"id": project.id, "clip": slots["clip"]})
    """)
    open_route(page, "#/project/" + made["id"])
    card = page.locator(f"section.slot[data-slot='{made['clip']}']")
    expect(card.locator(".slot-status")).to_have_text("No file yet")
    assert card.get_attribute("data-job") == "lost"
    py(page, f"""
        from app.generation.clips import ClipService
        await ClipService(vault).generate({made["id"]!r}, {made["clip"]!r},
                                        {{"prompt": "a slow pan", "seed": 3, "seconds": 1}})
        json.dumps(0)
    """)  # stored behind the card's back: it shows it on its next render
    assert py(page, f"HELD_PROJECT = {made['id']!r}\n" + HOLD_JOB_READS) == "held"
    try:
        card.get_by_role("button", name="Dismiss the failed job of Scene 1 clip").click()
        py(page, "await held_entered.wait(); json.dumps(0)")
        assert card.locator(".slot-status").inner_text() == "No file yet"
        assert card.get_attribute("data-job") == "lost"
    finally:
        py(page, "held_release.set(); del vault.pending_jobs; json.dumps(0)")
    expect(card.locator(".slot-status")).to_contain_text("v1 of 1")
    assert card.get_attribute("data-job") == "none"
    py(page, f"await vault.delete_project({made['id']!r}); json.dumps(0)")
