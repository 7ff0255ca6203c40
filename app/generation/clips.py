"""Clips made from scene frames (browser): a scene's clip slot generated from its current frame,
in the page or as a job on the server.

The default is the local motion clip, made in the page (app/render/motion.py: a push-in, pan or
drift chosen by the seed, encoded with the final video's WebCodecs/Mediabunny stack): it needs
no server and no key, and on one machine the same recipe gives the same bytes, so a lost clip is
"restored (identical)". Its recipe is a clip recipe (app/core/recipe.py: kind clip, provider
local, model motion, seed, seconds, size and the frame's `input_sha256`), so the frame it came
from is found again by its SHA-256 in the vault.

A clip from a server provider (FAL, ComfyUI) takes minutes and costs money, so it runs as a job
(`/api/jobs`): the job is recorded in the vault (app/store/jobs.py) as soon as the server accepts
it, the page polls it, and its result is stored in the same transaction that removes the record,
exactly once. After a reload, a crash or a night offline, `resume()` follows every recorded job
again; a job the server no longer knows is kept as "lost", with its recipe, to generate again.

    clips = ClipService(vault, ProxyClient())
    asset = await clips.generate(project.id, "scene:s1:clip", {"prompt": "slow push-in"})
    asset.recipe["input_sha256"] == (await clips.frame_of(project.id, "scene:s1:clip")).sha256
    await clips.resume(on_stored=lambda job, asset: print("stored", job.slot))   # at start-up
"""

from __future__ import annotations

import asyncio
import base64
from typing import Callable

from app.core.errors import JobAlreadyStored, JobLost, MissingBlob, NotFound, ProviderError, RecipeError
from app.core.recipe import (LOCAL_CLIP_MODEL, LOCAL_CLIP_PROVIDER, Catalog, ProviderSpec, Recipe,
                             is_local_clip, validate_request, with_chosen_seed)
from app.core.model import now_ms

CLIP_SHORT_SIDE = 360
CLIP_TYPE = "video/webm"
POLL_EVERY_S = 2.0       # between status polls of a running job
RETRY_MAX_S = 30.0       # the longest wait between polls while the server cannot be reached
LOCAL_PROVIDER = LOCAL_CLIP_PROVIDER
LOCAL_CLIPS = ProviderSpec(LOCAL_PROVIDER, ("clip",), True, {"clip": (LOCAL_CLIP_MODEL,)})
OnProgress = Callable[[int, int], None]


def clip_catalog(server: Catalog | None = None) -> Catalog:
    """The providers a clip may name: the in-page local motion clip first (the default), then
    the server's providers that make clips."""
    remote = tuple(spec for spec in (server.providers if server else ())
                   if "clip" in spec.kinds and spec.name != LOCAL_PROVIDER)
    return Catalog(LOCAL_PROVIDER, (LOCAL_CLIPS, *remote))


def frame_slot(clip_slot: str) -> str:
    """The frame slot a clip slot belongs to: "scene:s1:clip" -> "scene:s1"."""
    base, _, last = clip_slot.rpartition(":")
    if last != "clip" or not base.startswith("scene:"):
        raise RecipeError(f"slot {clip_slot!r} is not a scene's clip slot", "slot")
    return base


