"""Rendering video (browser): the final video, and the local motion clip a scene's frame becomes
(`encode_motion_clip`, app/render/motion.py). Python owns the timeline: it gathers a project's
current scene frames, clips and narration, lays them out with app/render/timeline.py and turns
the plan into one typed array of per-frame layers (`frame_table`). The pixels never touch the
page's main thread: static/js/bridge/render.mjs starts a dedicated module Worker
(static/js/render/worker.mjs) that decodes the images and clips (WebCodecs through Mediabunny),
composites each frame on an OffscreenCanvas and encodes VP9 + Opus into a WebM; the page only
mixes the sound (narration, and each clip's own sound ducked under it) in an OfflineAudioContext,
which renders off the main thread too, and transfers the samples to the worker.

The WebM is streamed as it is encoded into a temporary Origin Private File System file, so memory
does not grow with the video's length; once finished, the worker reads it back into the Blob
`encode` returns (4 MB at a time) and removes the file, which `render` then stores in IndexedDB.
A cancelled or failed render removes its own file; a crashed render's leftovers are swept at the
next render. Python polls the job every POLL_S for progress and Cancel, which stops the worker
within a second.

Every WebM carries Matroska tags made from the recipe stored with it (app/render/tags.py: title,
description, the recipe JSON, the AI label, the app, the day): they are written once, with the
file's header, and a re-render passes the lost asset's `created_at` so the tags come out the same.

    renderer = Renderer(vault)
    settings = RenderSettings.for_aspect(project.aspect_ratio, 720)
    lines = await renderer.summary(project.id, settings)    # per scene: clip or frame, how long
    asset = await renderer.render(project.id, settings, on_progress=bar.update, cancel=token)
    blob = await renderer.rerender(lost_asset.recipe, made_at_ms=lost_asset.created_at)
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

import js
from pyodide.ffi import JsException, to_js
from pyscript.js_modules import sv_render

from app.core import storyboard
from app.core.errors import RecipeError, RenderCancelled, RenderError
from app.core.model import now_ms
from app.render.motion import MotionPlan
from app.render.tags import matroska_tags, title_of
from app.render.timeline import (AUDIO_SAMPLE_RATE, FRAME_LAYERS, LAYER_FIELDS, OUTPUT_TYPE,
                                 ClipInput, NarrationInput, RenderPlan, RenderSettings,
                                 SceneInput, describe_scene, plan_render)

MEDIABUNNY = "static/vendor/mediabunny/mediabunny.min.mjs"  # the worker imports it (relative URL)
POLL_S = 0.1          # how often Python reads the job's progress and the Cancel button
TABLE_BATCH = 12      # frames of the layer table computed at a time ...
SLICE_S = 0.008       # ... until this long has passed, then the page gets its turn
OnProgress = Callable[[int, int], None]
# The JS half is static/js/bridge/render.mjs (pyscript.toml loads it as `sv_render`), which runs
# static/js/render/worker.mjs; the worker imports MEDIABUNNY, so start-up never pays for it.


class Renderer:
    """Renders a project's scenes from `vault` into its `final` slot."""

    def __init__(self, vault):
        self.vault = vault

    async def _scenes(self, project_id: str) -> list[tuple[int, SceneInput | None, list[str]]]:
        """(number, input or None, problems) for every scene of the project, in order."""
        project = await self.vault.get_project(project_id)
        current = {a.slot: a for a in await self.vault.list_assets(project_id) if a.current}
        absent = {a.id for a in await self.vault.missing(project_id)}
        found = []
        for number, scene in enumerate(project.scenes, 1):
            slots = storyboard.scene_slots(scene)
            frame, narration = current.get(slots["frame"]), current.get(slots["narration"])
            clip = current.get(slots["clip"])
            problems = []
            if frame is None and clip is None:
                problems.append(" has no frame image or clip (generate or import one)")
            for asset, what in ((clip, "clip"), (frame if clip is None else None, "frame image"),
                                (narration, "narration")):
                if asset is not None and asset.id in absent:
                    problems.append(f"'s {what} is missing on this device (regenerate it)")
                elif asset is not None and what != "frame image" and not asset.duration_ms:
                    problems.append(f"'s {what} has no known length (import it again)")
            if problems:
                found.append((number, None, problems))
                continue
            voice = narration and NarrationInput(narration.id, narration.sha256, narration.duration_ms)
            movie = clip and ClipInput(clip.id, clip.sha256, clip.duration_ms)
            image = None if clip is not None else frame  # a clip stands in for the frame
            found.append((number, SceneInput(scene["id"], image and image.id, image and image.sha256,
                                             voice, movie), []))
        return found

    async def plan(self, project_id: str, settings: RenderSettings) -> RenderPlan:
        """The timeline of the project's current scene clips (else frame images) and narration.
        Raises RenderError listing every scene that is not ready (nothing to show, or media
        missing on this device)."""
        scenes = await self._scenes(project_id)
        problems = [f"scene {n}{problem}" for n, _, found in scenes for problem in found]
        if not scenes:
            problems.append("the project has no scenes yet (add scenes with frame images or clips)")
        if problems:
            raise RenderError("The video cannot be rendered yet: " + "; ".join(problems) + ".")
        try:
            return plan_render([scene for _, scene, _ in scenes], settings)
        except RecipeError as exc:
            raise RenderError(f"The video cannot be rendered: {exc}") from None

    async def summary(self, project_id: str, settings: RenderSettings) -> list[str]:
        """One line per scene, before rendering: what it will use (clip or frame image,
        narration or silence) and for how long, or what keeps it from rendering."""
        lines = []
        for number, scene, problems in await self._scenes(project_id):
            if problems:
                lines.append("; ".join(f"Scene {number}{problem}" for problem in problems))
            else:
                lines.append(describe_scene(plan_render([scene], settings).scenes[0], number))
        return lines

    async def render(self, project_id: str, settings: RenderSettings,
                     on_progress: OnProgress | None = None, cancel=None):
        """Render and store the video as the project's current `final` (source `rendered`). Its
        recipe names the project's title too (`title`), which the file's tags carry. A clip
        deleted while rendering raises RenderError naming its scene, with nothing stored."""
        plan = await self.plan(project_id, settings)
        project = await self.vault.get_project(project_id)
        recipe = plan.to_recipe() | ({"title": project.title} if project.title else {})
        made_at = now_ms()
        blob = await self.encode(plan, on_progress, cancel, tags=recipe_tags(recipe, made_at))
        await self._check_still_there(project_id, plan)
        return await self.vault.put_asset(project_id, "video", "final", blob, OUTPUT_TYPE,
                                          recipe=recipe, source="rendered", created_at=made_at)

    async def _check_still_there(self, project_id: str, plan: RenderPlan) -> None:
        clips = [(n, s.clip) for n, s in enumerate(plan.scenes, 1) if s.clip]
        if not clips:
            return
        ids = {a.id for a in await self.vault.list_assets(project_id)}
        present = await self.vault.blobs_by_sha256([clip.sha256 for _, clip in clips])
        gone = [n for n, clip in clips if clip.asset_id not in ids or clip.sha256 not in present]
        if gone:
            raise RenderError(f"The clip of scene {', '.join(map(str, gone))} was deleted while the "
                              "video was rendering; nothing was stored. Render again to use what "
                              "the scenes hold now.")

    async def rerender(self, recipe: dict, on_progress: OnProgress | None = None, cancel=None,
                       made_at_ms: int | None = None):
        """The video a render recipe (version 1 or 2) describes, from the inputs it names by
        SHA-256; its tags are dated `made_at_ms` (the lost asset's `created_at`, so the bytes
        can match)."""
        try:
            plan = RenderPlan.from_recipe(recipe)
        except RecipeError as exc:
            raise RenderError(f"The render recipe is damaged ({exc}); render the video again "
                              "from the workspace") from None
        return await self.encode(plan, on_progress, cancel,
                                 tags=recipe_tags(recipe, made_at_ms))

    async def encode(self, plan: RenderPlan, on_progress: OnProgress | None = None, cancel=None,
                     tags: dict[str, str] | None = None):
        """The WebM Blob of `plan`, carrying the Matroska `tags` (name -> text). Cancelling
        (cancel.cancelled) raises
        RenderCancelled; an input that is missing or cannot be decoded, RenderError naming
        its scene."""
        report = on_progress or (lambda done, total: None)
        blobs = await self.vault.blobs_by_sha256(plan.input_hashes())
        lost = plan.scene_inputs_missing(blobs)
        if lost:
            raise RenderError(f"This video needs media that is not on this device ({', '.join(lost)});"
                              " regenerate or import them first, then render again")
        scenes = plan.scenes
        spec = {"images": [s.image_sha256 and blobs[s.image_sha256] for s in scenes],
                "clips": [s.clip and blobs[s.clip.sha256] for s in scenes],
                "narration": [[blobs[s.narration.sha256], s.start_ms / 1000, n]
                              for n, s in enumerate(scenes, 1) if s.narration],
                "clipSounds": [[c.scene, c.start_ms / 1000, c.end_ms / 1000,
                                [list(point) for point in c.envelope]] for c in plan.clip_sounds()],
                "audioSeconds": plan.audio_ms / 1000}
        return await encode_frames(plan.settings, spec, plan.frame_count, plan.frame_table,
                                   report, cancel, tags)


