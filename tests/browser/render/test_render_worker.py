"""The render runs in a dedicated Worker and streams into a temporary Origin Private File System
file: the workspace's panel says per scene what will be used before rendering, the render
happens in the worker (Playwright sees it; the worker says so) while the page answers, a
cancelled render stores nothing and leaves no temporary file, a crashed render's leftovers are
swept by the next one, and bad clips end in a RenderError naming the scene, with nothing
stored: a truncated WebM, a sound-only WebM, a clip deleted while rendering."""

import base64
import json
import re
import textwrap

import pytest
from playwright.sync_api import expect

from cutkit import make_cut_clips
from conftest import install_pagekit, open_route, run_python

PRELUDE = """
import asyncio, base64, json, js, pagekit
from pyscript.js_modules import sv_render
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
SETTINGS = RenderSettings.for_aspect("16:9", 360, default_scene_ms=1000)

async def project_with(title, clips):
    # One scene per entry of `clips` (None or [b64, mime]): a frame image, and the clip if any.
    project = await vault.create_project(title, aspect_ratio="16:9")
    for n in range(len(clips)):
        project = storyboard.add_scene(project, f"Scene {n + 1}", "a picture")
    await vault.save_project(project)
    stored = []
    for scene, clip in zip(project.scenes, clips):
        slots = storyboard.scene_slots(scene)
        await vault.put_asset(project.id, "scene", slots["frame"], pagekit.png(160, 90, (40, 90, 200)),
                              "image/png")
        stored.append(clip and await vault.put_asset(project.id, "clip", slots["clip"],
                                                     base64.b64decode(clip[0]), clip[1],
                                                     source="imported"))
    return project, stored

async def finals(project_id):
    return len(await vault.versions(project_id, "final"))

class Token:
    cancelled = False
"""
TEMP_FILES_JS = """async () => {
  const root = await navigator.storage.getDirectory();
  let directory;
  try { directory = await root.getDirectoryHandle("scenevault-render"); } catch { return []; }
  const names = [];
  for await (const [name] of directory.entries()) names.push(name);
  return names;
}"""
LEFTOVER_JS = """async () => {
  const root = await navigator.storage.getDirectory();
  const directory = await root.getDirectoryHandle("scenevault-render", { create: true });
  const handle = await directory.getFileHandle("render-crashed.webm", { create: true });
  const writable = await handle.createWritable();
  await writable.write(new Uint8Array(4096));
  await writable.close();
}"""


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


def clip_arg(clip) -> list:
    return [base64.b64encode(clip.data).decode(), clip.mime_type]


def temp_files(page) -> list[str]:
    return page.evaluate(TEMP_FILES_JS)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return make_cut_clips(tmp_path_factory.mktemp("bad"))


def test_the_panel_says_what_each_scene_uses_and_the_render_runs_in_a_worker(vault_page, clips):
    page = vault_page
    made = py(page, f"""
        project, stored = await project_with("Panel", [None, {clip_arg(clips["red"])!r}])
        slots = storyboard.scene_slots(project.scenes[1])
        await service.generate(project.id, "audio", slots["narration"], {{"prompt": "Hello there."}})
        project = storyboard.add_scene(project, "Empty", "nothing yet")
        await vault.save_project(project)
        json.dumps({{"id": project.id, "clip_ms": stored[1].duration_ms}})
    """)
    open_route(page, "#/project/" + made["id"])
    panel = page.get_by_role("region", name="Render the final video")
    plan = panel.get_by_role("list", name="What each scene will use")
    items = plan.get_by_role("listitem")
    items.nth(2).wait_for()
    lines = items.all_inner_texts()
    clip_s = made["clip_ms"] / 1000
    assert lines[0] == "Scene 1: frame image, silence: 4.0 s"
    assert re.fullmatch(rf"Scene 2: clip \({clip_s:.1f} s\), narration \(\d\.\d s\) over the "
                        rf"clip's own sound: {clip_s:.1f} s", lines[1]), lines[1]
    assert lines[2].startswith("Scene 3 has no frame image or clip")
    panel.get_by_label("Seconds per scene without narration").fill("1.5")
    panel.get_by_label("Seconds per scene without narration").dispatch_event("change")
    page.wait_for_function("""() => document.querySelector(".render-plan li").textContent
                                    === "Scene 1: frame image, silence: 1.5 s" """)
    # The empty scene keeps the video from rendering: say so, store nothing.
    py(page, f"""
        project = await vault.get_project({made["id"]!r})
        project = storyboard.remove_scene(project, project.scenes[2]["id"])
        await vault.save_project(project)
        json.dumps(0)
    """)
    with page.expect_worker(lambda worker: worker.url.endswith("/static/js/render/worker.mjs"),
                            timeout=60_000):
        panel.get_by_role("button", name="Render video").click()
    # the page's own thread is free while the worker renders: it runs script and paints
    assert page.evaluate("() => new Promise(done => requestAnimationFrame(() => done(true)))")
    page.get_by_role("status").filter(has_text="Rendered the final video").wait_for(timeout=120_000)
    info = py(page, "json.dumps(sv_render.lastRenderInfo().to_py())")
    assert info["inWorker"] is True and info["size"] > 0
    assert temp_files(page) == []  # the streamed file was read back and removed


