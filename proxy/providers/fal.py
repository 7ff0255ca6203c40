"""The `fal` provider (server-only): a FAL-style queue, whose result is a temporary URL.

Owns the three steps of fal.ai's queue API:
1. submit: `POST {base}/{model}` with the model's input (prompt, image_size, seed,
   num_inference_steps, num_images 1, output_format png) -> `{"request_id", "status_url",
   "response_url"}`;
2. poll: `GET {status_url}` until `{"status": "COMPLETED"}` (`IN_QUEUE` and `IN_PROGRESS` wait,
   a little longer each time, within the deadline);
3. fetch: `GET {response_url}` -> `{"images": [{"url", ...}], "seed": ...}`, then the image URL
   itself through `download.fetch_result` (allowlist, no redirect off the host, size cap). The
   temporary URL becomes bytes the user keeps.
The key goes as `Authorization: Key ...` to the base URL only (status and response URLs must be
on the base URL's host), never to the download host.

    provider = FalProvider("https://queue.fal.run", key, DownloadPolicy.parse("fal.media"), ...)
    media = provider.generate(recipe, Deadline(60))
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.core.errors import ProviderError
from proxy.providers.base import GeneratedMedia, Provider
from proxy.providers.download import DownloadPolicy, fetch_result
from proxy.providers.transport import Deadline, failure, json_answer, parse_target, request
from app.core.recipe import SEED_MAX, Recipe

MODELS = ("fal-ai/flux/schnell", "fal-ai/flux/dev", "fal-ai/fast-sdxl")
WAITING = frozenset({"IN_QUEUE", "IN_PROGRESS"})
FIRST_POLL_S, LONGEST_POLL_S = 0.1, 1.0
JSON_CAP = 1 << 20


class FalProvider(Provider):
    name = "fal"
    kinds = ("image",)

    def __init__(self, base_url: str, key: str, download: DownloadPolicy, max_bytes: int):
        self.base_url = base_url.rstrip("/")
        self._key = key
        self._download = download
        self._max_bytes = max_bytes

    @property
    def configured(self) -> bool:
        return bool(self._key and self.base_url)

    def models(self) -> dict[str, tuple[str, ...]]:
        return {"image": MODELS}

    def generate(self, recipe: Recipe, deadline: Deadline) -> GeneratedMedia:
        ticket = self._call("POST", f"{self.base_url}/{recipe.model}", deadline, fal_input(recipe))
        status_url, response_url = self._queue_urls(ticket, recipe.model)
        self._wait(status_url, deadline)
        result = self._call("GET", response_url, deadline)
        image = fetch_result(_image_url(result), self._download, deadline=deadline,
                             max_bytes=self._max_bytes)
        if not image.ok:
            raise failure(image, "fal's result URL")
        seed = result.get("seed")
        if isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= SEED_MAX:
            recipe = replace(recipe, seed=seed)
        return GeneratedMedia(image.body, "image/png", recipe)

    def _call(self, method: str, url: str, deadline: Deadline, payload: Any = None) -> dict:
        reply = request(method, url, deadline=deadline, max_bytes=JSON_CAP, json_body=payload,
                        headers={"Authorization": f"Key {self._key}"})
        answer = json_answer(reply, self.name, hide=(self._key,))
        if not isinstance(answer, dict):
            raise ProviderError("fal answered JSON that is not an object")
        return answer

    def _queue_urls(self, ticket: dict, model: str) -> tuple[str, str]:
        """The status and response URLs: from the ticket, but only on the base URL's host."""
        request_id = ticket.get("request_id")
        if not isinstance(request_id, str) or not request_id or "/" in request_id:
            raise ProviderError("fal answered the submission without a usable request_id")
        app_id = "/".join(model.split("/")[:2])  # fal-ai/flux/dev queues under fal-ai/flux
        base = f"{self.base_url}/{app_id}/requests/{request_id}"
        urls = (ticket.get("status_url") or f"{base}/status", ticket.get("response_url") or base)
        origin = parse_target(self.base_url).origin
        for url in urls:
            if not isinstance(url, str) or parse_target(url).origin != origin:
                raise ProviderError("fal pointed its queue at another host; refused")
        return urls

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


def fal_input(recipe: Recipe) -> dict:
    payload = {"prompt": recipe.prompt, "image_size": {"width": recipe.width, "height": recipe.height},
               "seed": recipe.seed, "num_inference_steps": recipe.steps, "num_images": 1,
               "output_format": "png", "enable_safety_checker": True}
    if recipe.negative_prompt:
        payload["negative_prompt"] = recipe.negative_prompt
    return payload


def _image_url(result: dict) -> str:
    images = result.get("images")
    first = images[0] if isinstance(images, list) and images else None
    url = first.get("url") if isinstance(first, dict) else None
    if not isinstance(url, str) or not url:
        raise ProviderError("fal's result has no images[0].url")
    return url