def recipe_tags(recipe: dict, made_at_ms: int | None) -> dict[str, str]:
    """The Matroska tags of the media `recipe` (a render or a local clip recipe) describes, as
    the vault stores it, first made at `made_at_ms`."""
    return matroska_tags(recipe, title_of(recipe), made_at_ms)


async def encode_motion_clip(plan: MotionPlan, frame_blob, on_progress: OnProgress | None = None,
                             cancel=None, tags: dict[str, str] | None = None):
    """The WebM Blob of a local motion clip (app/render/motion.py) made from `frame_blob`, by the
    final video's render worker, carrying `tags` (`recipe_tags` of its clip recipe). Raises
    RenderCancelled or RenderError, like a render."""
    def rows(start: int, stop: int) -> list[float]:
        table = []
        for frame in range(start, stop):
            table += plan.layers(frame) + (-1.0,)
            table += (-1.0, 0.0, 1.0, 0.0, 0.0, -1.0) * (FRAME_LAYERS - 1)
        return table

    spec = {"images": [frame_blob], "clips": [None], "narration": [], "clipSounds": [],
            "audioSeconds": plan.seconds}
    return await encode_frames(plan.settings, spec, plan.frame_count, rows,
                               on_progress or (lambda done, total: None), cancel, tags)


async def encode_frames(settings: RenderSettings, spec: dict, total: int, rows, report: OnProgress,
                        cancel=None, tags: dict[str, str] | None = None):
    """Render `total` frames in the worker: `rows(start, stop)` gives their layer table (the
    timeline's `frame_table` layout), `spec` the media (images, clips, narration, clipSounds,
    audioSeconds; see static/js/bridge/render.mjs). The WebM Blob, whose Matroska tags are
    `tags`. Cancelling (cancel.cancelled) raises RenderCancelled; a
    failure, RenderError."""
    report(0, total)
    table = await _layer_table(rows, total)
    as_object = js.Object.fromEntries
    job = sv_render.start(to_js(spec | {
        "settings": settings.to_dict(), "sampleRate": AUDIO_SAMPLE_RATE, "table": table,
        "frames": total, "tags": tags or {}, "outputType": OUTPUT_TYPE}, dict_converter=as_object))
    waiter = asyncio.ensure_future(_settled(job.result))
    shown = 0
    while not waiter.done():
        await asyncio.wait([waiter], timeout=POLL_S)
        if cancel is not None and cancel.cancelled:
            job.cancel()
        if job.done != shown and not waiter.done():
            shown = job.done
            report(shown, total)
    try:
        blob = waiter.result()
    except JsException as exc:
        if exc.name == "AbortError":
            raise RenderCancelled() from None
        what = {"NotSupportedError": "This browser cannot render this video"}.get(
            exc.name, "The video could not be rendered")
        raise RenderError(f"{what}: {exc.message}. Nothing was stored.") from None
    if cancel is not None and cancel.cancelled:  # finished as Cancel was pressed: honour Cancel
        raise RenderCancelled()
    report(total, total)
    return blob


async def _settled(promise):
    return await promise


async def _layer_table(rows, total: int):
    """The layer table as one Float64Array (transferred to the worker), computed TABLE_BATCH
    frames at a time, yielding to the page whenever SLICE_S has passed, so the page's main
    thread is never held for long however long the video."""
    width = FRAME_LAYERS * LAYER_FIELDS
    table = js.Float64Array.new(total * width)
    began = time.perf_counter()
    for start in range(0, total, TABLE_BATCH):
        stop = min(total, start + TABLE_BATCH)
        table.set(to_js(rows(start, stop)), start * width)
        if time.perf_counter() - began > SLICE_S:
            await asyncio.sleep(0)
            began = time.perf_counter()
    return table