class ClipService:
    """Makes a scene's clip from its current frame and stores it in `vault`; server jobs go
    through `client` (app/generation/client.py)."""

    def __init__(self, vault, client=None, sleep=asyncio.sleep):
        self.vault = vault
        self.client = client
        self.sleep = sleep
        self.following: set[str] = set()  # job ids this page is polling now

    async def frame_of(self, project_id: str, clip_slot: str):
        """The current frame asset of the clip's scene; RecipeError naming what to do if none."""
        versions = await self.vault.versions(project_id, frame_slot(clip_slot))
        frame = next((v for v in versions if v.current), None)
        if frame is None:
            raise RecipeError("this scene has no frame yet: generate or import the scene's frame "
                              "first, then make its clip from it", "input_sha256")
        return frame

    async def request_for(self, project_id: str, clip_slot: str, request: dict,
                          catalog: Catalog | None = None) -> Recipe:
        """The checked clip recipe: the request, the frame's SHA-256 and the project's frame
        size at 360p, with a seed chosen when none is given."""
        from app.render.timeline import frame_size  # the render timeline loads on first use

        project = await self.vault.get_project(project_id)
        frame = await self.frame_of(project_id, clip_slot)
        width, height = frame_size(project.aspect_ratio, CLIP_SHORT_SIDE)
        body = {"width": width, "height": height, **request, "kind": "clip",
                "input_sha256": frame.sha256}
        return with_chosen_seed(validate_request(body, catalog or clip_catalog()))

    async def generate(self, project_id: str, clip_slot: str, request: dict,
                       on_progress: OnProgress | None = None, cancel=None,
                       on_stage: Callable[[str], None] | None = None):
        """Make the clip (in the page, or as a server job) and store it as the slot's current
        version. A server job is recorded first, so a reload does not lose it."""
        remote = request.get("provider") not in (None, LOCAL_PROVIDER)
        server = await self.client.catalog() if remote and self.client is not None else None
        recipe = await self.request_for(project_id, clip_slot, request, clip_catalog(server))
        if recipe.provider != LOCAL_PROVIDER:
            return await self.start_job(project_id, clip_slot, recipe, on_stage)
        made_at = now_ms()
        blob = await self.make(recipe.to_dict(), on_progress, cancel, made_at_ms=made_at)
        return await self.vault.put_asset(project_id, "clip", clip_slot, blob, CLIP_TYPE,
                                          recipe=recipe.to_dict(), source="generated",
                                          created_at=made_at)

    # --- server jobs ----------------------------------------------------------------------------
    async def start_job(self, project_id: str, clip_slot: str, recipe: Recipe,
                        on_stage: Callable[[str], None] | None = None):
        """Send the frame and the recipe to `POST /api/jobs`, record the job, follow it."""
        frames = await self.vault.blobs_by_sha256([recipe.input_sha256])
        if recipe.input_sha256 not in frames:
            raise MissingBlob("The scene's frame is not on this device; regenerate it first.")
        frame = frames[recipe.input_sha256]
        data = (await frame.arrayBuffer()).to_bytes()
        data_url = f"data:{frame.type or 'image/png'};base64,{base64.b64encode(data).decode()}"
        job_id = await self.client.submit_job(recipe.to_dict(), data_url)
        from app.store.jobs import PendingJob

        job = await self.vault.add_job(PendingJob(job_id, project_id, "clip", clip_slot,
                                                  recipe.to_dict()))
        return await self.follow(job, on_stage)

    async def follow(self, job, on_stage: Callable[[str], None] | None = None):
        """Poll the job until it ends; store its result once. Returns the stored asset, or None
        when another tab stored it. Raises JobLost (the record is kept as lost) or ProviderError
        (failed upstream; kept as failed). While the server cannot be reached, it keeps waiting."""
        report = on_stage or (lambda stage: None)
        self.following.add(job.id)
        try:
            await self._wait_until_done(job, report)
            report("saving")
            result = await self.client.job_result(job.id)
            try:
                asset = await self.vault.put_asset(job.project_id, job.kind, job.slot, result.blob,
                                                   result.mime_type, recipe=result.recipe,
                                                   source="generated", job_id=job.id)
            except JobAlreadyStored:
                asset = None
            except NotFound:  # the project was deleted while the job ran
                await self.vault.drop_job(job.id)
                asset = None
            await self.client.discard_job(job.id)
            return asset
        finally:
            self.following.discard(job.id)

    async def _wait_until_done(self, job, report: Callable[[str], None]) -> None:
        delay = POLL_EVERY_S
        while True:
            try:
                status = await self.client.job_status(job.id)
            except JobLost as exc:
                await self.vault.mark_job(job.id, "lost", str(exc))
                raise
            except ProviderError:  # the server is away: the job is still recorded; wait longer
                delay = min(delay * 2, RETRY_MAX_S)
                await self.sleep(delay)
                continue
            delay = POLL_EVERY_S
            state = status.get("status")
            if state == "succeeded":
                return
            if state in ("failed", "cancelled"):
                error = status.get("error") or {}
                message = str(error.get("message") or f"The clip job was {state}.")
                await self.vault.mark_job(job.id, "failed", message)
                raise ProviderError(message)
            progress = status.get("progress")
            report(f"generating on the server ({round(progress * 100)}%)"
                   if isinstance(progress, (int, float)) else "generating on the server")
            await self.sleep(POLL_EVERY_S)

    async def resume(self, on_stored: Callable | None = None,
                     on_failed: Callable | None = None) -> None:
        """Follow every recorded running job this page is not following yet (at start-up, and
        when the server comes back). `on_stored(job, asset)` (asset None when another tab stored
        it first) and `on_failed(job, error)` tell the user."""
        jobs = [j for j in await self.vault.pending_jobs()
                if j.state == "running" and j.id not in self.following]
        await asyncio.gather(*(self._resume_one(job, on_stored, on_failed) for job in jobs))

    async def _resume_one(self, job, on_stored, on_failed) -> None:
        try:
            asset = await self.follow(job)
        except ProviderError as exc:
            if on_failed is not None:
                on_failed(job, exc)
            return
        if on_stored is not None:
            on_stored(job, asset)  # None: another tab stored it first

    async def make(self, recipe: dict, on_progress: OnProgress | None = None, cancel=None,
                   made_at_ms: int | None = None):
        """The WebM Blob a local clip recipe describes, from its frame found by SHA-256. Its
        Matroska tags come from `recipe` itself and are dated `made_at_ms` (a lost clip's
        `created_at` when it is made again, so the bytes can match)."""
        from app.render.encoder import encode_motion_clip, recipe_tags  # loads on first use
        from app.render.motion import MotionPlan

        plan = MotionPlan.from_recipe(recipe)
        frames = await self.vault.blobs_by_sha256([plan.input_sha256])
        if plan.input_sha256 not in frames:
            raise MissingBlob(f"The frame this clip is made from ({plan.input_sha256[:12]}…) is "
                              "not on this device; regenerate the scene's frame first.")
        return await encode_motion_clip(plan, frames[plan.input_sha256], on_progress, cancel,
                                        tags=recipe_tags(recipe, made_at_ms))


__all__ = ["ClipService", "clip_catalog", "frame_slot", "is_local_clip"]
