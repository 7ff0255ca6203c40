"""The `a1111` provider (server-only): the Stable Diffusion web UI's API.

Owns one call, `POST {url}/sdapi/v1/txt2img`, with the documented fields (prompt,
negative_prompt, seed, steps, width, height, batch_size 1, n_iter 1; a model other than
"current" goes in `override_settings.sd_model_checkpoint`). The answer is
`{"images": [base64 PNG], "parameters": {...}, "info": "<JSON text>"}`; the seed the web UI
actually used is read from `info`, so the effective recipe carries it. No key: the web UI's
API has none unless it runs with `--api-auth`, which this client does not support.

    provider = A1111Provider("http://127.0.0.1:7860", extra_models=("sd_xl_base_1.0",), ...)
    media = provider.generate(recipe, Deadline(60))
    media.recipe.seed   # from the web UI's info
"""

from __future__ import annotations

import json
from dataclasses import replace

from app.core.errors import ProviderError
from proxy.providers.base import GeneratedMedia, Provider, decode_base64
from proxy.providers.transport import Deadline, json_answer, request
from app.core.recipe import SEED_MAX, Recipe

CURRENT_MODEL = "current"  # whatever checkpoint the web UI has loaded


class A1111Provider(Provider):
    name = "a1111"
    kinds = ("image",)

    def __init__(self, url: str, extra_models: tuple[str, ...], max_bytes: int):
        self.url = url.rstrip("/")
        self._models = (CURRENT_MODEL, *extra_models)
        self._max_bytes = max_bytes

    @property
    def configured(self) -> bool:
        return bool(self.url)

    def models(self) -> dict[str, tuple[str, ...]]:
        return {"image": self._models}

    def generate(self, recipe: Recipe, deadline: Deadline) -> GeneratedMedia:
        reply = request("POST", self.url + "/sdapi/v1/txt2img", deadline=deadline,
                        max_bytes=self._max_bytes * 4 // 3 + 65536, json_body=txt2img_payload(recipe))
        answer = json_answer(reply, self.name)
        images = answer.get("images") if isinstance(answer, dict) else None
        if not isinstance(images, list) or not images:
            raise ProviderError("a1111 answered JSON without images")
        png = decode_base64(images[0], self.name)
        return GeneratedMedia(png, "image/png", replace(recipe, seed=used_seed(answer.get("info"))))


def txt2img_payload(recipe: Recipe) -> dict:
    payload = {"prompt": recipe.prompt, "negative_prompt": recipe.negative_prompt or "",
               "seed": recipe.seed, "steps": recipe.steps, "width": recipe.width,
               "height": recipe.height, "batch_size": 1, "n_iter": 1, "send_images": True,
               "save_images": False}
    if recipe.model != CURRENT_MODEL:
        payload["override_settings"] = {"sd_model_checkpoint": recipe.model}
        payload["override_settings_restore_afterwards"] = True
    return payload


def used_seed(info: object) -> int:
    """The seed from A1111's `info` (a JSON string, or an object from some forks)."""
    if isinstance(info, str):
        try:
            info = json.loads(info)
        except ValueError:
            raise ProviderError("a1111 answered an info field that is not JSON") from None
    seed = info.get("seed") if isinstance(info, dict) else None
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise ProviderError(f"a1111 did not report a usable seed in its info (got {seed!r})")
    return seed
