"""Rendering video in the page (browser): the final video, and the local motion clip a scene's
frame becomes (`encode_motion_clip`, app/render/motion.py). For the final video: gather a project's current scene images and narration,
lay them out with app/render/timeline.py, draw every frame on an OffscreenCanvas, mix the narration
into one track, encode VP9 + Opus with WebCodecs and mux a WebM, all in the page.

Encoding and muxing are Mediabunny's (vendored from npm, loaded on the first render): its
CanvasSource feeds a WebCodecs VideoEncoder and waits for it (backpressure), and its
AudioBufferSource encodes the narration track that an OfflineAudioContext mixed. Python owns
the timeline and walks it frame by frame; each frame is one await, so the page keeps
handling clicks (Cancel) while the browser's encoder threads work. Only the images on screen
are decoded (at most two scenes' bitmaps at a time), so long projects do not pile up pixels;
the encoded video is held in memory until it is stored (about 0.7 Mbit/s of video at 360p).

Every WebM carries Matroska tags made from the recipe stored with it (app/render/tags.py: title,
description, the recipe JSON, the AI label, the app, the day): they are written once, with the
file's header, and a re-render passes the lost asset's `created_at` so the tags come out the same.

    renderer = Renderer(vault)
    settings = RenderSettings.for_aspect(project.aspect_ratio, 720)
    asset = await renderer.render(project.id, settings, on_progress=bar.update, cancel=token)
    blob = await renderer.rerender(lost_asset.recipe, made_at_ms=lost_asset.created_at)
"""

from __future__ import annotations

from typing import Callable

import js
from pyodide.ffi import JsException, to_js
from pyscript.js_modules import sv_render

from app.core import storyboard
from app.core.errors import RecipeError, RenderCancelled, RenderError
from app.core.model import now_ms
from app.render.motion import MotionPlan
from app.render.tags import matroska_tags, title_of
from app.render.timeline import (AUDIO_SAMPLE_RATE, OUTPUT_TYPE, NarrationInput, RenderPlan,
                          RenderSettings, SceneInput, plan_render)

MEDIABUNNY = "static/vendor/mediabunny/mediabunny.min.mjs"
PROGRESS_EVERY = 5  # frames between progress reports
OnProgress = Callable[[int, int], None]
# The JS half is static/js/bridge/render.mjs (pyscript.toml loads it as `sv_render`); it imports
# MEDIABUNNY on the first render, so start-up never pays for the encoder.


