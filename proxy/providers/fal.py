"""The `fal` provider (server-only): a FAL-style queue, whose result is a temporary URL. It makes
images (in one request) and clips from a frame (as jobs, proxy/jobs.py).

Owns the steps of fal.ai's queue API, shared by both kinds:
1. submit: `POST {base}/{model}` with the model's input -> `{"request_id", "status_url",
   "response_url", "cancel_url"}`. Those three URLs are used only when they are on the base URL's
   own origin (so neither the key nor a request goes anywhere else); a missing one is built
   from the request id;
2. poll: `GET {status_url}`: `IN_QUEUE`, `IN_PROGRESS`, then `COMPLETED`;
3. fetch: `GET {response_url}`, then the temporary URL in it through `download.fetch_result`
   (allowlist, no redirect off the host, size cap): `images[0].url` for an image, `video.url`
   for a clip. The temporary URL becomes bytes the user keeps;
4. cancel (clips): `PUT {cancel_url}`; an answer that it was already done is not an error.
Images: the input is prompt, image_size, seed, num_inference_steps, num_images 1, output_format
png; the image's own loop polls within the generation's deadline. Clips: the frame goes as a
data URI in the field its model takes, with the length (`fal_video`); the clip side (kind
"clip" and SCENEVAULT_FAL_VIDEO_MODELS) is listed only once the key is set. The key goes as
`Authorization: Key ...` to the base URL's origin only, never to the download host.

    provider = FalProvider("https://queue.fal.run", key, DownloadPolicy.parse("fal.media"), ...)
    media = provider.generate(recipe, Deadline(60))
    ticket = provider.submit(clip_recipe, frame, Deadline(60))
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.core.errors import ProviderError
from app.core.recipe import SEED_MAX, Recipe
from proxy.providers.base import GeneratedMedia
from proxy.providers.clip import ClipProgress, ClipProvider, ClipTicket, Frame
from proxy.providers.download import DownloadPolicy, fetch_result
from proxy.providers.fal_video import DEFAULT_VIDEO_MODELS, check_seconds, video_input
from proxy.providers.redaction import quote_upstream
from proxy.providers.transport import Deadline, failure, json_answer, parse_target, request

MODELS = ("fal-ai/flux/schnell", "fal-ai/flux/dev", "fal-ai/fast-sdxl")
WAITING = frozenset({"IN_QUEUE", "IN_PROGRESS"})
FIRST_POLL_S, LONGEST_POLL_S = 0.1, 1.0
JSON_CAP = 1 << 20


class FalProvider(ClipProvider):
    name = "fal"

    def __init__(self, base_url: str, key: str, download: DownloadPolicy, max_bytes: int,
                 video_models: tuple[str, ...] = (DEFAULT_VIDEO_MODELS,)):
        self.base_url = base_url.rstrip("/")
        self._key = key
        self._download = download
        self._max_bytes = max_bytes
        self._video_models = video_models

    @property
    def configured(self) -> bool:
        return bool(self._key and self.base_url)

    @property
    def kinds(self) -> tuple[str, ...]:
        return ("image", "clip") if self.configured else ("image",)

    def models(self) -> dict[str, tuple[str, ...]]:
        return {"image": MODELS, "clip": self._video_models} if self.configured else {"image": MODELS}

    # --- images: one request ----------------------------------------------------------------------
    def generate(self, recipe: Recipe, deadline: Deadline) -> GeneratedMedia:
        ticket = self._submit(recipe.model, fal_input(recipe), deadline)
        self._wait(ticket.status_url, deadline)
        result = self._call("GET", ticket.response_url, deadline)
        image = self._download_file(_file_url(result, "images"), deadline)
        return GeneratedMedia(image, "image/png", _with_reported_seed(recipe, result))

    def _wait(self, status_url: str, deadline: Deadline) -> None:
        pause = FIRST_POLL_S
        while True:
            status = self._call("GET", status_url, deadline).get("status")
            if status == "COMPLETED":
                return
            if status not in WAITING:
                raise ProviderError(f"fal reported the request as {str(status)[:40]!r}")
            deadline.sleep(pause, who=f"fal's queue at {parse_target(status_url).origin}")
            pause = min(LONGEST_POLL_S, pause * 1.5)

    # --- clips: a job ----------------------------------------------------------------------------
    def check_clip(self, recipe: Recipe) -> None:
        check_seconds(recipe)

    def submit(self, recipe: Recipe, frame: Frame, deadline: Deadline) -> ClipTicket:
        return self._submit(recipe.model, video_input(recipe, frame), deadline)

    def poll(self, ticket: ClipTicket, deadline: Deadline) -> ClipProgress:
        answer = self._call("GET", ticket.status_url, deadline)
        status = answer.get("status")
        if status == "IN_QUEUE":
            return ClipProgress("queued")
        if status == "IN_PROGRESS":
            return ClipProgress("running")
        if status == "COMPLETED" and answer.get("error"):
            reason = quote_upstream(str(answer["error"]).encode(), (self._key,))
            return ClipProgress("failed", message=f"fal reported the clip as failed: {reason}")
        if status == "COMPLETED":
            return ClipProgress("done")
        raise ProviderError(f"fal reported the request as {str(status)[:40]!r}")

    def result(self, ticket: ClipTicket, recipe: Recipe, deadline: Deadline) -> GeneratedMedia:
        result = self._call("GET", ticket.response_url, deadline)
        clip = self._download_file(_file_url(result, "video"), deadline)
        return GeneratedMedia(clip, "video/mp4", _with_reported_seed(recipe, result))

    def cancel(self, ticket: ClipTicket, deadline: Deadline) -> None:
        reply = request("PUT", ticket.cancel_url, deadline=deadline, max_bytes=JSON_CAP,
                        headers={"Authorization": f"Key {self._key}"})
        if not reply.ok and b"ALREADY_COMPLETED" not in reply.body:
            raise failure(reply, "fal's cancel", hide=(self._key,))

    # --- the queue -------------------------------------------------------------------------------
    def _submit(self, model: str, payload: dict, deadline: Deadline) -> ClipTicket:
        answer = self._call("POST", f"{self.base_url}/{model}", deadline, payload)
        return self._ticket(answer, model)

    def _call(self, method: str, url: str, deadline: Deadline, payload: Any = None) -> dict:
        reply = request(method, url, deadline=deadline, max_bytes=JSON_CAP, json_body=payload,
                        headers={"Authorization": f"Key {self._key}"})
        answer = json_answer(reply, self.name, hide=(self._key,))
        if not isinstance(answer, dict):
            raise ProviderError("fal answered JSON that is not an object")
        return answer

    def _ticket(self, answer: dict, model: str) -> ClipTicket:
        """The request id and its status, response and cancel URLs: from the answer, but only on
        the base URL's origin."""
        request_id = answer.get("request_id")
        if not isinstance(request_id, str) or not request_id or "/" in request_id:
            raise ProviderError("fal answered the submission without a usable request_id")
        app_id = "/".join(model.split("/")[:2])  # fal-ai/flux/dev queues under fal-ai/flux
        base = f"{self.base_url}/{app_id}/requests/{request_id}"
        urls = (answer.get("status_url") or f"{base}/status", answer.get("response_url") or base,
                answer.get("cancel_url") or f"{base}/cancel")
        origin = parse_target(self.base_url).origin
        for url in urls:
            if not isinstance(url, str) or parse_target(url).origin != origin:
                raise ProviderError("fal pointed its queue at another host; refused")
        return ClipTicket(request_id, *urls)

    def _download_file(self, url: str, deadline: Deadline) -> bytes:
        reply = fetch_result(url, self._download, deadline=deadline, max_bytes=self._max_bytes)
        if not reply.ok:
            raise failure(reply, "fal's result URL")
        return reply.body


def fal_input(recipe: Recipe) -> dict:
    payload = {"prompt": recipe.prompt, "image_size": {"width": recipe.width, "height": recipe.height},
               "seed": recipe.seed, "num_inference_steps": recipe.steps, "num_images": 1,
               "output_format": "png", "enable_safety_checker": True}
    if recipe.negative_prompt:
        payload["negative_prompt"] = recipe.negative_prompt
    return payload


def _file_url(result: dict, kind: str) -> str:
    """`images[0].url` (kind "images") or `video.url` (kind "video") from a result."""
    found = result.get(kind)
    if kind == "images":
        found = found[0] if isinstance(found, list) and found else None
    url = found.get("url") if isinstance(found, dict) else None
    if not isinstance(url, str) or not url:
        raise ProviderError(f"fal's result has no {'images[0]' if kind == 'images' else kind}.url")
    return url


def _with_reported_seed(recipe: Recipe, result: dict) -> Recipe:
    seed = result.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= SEED_MAX:
        return replace(recipe, seed=seed)
    return recipe