HOLD_PROJECT_READS = """
held_entered, held_release = asyncio.Event(), asyncio.Event()
held_original = vault.get_project

async def held_get_project(project_id):
    held_entered.set()
    await held_release.wait()
    return await held_original(project_id)

vault.get_project = held_get_project
json.dumps("held")
"""


def test_an_option_changed_while_the_plan_is_being_read_is_not_lost(vault_page):
    """Focus refreshes the plan; a change made while that read is still in flight must show
    too (the read in flight took the options from before the change)."""
    page = vault_page
    made = py(page, """
        project, _ = await project_with("Plan race", [None])
        json.dumps({"id": project.id})
    """)
    open_route(page, "#/project/" + made["id"])
    panel = page.get_by_role("region", name="Render the final video")
    first = panel.get_by_role("list", name="What each scene will use").get_by_role("listitem").first
    expect(first).to_have_text("Scene 1: frame image, silence: 4.0 s")
    seconds = panel.get_by_label("Seconds per scene without narration")
    assert py(page, HOLD_PROJECT_READS) == "held"
    try:
        seconds.focus()  # focusin: a refresh starts, and waits on the held read
        py(page, "await held_entered.wait(); json.dumps(0)")
        seconds.fill("1.5")
        seconds.dispatch_event("change")
    finally:
        py(page, "held_release.set(); del vault.get_project; json.dumps(0)")
    expect(first).to_have_text("Scene 1: frame image, silence: 1.5 s")
    py(page, f"await vault.delete_project({made['id']!r}); json.dumps(0)")


def test_cancel_stores_nothing_and_leaves_no_temporary_file(vault_page, clips):
    result = py(vault_page, f"""
        project, _ = await project_with("Cancel", [{clip_arg(clips["long"])!r}, None])
        token = Token()
        seen = []
        def progress(done, total):
            seen.append(done)
            if done > 0:
                token.cancelled = True
        error = await pagekit.error_of(renderer.render(project.id, SETTINGS, on_progress=progress,
                                                       cancel=token))
        json.dumps({{"error": error, "finals": await finals(project.id), "seen": seen}})
    """)
    assert result["error"]["type"] == "RenderCancelled"
    assert any(done > 0 for done in result["seen"])
    assert result["finals"] == 0
    assert temp_files(vault_page) == []


def test_a_crashed_renders_leftover_is_swept_by_the_next_render(vault_page):
    vault_page.evaluate(LEFTOVER_JS)
    assert temp_files(vault_page) == ["render-crashed.webm"]
    stored = py(vault_page, """
        project, _ = await project_with("Sweep", [None])
        await renderer.render(project.id, SETTINGS)
        json.dumps(await finals(project.id))
    """)
    assert stored == 1
    assert temp_files(vault_page) == []


def test_a_truncated_clip_is_named_and_nothing_is_stored(vault_page, clips):
    result = py(vault_page, f"""
        project, _ = await project_with("Truncated", [None, {clip_arg(clips["truncated"])!r}])
        error = await pagekit.error_of(renderer.render(project.id, SETTINGS))
        json.dumps({{"error": error, "finals": await finals(project.id)}})
    """)
    assert result["error"]["type"] == "RenderError", result
    assert "scene 2's clip is damaged or cut short" in result["error"]["message"], result
    assert result["finals"] == 0
    assert temp_files(vault_page) == []


def test_a_clip_without_a_video_track_is_named(vault_page, clips):
    """A sound-only WebM cannot be imported as a clip, but a render recipe can name one by its
    SHA-256 (here: the same bytes stored as narration)."""
    result = py(vault_page, f"""
        project, _ = await project_with("Sound only", [None, None])
        sound = await vault.put_asset(project.id, "audio",
                                      storyboard.scene_slots(project.scenes[0])["narration"],
                                      base64.b64decode({clip_arg(clips["sound-only"])[0]!r}),
                                      "audio/webm", source="imported")
        plan = await renderer.plan(project.id, SETTINGS)
        recipe = plan.to_recipe()
        recipe["scenes"][1]["clip"] = {{"assetId": sound.id, "sha256": sound.sha256,
                                       "durationMs": recipe["scenes"][1]["durationMs"]}}
        error = await pagekit.error_of(renderer.rerender(recipe))
        json.dumps({{"error": error, "finals": await finals(project.id)}})
    """)
    assert result["error"]["type"] == "RenderError"
    assert "scene 2's clip has no video track" in result["error"]["message"], result
    assert result["finals"] == 0
    assert temp_files(vault_page) == []


def test_a_clip_deleted_while_rendering_is_named_and_nothing_is_stored(vault_page, clips):
    result = py(vault_page, f"""
        project, stored = await project_with("Deleted", [None, {clip_arg(clips["long"])!r}])
        deleting = []
        def progress(done, total):
            if done > 0 and not deleting:
                deleting.append(asyncio.ensure_future(vault.delete_asset(stored[1].id)))
        error = await pagekit.error_of(renderer.render(project.id, SETTINGS, on_progress=progress))
        await deleting[0]
        json.dumps({{"error": error, "finals": await finals(project.id)}})
    """)
    assert result["error"]["type"] == "RenderError"
    assert "scene 2 was deleted while the video was rendering" in result["error"]["message"], result
    assert result["finals"] == 0
    assert temp_files(vault_page) == []
