"""The `openai` provider (server-only): any OpenAI-compatible Images and Speech API.

Owns the two calls, in the wire format OpenAI documents:
- images: `POST {base}/v1/images/generations` with `{"model", "prompt", "n": 1, "size": "WxH"}`
  (plus `"response_format": "b64_json"` for the DALL-E models; gpt-image models always answer
  base64). The answer is `{"data": [{"b64_json": ...}]}` or `{"data": [{"url": ...}]}`; a URL on
  the base URL's own host is fetched directly, any other only through `download.fetch_result`
  (allowlist `SCENEVAULT_OPENAI_DOWNLOAD_HOSTS`).
- speech: `POST {base}/v1/audio/speech` with `{"model", "input", "voice", "response_format":
  "wav"}`; the answer is the audio bytes.
The key travels only in `Authorization: Bearer ...` to the base URL. OpenAI takes no seed,
steps or negative prompt: the recipe keeps them as asked, and the provider is not deterministic.

    provider = OpenAIProvider("https://api.openai.com", key, DownloadPolicy.parse(""), 50 << 20)
    media = provider.generate(recipe, Deadline(60))
"""

from __future__ import annotations

from app.core.errors import ProviderError
from proxy.providers.base import GeneratedMedia, Provider, decode_base64
from proxy.providers.download import DownloadPolicy, fetch_result
from proxy.providers.transport import Deadline, HttpReply, failure, json_answer, parse_target, request
from app.core.recipe import Recipe

IMAGE_MODELS = ("gpt-image-1", "dall-e-3", "dall-e-2")
SPEECH_MODELS = ("gpt-4o-mini-tts", "tts-1", "tts-1-hd")
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer")


class OpenAIProvider(Provider):
    name = "openai"
    kinds = ("image", "audio")
    voices = VOICES

    def __init__(self, base_url: str, api_key: str, download: DownloadPolicy, max_bytes: int):
        self.base_url = base_url.rstrip("/").removesuffix("/v1")
        self._key = api_key
        self._download = download
        self._max_bytes = max_bytes

    @property
    def configured(self) -> bool:
        return bool(self._key and self.base_url)

    def models(self) -> dict[str, tuple[str, ...]]:
        return {"image": IMAGE_MODELS, "audio": SPEECH_MODELS}

    def generate(self, recipe: Recipe, deadline: Deadline) -> GeneratedMedia:
        if recipe.kind == "audio":
            return GeneratedMedia(self._speech(recipe, deadline), "audio/wav", recipe)
        return GeneratedMedia(self._image(recipe, deadline), "image/png", recipe)

    def _post(self, path: str, payload: dict, deadline: Deadline) -> HttpReply:
        return request("POST", self.base_url + path, deadline=deadline,
                       max_bytes=self._max_bytes * 4 // 3 + 4096, json_body=payload,
                       headers={"Authorization": f"Bearer {self._key}"})

    def _image(self, recipe: Recipe, deadline: Deadline) -> bytes:
        payload = {"model": recipe.model, "prompt": recipe.prompt, "n": 1,
                   "size": f"{recipe.width}x{recipe.height}"}
        if recipe.model.startswith("dall-e"):
            payload["response_format"] = "b64_json"
        answer = json_answer(self._post("/v1/images/generations", payload, deadline), self.name,
                             hide=(self._key,))
        item = _first_item(answer)
        if item.get("b64_json"):
            return decode_base64(item["b64_json"], self.name)
        if isinstance(item.get("url"), str):
            return self._fetch(item["url"], deadline)
        raise ProviderError("openai answered an image entry with neither b64_json nor url")

    def _fetch(self, url: str, deadline: Deadline) -> bytes:
        target, base = parse_target(url), parse_target(self.base_url)
        if (target.host, target.port, target.scheme) == (base.host, base.port, base.scheme):
            reply = request("GET", url, deadline=deadline, max_bytes=self._max_bytes)
        else:
            reply = fetch_result(url, self._download, deadline=deadline, max_bytes=self._max_bytes)
        if not reply.ok:
            raise failure(reply, "openai's image URL", hide=(self._key,))
        return reply.body

    def _speech(self, recipe: Recipe, deadline: Deadline) -> bytes:
        payload = {"model": recipe.model, "input": recipe.prompt, "voice": recipe.voice,
                   "response_format": "wav"}
        reply = self._post("/v1/audio/speech", payload, deadline)
        if not reply.ok:
            raise failure(reply, self.name, hide=(self._key,))
        return reply.body


def _first_item(answer: object) -> dict:
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise ProviderError("openai answered JSON without a data[0] image entry")
    return data[0]
