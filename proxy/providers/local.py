"""The `local` provider (server-only, the default): embedded, stdlib only, deterministic.

Owns the key everything is drawn from: SHA-256 of the recipe's canonical JSON. Images come
from `scene.render_png` (a landscape whose palette and cast follow the prompt's words, laid out
by the key), narration from `narration.narrate` (length follows the text). The same recipe
gives the same bytes on any machine and Python version; no network, no configuration.

    media = LocalProvider().generate(recipe, Deadline(60))
    media.mime_type   # 'image/png' or 'audio/wav'
"""

from __future__ import annotations

import hashlib

from proxy.providers.base import GeneratedMedia, Provider
from proxy.providers.narration import VOICES, narrate
from proxy.providers.scene import render_png
from proxy.providers.transport import Deadline
from app.core.recipe import Recipe

IMAGE_MODEL = "scenevault-sketch-1"
AUDIO_MODEL = "scenevault-voice-1"


class LocalProvider(Provider):
    name = "local"
    kinds = ("image", "audio")
    deterministic = True
    voices = tuple(VOICES)

    def models(self) -> dict[str, tuple[str, ...]]:
        return {"image": (IMAGE_MODEL,), "audio": (AUDIO_MODEL,)}

    def generate(self, recipe: Recipe, deadline: Deadline) -> GeneratedMedia:
        key = recipe_key(recipe)
        if recipe.kind == "audio":
            return GeneratedMedia(narrate(recipe.prompt, recipe.voice or self.voices[0], key),
                                  "audio/wav", recipe)
        png = render_png(recipe.prompt, recipe.negative_prompt or "", recipe.width, recipe.height, key)
        return GeneratedMedia(png, "image/png", recipe)


def recipe_key(recipe: Recipe) -> bytes:
    """SHA-256 of the canonical recipe JSON: the seed of every choice the provider makes."""
    return hashlib.sha256(recipe.to_json().encode("ascii")).digest()
