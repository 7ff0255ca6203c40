"""The `elevenlabs` provider (server-only): narration from ElevenLabs' text-to-speech API.

Owns one call, in the wire format ElevenLabs documents:
`POST {base}/v1/text-to-speech/{voice_id}?output_format=mp3_44100_128` with the header
`xi-api-key` and the body `{"text", "model_id", "seed"}`; the answer is the MP3 bytes
(audio/mpeg, checked by their bytes like every answer). The voices are the voice ids of
SCENEVAULT_ELEVENLABS_VOICES (checked at start-up: letters and digits only, since one goes into
the URL's path), the model SCENEVAULT_ELEVENLABS_MODEL. The seed is sent, but ElevenLabs does
not promise the same audio for it, so the provider is not deterministic. The key goes only to
the base URL, in `xi-api-key`.

    provider = ElevenLabsProvider("https://api.elevenlabs.io", key, ("JBFqnCBsd6RMkjVDRZzb",),
                                  "eleven_multilingual_v2", max_bytes=50 << 20)
    media = provider.generate(recipe, Deadline(60))   # audio/mpeg
"""

from __future__ import annotations

import re

from app.core.recipe import Recipe
from proxy.providers.base import GeneratedMedia, Provider
from proxy.providers.transport import Deadline, failure, request

DEFAULT_BASE_URL = "https://api.elevenlabs.io"
DEFAULT_MODEL = "eleven_multilingual_v2"
DEFAULT_VOICES = "JBFqnCBsd6RMkjVDRZzb,21m00Tcm4TlvDq8ikWAM"  # two of ElevenLabs' premade voices
OUTPUT_FORMAT = "mp3_44100_128"
VOICE_ID = re.compile(r"[A-Za-z0-9]{1,64}")
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


class ElevenLabsProvider(Provider):
    name = "elevenlabs"
    kinds = ("audio",)

    def __init__(self, base_url: str, key: str, voices: tuple[str, ...], model: str, max_bytes: int):
        self.base_url = base_url.rstrip("/")
        self._key = key
        self.voices = voices
        self._model = model
        self._max_bytes = max_bytes

    @property
    def configured(self) -> bool:
        return bool(self._key and self.base_url and self.voices)

    def models(self) -> dict[str, tuple[str, ...]]:
        return {"audio": (self._model,)}

    def generate(self, recipe: Recipe, deadline: Deadline) -> GeneratedMedia:
        url = f"{self.base_url}/v1/text-to-speech/{recipe.voice}?output_format={OUTPUT_FORMAT}"
        reply = request("POST", url, deadline=deadline, max_bytes=self._max_bytes,
                        json_body={"text": recipe.prompt, "model_id": recipe.model, "seed": recipe.seed},
                        headers={"xi-api-key": self._key, "Accept": "audio/mpeg"})
        if not reply.ok:
            raise failure(reply, self.name, hide=(self._key,))
        return GeneratedMedia(reply.body, "audio/mpeg", recipe)


def voice_ids(text: str, variable: str) -> tuple[str, ...]:
    """'id1, id2' -> ('id1', 'id2'); a ValueError naming `variable` for an id that is not letters
    and digits (it becomes part of a URL path)."""
    ids = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    for voice in ids:
        if not VOICE_ID.fullmatch(voice):
            raise ValueError(f"{variable}: {voice[:80]!r} is not an ElevenLabs voice id (letters "
                             "and digits)")
    if not ids:
        raise ValueError(f"{variable} names no voice")
    return ids


def model_id(text: str, variable: str) -> str:
    if not MODEL_ID.fullmatch(text):
        raise ValueError(f"{variable}: {text[:80]!r} is not an ElevenLabs model id such as "
                         f"{DEFAULT_MODEL}")
    return text
