"""Generation providers (SERVER-ONLY: server.py imports this package; the page never loads it).

This package is deliberately not listed in pyscript.toml and server.py refuses to serve it:
it holds the provider clients, their configuration and the keys. The page only ever sees
`GET /api/providers` and `POST /api/generate`.

Owns `ProviderSettings` (read from the environment by `settings_from_env`, with keys kept out
of reprs; a base URL must parse as strictly as `transport.parse_target` does, and a key with a
line break or control character is refused, since it travels in one header line) and
`build_providers`, which makes one instance of each provider:

    module         provider  kinds         what it talks to
    local.py       local     image, audio  nothing: embedded, deterministic (scene.py, narration.py)
    openai.py      openai    image, audio  an OpenAI-compatible Images and Speech API
    a1111.py       a1111     image         the Stable Diffusion web UI (/sdapi/v1/txt2img)
    fal.py         fal       image, clip   a FAL-style queue, result fetched via download.py
                                           (clip models: fal_video.py)
    comfyui.py     comfyui   clip          the user's ComfyUI, with their workflow
                                           (comfyui_workflow.py)
    elevenlabs.py  elevenlabs audio        ElevenLabs' text-to-speech API (MP3)

`runner.ProviderRunner` runs images and audio (concurrency cap, deadline, PNG metadata); clips
are `clip.ClipProvider`s that proxy/jobs.py runs as jobs; `transport` is their HTTP (one
wall-clock deadline per exchange), `redaction` keeps keys out of messages.

    settings = settings_from_env(os.environ)
    providers = build_providers(settings)
    providers["local"].spec().deterministic   # True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from app.core.errors import ProviderError
from proxy.providers.a1111 import A1111Provider
from proxy.providers.base import Provider
from proxy.providers.comfyui import ComfyUIProvider
from proxy.providers.comfyui_workflow import ComfyWorkflow
from proxy.providers.download import DownloadPolicy
from proxy.providers.elevenlabs import (DEFAULT_BASE_URL as DEFAULT_ELEVENLABS_BASE_URL,
                                        DEFAULT_MODEL as DEFAULT_ELEVENLABS_MODEL,
                                        DEFAULT_VOICES as DEFAULT_ELEVENLABS_VOICES,
                                        ElevenLabsProvider, model_id, voice_ids)
from proxy.providers.fal import FalProvider
from proxy.providers.fal_video import DEFAULT_VIDEO_MODELS, model_ids
from proxy.providers.local import LocalProvider
from proxy.providers.openai import OpenAIProvider
from proxy.providers.transport import parse_target

PROVIDER_NAMES = ("local", "openai", "a1111", "fal")
DEFAULT_OPENAI_BASE_URL = "https://api.openai.com"
DEFAULT_FAL_BASE_URL = "https://queue.fal.run"
DEFAULT_FAL_DOWNLOAD_HOSTS = "fal.media,v2.fal.media,v3.fal.media,v3b.fal.media"
DEFAULT_MEDIA_CAP = 50 * 1024 * 1024
DEFAULT_JOB_TIMEOUT_S = 900.0
DEFAULT_MAX_JOBS = 64
DEFAULT_COMFYUI_FPS = 16
COMFYUI_NODES = {"image": "SCENEVAULT_COMFYUI_IMAGE_NODE", "prompt": "SCENEVAULT_COMFYUI_PROMPT_NODE",
                 "seed": "SCENEVAULT_COMFYUI_SEED_NODE", "length": "SCENEVAULT_COMFYUI_LENGTH_NODE",
                 "size": "SCENEVAULT_COMFYUI_SIZE_NODE"}


@dataclass(frozen=True)
class ProviderSettings:
    """Provider configuration; keys are excluded from repr so they cannot reach a log."""

    default: str = "local"
    openai_base_url: str = DEFAULT_OPENAI_BASE_URL
    openai_api_key: str = field(default="", repr=False)
    openai_download_hosts: str = ""
    a1111_url: str = ""
    a1111_models: tuple[str, ...] = ()
    fal_base_url: str = DEFAULT_FAL_BASE_URL
    fal_key: str = field(default="", repr=False)
    fal_download_hosts: str = DEFAULT_FAL_DOWNLOAD_HOSTS
    fal_video_models: tuple[str, ...] = (DEFAULT_VIDEO_MODELS,)
    comfyui_url: str = ""
    comfyui_workflow: ComfyWorkflow | None = field(default=None, repr=False)
    elevenlabs_base_url: str = DEFAULT_ELEVENLABS_BASE_URL
    elevenlabs_api_key: str = field(default="", repr=False)
    elevenlabs_voices: tuple[str, ...] = tuple(DEFAULT_ELEVENLABS_VOICES.split(","))
    elevenlabs_model: str = DEFAULT_ELEVENLABS_MODEL
    timeout_s: float = 60.0
    max_concurrent: int = 4
    max_media_bytes: int = DEFAULT_MEDIA_CAP
    job_timeout_s: float = DEFAULT_JOB_TIMEOUT_S
    max_jobs: int = DEFAULT_MAX_JOBS

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(key for key in (self.openai_api_key, self.fal_key, self.elevenlabs_api_key)
                     if key)


def settings_from_env(environ: Mapping[str, str]) -> ProviderSettings:
    """Read SCENEVAULT_* provider settings; a bad value raises ValueError naming the variable
    (never quoting a key)."""
    get = lambda name, default="": environ.get(name, "").strip() or default  # noqa: E731
    settings = ProviderSettings(
        default=get("SCENEVAULT_PROVIDER", "local"),
        openai_base_url=_url(get("SCENEVAULT_OPENAI_BASE_URL", DEFAULT_OPENAI_BASE_URL),
                             "SCENEVAULT_OPENAI_BASE_URL"),
        openai_api_key=_key(get("SCENEVAULT_OPENAI_API_KEY"), "SCENEVAULT_OPENAI_API_KEY"),
        openai_download_hosts=get("SCENEVAULT_OPENAI_DOWNLOAD_HOSTS"),
        a1111_url=_url(get("SCENEVAULT_A1111_URL"), "SCENEVAULT_A1111_URL"),
        a1111_models=tuple(m.strip() for m in get("SCENEVAULT_A1111_MODELS").split(",") if m.strip()),
        fal_base_url=_url(get("SCENEVAULT_FAL_BASE_URL", DEFAULT_FAL_BASE_URL), "SCENEVAULT_FAL_BASE_URL"),
        fal_key=_key(get("SCENEVAULT_FAL_KEY"), "SCENEVAULT_FAL_KEY"),
        fal_download_hosts=get("SCENEVAULT_FAL_DOWNLOAD_HOSTS", DEFAULT_FAL_DOWNLOAD_HOSTS),
        fal_video_models=model_ids(get("SCENEVAULT_FAL_VIDEO_MODELS", DEFAULT_VIDEO_MODELS),
                                   "SCENEVAULT_FAL_VIDEO_MODELS"),
        comfyui_url=_url(get("SCENEVAULT_COMFYUI_URL"), "SCENEVAULT_COMFYUI_URL"),
        comfyui_workflow=_comfyui_workflow(get),
        elevenlabs_base_url=_url(get("SCENEVAULT_ELEVENLABS_BASE_URL", DEFAULT_ELEVENLABS_BASE_URL),
                                 "SCENEVAULT_ELEVENLABS_BASE_URL"),
        elevenlabs_api_key=_key(get("SCENEVAULT_ELEVENLABS_API_KEY"), "SCENEVAULT_ELEVENLABS_API_KEY"),
        elevenlabs_voices=voice_ids(get("SCENEVAULT_ELEVENLABS_VOICES", DEFAULT_ELEVENLABS_VOICES),
                                    "SCENEVAULT_ELEVENLABS_VOICES"),
        elevenlabs_model=model_id(get("SCENEVAULT_ELEVENLABS_MODEL", DEFAULT_ELEVENLABS_MODEL),
                                  "SCENEVAULT_ELEVENLABS_MODEL"),
        timeout_s=_number(get("SCENEVAULT_PROVIDER_TIMEOUT_S", "60"), "SCENEVAULT_PROVIDER_TIMEOUT_S", float),
        max_concurrent=_number(get("SCENEVAULT_MAX_CONCURRENT", "4"), "SCENEVAULT_MAX_CONCURRENT", int),
        max_media_bytes=_number(get("SCENEVAULT_MAX_MEDIA_BYTES", str(DEFAULT_MEDIA_CAP)),
                                "SCENEVAULT_MAX_MEDIA_BYTES", int),
        job_timeout_s=_number(get("SCENEVAULT_JOB_TIMEOUT_S", str(DEFAULT_JOB_TIMEOUT_S)),
                              "SCENEVAULT_JOB_TIMEOUT_S", float),
        max_jobs=_number(get("SCENEVAULT_MAX_JOBS", str(DEFAULT_MAX_JOBS)), "SCENEVAULT_MAX_JOBS", int),
    )
    for hosts in ("openai_download_hosts", "fal_download_hosts"):
        DownloadPolicy.parse(getattr(settings, hosts))  # raises ValueError on a bad entry
    _check_default(settings)
    return settings


def _url(value: str, name: str) -> str:
    if not value:
        return value
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{name} must be an http:// or https:// URL")
    try:
        parse_target(value)
    except ProviderError as exc:
        reason = str(exc).removeprefix("the provider gave a URL that cannot be parsed: ")
        raise ValueError(f"{name} is not a usable URL: {reason}") from None
    return value


def _key(value: str, name: str) -> str:
    if not value.isprintable():
        raise ValueError(f"{name} contains a line break or control character; a key travels in "
                         "one HTTP header line (the key is not shown)")
    return value


def _number(value: str, name: str, kind: type) -> float | int:
    try:
        number = kind(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a {'whole ' if kind is int else ''}number") from None
    if not number > 0:
        raise ValueError(f"{name} must be above zero, not {value}")
    return number


def _comfyui_workflow(get: Callable[..., str]) -> ComfyWorkflow | None:
    """The workflow, checked against its node settings, when SCENEVAULT_COMFYUI_URL is set."""
    others = ["SCENEVAULT_COMFYUI_WORKFLOW", "SCENEVAULT_COMFYUI_FPS", *COMFYUI_NODES.values()]
    if not get("SCENEVAULT_COMFYUI_URL"):
        named = [name for name in others if get(name)]
        if named:
            raise ValueError(f"{named[0]} is set but SCENEVAULT_COMFYUI_URL is not")
        return None
    path = get("SCENEVAULT_COMFYUI_WORKFLOW")
    if not path:
        raise ValueError("SCENEVAULT_COMFYUI_WORKFLOW is required with SCENEVAULT_COMFYUI_URL: the "
                         "path of a workflow saved in ComfyUI's API format")
    fps = _number(get("SCENEVAULT_COMFYUI_FPS", str(DEFAULT_COMFYUI_FPS)), "SCENEVAULT_COMFYUI_FPS", int)
    return ComfyWorkflow.load(Path(path), {place: get(name) for place, name in COMFYUI_NODES.items()},
                              fps)


def _check_default(settings: ProviderSettings) -> None:
    if settings.default not in PROVIDER_NAMES:
        raise ValueError(f"SCENEVAULT_PROVIDER={settings.default!r} is not one of "
                         f"{', '.join(PROVIDER_NAMES)}")
    if not build_providers(settings)[settings.default].configured:
        raise ValueError(f"SCENEVAULT_PROVIDER={settings.default} is not configured: see README's "
                         "Configuration table for the variables it needs")


def build_providers(settings: ProviderSettings) -> dict[str, Provider]:
    """One instance of every provider, configured or not, keyed by name."""
    cap = settings.max_media_bytes
    return {
        "local": LocalProvider(),
        "openai": OpenAIProvider(settings.openai_base_url, settings.openai_api_key,
                                 DownloadPolicy.parse(settings.openai_download_hosts), cap),
        "a1111": A1111Provider(settings.a1111_url, settings.a1111_models, cap),
        "fal": FalProvider(settings.fal_base_url, settings.fal_key,
                           DownloadPolicy.parse(settings.fal_download_hosts), cap,
                           settings.fal_video_models),
        "comfyui": ComfyUIProvider(settings.comfyui_url, settings.comfyui_workflow, cap),
        "elevenlabs": ElevenLabsProvider(settings.elevenlabs_base_url, settings.elevenlabs_api_key,
                                         settings.elevenlabs_voices, settings.elevenlabs_model, cap),
    }