class Renderer:
    """Renders a project's scenes from `vault` into its `final` slot."""

    def __init__(self, vault):
        self.vault = vault

    async def plan(self, project_id: str, settings: RenderSettings) -> RenderPlan:
        """The timeline of the project's current scene images and narration. Raises RenderError
        listing every scene that is not ready (no image, or media missing on this device)."""
        project = await self.vault.get_project(project_id)
        assets = await self.vault.list_assets(project_id)
        current = {a.slot: a for a in assets if a.current}
        absent = {a.id for a in await self.vault.missing(project_id)}
        inputs, problems = [], []
        for number, scene in enumerate(project.scenes, 1):
            slots = storyboard.scene_slots(scene)
            frame, narration = current.get(slots["frame"]), current.get(slots["narration"])
            if frame is None:
                problems.append(f"scene {number} has no frame image (generate or import one)")
                continue
            if frame.id in absent:
                problems.append(f"scene {number}'s frame image is missing on this device (regenerate it)")
            if narration is not None and narration.id in absent:
                problems.append(f"scene {number}'s narration is missing on this device (regenerate it)")
            voice = None
            if narration is not None:
                if not narration.duration_ms:
                    problems.append(f"scene {number}'s narration has no known length (import it again)")
                    continue
                voice = NarrationInput(narration.id, narration.sha256, narration.duration_ms)
            inputs.append(SceneInput(scene["id"], frame.id, frame.sha256, voice))
        if not project.scenes:
            problems.append("the project has no scenes yet (add scenes with frame images)")
        if problems:
            raise RenderError("The video cannot be rendered yet: " + "; ".join(problems) + ".")
        try:
            return plan_render(inputs, settings)
        except RecipeError as exc:
            raise RenderError(f"The video cannot be rendered: {exc}") from None

    async def render(self, project_id: str, settings: RenderSettings,
                     on_progress: OnProgress | None = None, cancel=None):
        """Render and store the video as the project's current `final` (source `rendered`). Its
        recipe names the project's title too (`title`), which the file's tags carry."""
        plan = await self.plan(project_id, settings)
        project = await self.vault.get_project(project_id)
        recipe = plan.to_recipe() | ({"title": project.title} if project.title else {})
        made_at = now_ms()
        blob = await self.encode(plan, on_progress, cancel, tags=recipe_tags(recipe, made_at))
        return await self.vault.put_asset(project_id, "video", "final", blob, OUTPUT_TYPE,
                                          recipe=recipe, source="rendered", created_at=made_at)

    async def rerender(self, recipe: dict, on_progress: OnProgress | None = None, cancel=None,
                       made_at_ms: int | None = None):
        """The video a render recipe describes, from the inputs it names by SHA-256; its tags
        are dated `made_at_ms` (the lost asset's `created_at`, so the bytes can match)."""
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
        (cancel.cancelled) raises RenderCancelled."""
        report = on_progress or (lambda done, total: None)
        blobs = await self.vault.blobs_by_sha256(plan.input_hashes())
        lost = [n for n, s in enumerate(plan.scenes, 1)
                if s.image_sha256 not in blobs or (s.narration and s.narration.sha256 not in blobs)]
        if lost:
            raise RenderError(f"Scene(s) {', '.join(map(str, lost))} of this video have media that "
                              "is not on this device; regenerate the missing scene images and "
                              "narration first, then render again")
        images = [blobs[scene.image_sha256] for scene in plan.scenes]
        cues = [[blobs[sha], start / 1000] for sha, start in plan.audio_cues()]
        frames = (_flat(plan.layers(frame)) for frame in range(plan.frame_count))
        return await encode_frames(plan.settings, images, cues, plan.total_ms / 1000,
                                   plan.frame_count, frames, report, cancel, tags)


def recipe_tags(recipe: dict, made_at_ms: int | None) -> dict[str, str]:
    """The Matroska tags of the media `recipe` (a render or a local clip recipe) describes, as
    the vault stores it, first made at `made_at_ms`."""
    return matroska_tags(recipe, title_of(recipe), made_at_ms)


def _flat(layers) -> list:
    """The 5 numbers per layer the JS half draws: scene, alpha, scale, shift x, shift y."""
    return [n for layer in layers for n in (layer.scene, layer.alpha, layer.scale,
                                            layer.shift_x, layer.shift_y)]


async def encode_motion_clip(plan: MotionPlan, frame_blob, on_progress: OnProgress | None = None,
                             cancel=None, tags: dict[str, str] | None = None):
    """The WebM Blob of a local motion clip (app/render/motion.py) made from `frame_blob`, with
    the final video's encoder, carrying `tags` (`recipe_tags` of its clip recipe). Raises
    RenderCancelled or RenderError, like a render."""
    frames = (list(plan.layers(frame)) for frame in range(plan.frame_count))
    return await encode_frames(plan.settings, [frame_blob], [], plan.seconds, plan.frame_count,
                               frames, on_progress or (lambda done, total: None), cancel, tags)


async def encode_frames(settings: RenderSettings, images: list, cues: list, total_s: float,
                        total: int, frames, report: OnProgress, cancel=None,
                        tags: dict[str, str] | None = None):
    """Draw and encode `total` frames (each a flat list of layer numbers from `frames`) of
    `images` over the narration `cues` ([Blob, start seconds]); the WebM Blob, whose Matroska
    tags are `tags` (written once, with the header). Cancelling (cancel.cancelled) raises
    RenderCancelled; an encoder failure, RenderError."""
    report(0, total)
    session = await _open(settings, images, cues, total_s, tags or {})
    try:
        for frame, numbers in enumerate(frames):
            if cancel is not None and cancel.cancelled:
                raise RenderCancelled()
            await session.frame(frame, to_js(numbers))
            if frame % PROGRESS_EVERY == 0:
                report(frame, total)
        blob = await session.finish()
    except JsException as exc:
        await _quietly(session.cancel())
        raise RenderError(f"The browser's encoder failed ({exc.message}); nothing was stored. "
                          "Try again, or pick a smaller size.") from None
    except BaseException:
        await _quietly(session.cancel())
        raise
    report(total, total)
    return blob


async def _open(settings: RenderSettings, images: list, cues: list, total_s: float,
                tags: dict[str, str]):
    options = settings.to_dict() | {"sampleRate": AUDIO_SAMPLE_RATE}
    as_object = js.Object.fromEntries
    try:
        return await sv_render.open(to_js(options, dict_converter=as_object), to_js(images),
                                    to_js(cues), total_s, MEDIABUNNY, OUTPUT_TYPE,
                                    to_js(tags, dict_converter=as_object))
    except JsException as exc:
        reason = {"NotSupportedError": "This browser cannot encode the video",
                  "EncodingError": "An image or narration of this video cannot be decoded"}
        raise RenderError(f"{reason.get(exc.name, 'The video could not be rendered')}: "
                          f"{exc.message}") from None


async def _quietly(awaitable) -> None:
    try:
        await awaitable
    except JsException:
        pass
