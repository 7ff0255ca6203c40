"""Provider configuration from the environment, and the generation service's guarantees
(concurrency cap, deadline, unexpected failures), with stand-in providers in the same process."""

import re
import threading
import time
from pathlib import Path

import pytest

from proxy.config import ServerConfig, config_from
from app.core.errors import ProviderError, ProviderTimeout, RecipeError
from app.core.pngmeta import read_recipe, tiny_png
from proxy.providers import DEFAULT_FAL_DOWNLOAD_HOSTS, ProviderSettings, build_providers, settings_from_env
from proxy.providers.base import GeneratedMedia, Provider
from proxy.providers.runner import GRACE_S, ProviderRunner

ROOT = Path(__file__).resolve().parents[3]
KEY = "sk-live-SECRET-0123456789abcdef"


def test_the_defaults_need_no_configuration():
    settings = settings_from_env({})
    assert (settings.default, settings.timeout_s, settings.max_concurrent, settings.max_media_bytes) == \
        ("local", 60.0, 4, 50 * 1024 * 1024)
    assert settings.fal_download_hosts == DEFAULT_FAL_DOWNLOAD_HOSTS
    assert (settings.job_timeout_s, settings.max_jobs) == (900.0, 64)
    configured = {name: p.configured for name, p in build_providers(settings).items()}
    assert configured == {"local": True, "openai": False, "a1111": False, "fal": False,
                          "comfyui": False, "elevenlabs": False}


def test_every_variable_is_read(tmp_path):
    workflow = tmp_path / "i2v.json"
    workflow.write_text('{"1": {"class_type": "LoadImage", "inputs": {"image": "x.png"}}, '
                        '"2": {"class_type": "Sampler", "inputs": {"seed": 1, "text": "", "length": 9}}}')
    settings = settings_from_env({
        "SCENEVAULT_PROVIDER": "fal", "SCENEVAULT_OPENAI_BASE_URL": "http://127.0.0.1:1/v1",
        "SCENEVAULT_OPENAI_API_KEY": KEY, "SCENEVAULT_A1111_URL": "http://127.0.0.1:7860",
        "SCENEVAULT_A1111_MODELS": "a, b", "SCENEVAULT_FAL_BASE_URL": "http://127.0.0.1:2",
        "SCENEVAULT_FAL_KEY": "fal-key", "SCENEVAULT_FAL_DOWNLOAD_HOSTS": "127.0.0.1:3",
        "SCENEVAULT_PROVIDER_TIMEOUT_S": "1.5", "SCENEVAULT_MAX_CONCURRENT": "2",
        "SCENEVAULT_MAX_MEDIA_BYTES": "1000", "SCENEVAULT_OPENAI_DOWNLOAD_HOSTS": "cdn.example",
        "SCENEVAULT_FAL_VIDEO_MODELS": "fal-ai/x/i2v", "SCENEVAULT_JOB_TIMEOUT_S": "30",
        "SCENEVAULT_MAX_JOBS": "5", "SCENEVAULT_COMFYUI_URL": "http://192.168.1.5:8188",
        "SCENEVAULT_COMFYUI_WORKFLOW": str(workflow), "SCENEVAULT_COMFYUI_IMAGE_NODE": "1",
        "SCENEVAULT_COMFYUI_PROMPT_NODE": "2", "SCENEVAULT_COMFYUI_SEED_NODE": "2",
        "SCENEVAULT_COMFYUI_LENGTH_NODE": "2", "SCENEVAULT_COMFYUI_FPS": "8",
        "SCENEVAULT_ELEVENLABS_API_KEY": "xi-key", "SCENEVAULT_ELEVENLABS_BASE_URL": "http://127.0.0.1:4",
        "SCENEVAULT_ELEVENLABS_VOICES": "v1,v2", "SCENEVAULT_ELEVENLABS_MODEL": "eleven_turbo_v2_5"})
    assert (settings.default, settings.a1111_models, settings.timeout_s, settings.max_concurrent,
            settings.max_media_bytes) == ("fal", ("a", "b"), 1.5, 2, 1000)
    assert (settings.fal_video_models, settings.job_timeout_s, settings.max_jobs) == (("fal-ai/x/i2v",), 30, 5)
    assert (settings.comfyui_workflow.name, settings.comfyui_workflow.fps) == ("i2v", 8)
    assert (settings.elevenlabs_voices, settings.elevenlabs_model) == (("v1", "v2"), "eleven_turbo_v2_5")
    providers = build_providers(settings)
    assert all(p.configured and p.listed for p in providers.values())
    assert providers["openai"].base_url == "http://127.0.0.1:1"  # a trailing /v1 is tolerated


@pytest.mark.parametrize("environ, fragment", [
    ({"SCENEVAULT_PROVIDER_TIMEOUT_S": "soon"}, "SCENEVAULT_PROVIDER_TIMEOUT_S='soon'"),
    ({"SCENEVAULT_PROVIDER_TIMEOUT_S": "0"}, "SCENEVAULT_PROVIDER_TIMEOUT_S must be above zero"),
    ({"SCENEVAULT_MAX_CONCURRENT": "1.5"}, "SCENEVAULT_MAX_CONCURRENT='1.5' is not a whole"),
    ({"SCENEVAULT_MAX_CONCURRENT": "-2"}, "SCENEVAULT_MAX_CONCURRENT must be above zero"),
    ({"SCENEVAULT_A1111_URL": "127.0.0.1:7860"}, "SCENEVAULT_A1111_URL must be an http"),
    ({"SCENEVAULT_FAL_BASE_URL": "ftp://queue"}, "SCENEVAULT_FAL_BASE_URL must be an http"),
    ({"SCENEVAULT_FAL_DOWNLOAD_HOSTS": "https://fal.media"}, "download host"),
    ({"SCENEVAULT_PROVIDER": "dalle"}, "SCENEVAULT_PROVIDER='dalle' is not one of"),
    ({"SCENEVAULT_FAL_VIDEO_MODELS": "kling"}, "SCENEVAULT_FAL_VIDEO_MODELS: 'kling' is not a FAL"),
    ({"SCENEVAULT_FAL_VIDEO_MODELS": "fal-ai/../admin"}, "SCENEVAULT_FAL_VIDEO_MODELS: 'fal-ai/../admin'"),
    ({"SCENEVAULT_FAL_VIDEO_MODELS": "fal-ai/x?y=1"}, "is not a FAL model id"),
    ({"SCENEVAULT_FAL_VIDEO_MODELS": " , "}, "SCENEVAULT_FAL_VIDEO_MODELS names no model"),
    ({"SCENEVAULT_JOB_TIMEOUT_S": "0"}, "SCENEVAULT_JOB_TIMEOUT_S must be above zero"),
    ({"SCENEVAULT_ELEVENLABS_VOICES": "Rachel, ../admin"}, "SCENEVAULT_ELEVENLABS_VOICES: '../admin'"),
    ({"SCENEVAULT_ELEVENLABS_VOICES": ","}, "SCENEVAULT_ELEVENLABS_VOICES names no voice"),
    ({"SCENEVAULT_ELEVENLABS_MODEL": "eleven v3"}, "SCENEVAULT_ELEVENLABS_MODEL: 'eleven v3'"),
    ({"SCENEVAULT_ELEVENLABS_BASE_URL": "api.elevenlabs.io"}, "SCENEVAULT_ELEVENLABS_BASE_URL must be an http"),
    ({"SCENEVAULT_MAX_JOBS": "many"}, "SCENEVAULT_MAX_JOBS='many' is not a whole"),
    ({"SCENEVAULT_PROVIDER": "a1111"}, "SCENEVAULT_PROVIDER=a1111 is not configured"),
])
def test_bad_settings_are_refused_naming_the_variable_never_the_key(environ, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)) as caught:
        settings_from_env({**environ, "SCENEVAULT_OPENAI_API_KEY": KEY, "SCENEVAULT_FAL_KEY": KEY,
                           "SCENEVAULT_ELEVENLABS_API_KEY": KEY})
    assert KEY not in str(caught.value)


def test_the_server_turns_a_bad_setting_into_an_exit_message():
    with pytest.raises(SystemExit, match="SCENEVAULT_MAX_CONCURRENT"):
        config_from([], {"SCENEVAULT_MAX_CONCURRENT": "many"})


@pytest.mark.parametrize("variable", ["SCENEVAULT_OPENAI_API_KEY", "SCENEVAULT_FAL_KEY",
                                      "SCENEVAULT_ELEVENLABS_API_KEY"])
@pytest.mark.parametrize("key", [KEY + "\nX-Injected: 1", KEY + "\rX", "sk-\x00" + KEY])
def test_a_key_with_a_line_break_or_control_character_is_refused_unquoted(variable, key):
    with pytest.raises(ValueError, match=f"{variable} contains a line break") as caught:
        settings_from_env({variable: key})
    assert KEY not in str(caught.value) and KEY[:12] not in str(caught.value)


@pytest.mark.parametrize("url, fragment", [
    ("http://127.0.0.1:+7860", "port '+7860'"), ("http://127.0.0.1:7_860", "port '7_860'"),
    ("http://127.0.0.1:0", "port '0'"), ("http://127.0.0.1:", "port ''"),
    ("http://user:pw@127.0.0.1:7860", "user info"), ("http://web ui:7860", "space"),
    ("http://[::1", "Invalid IPv6 URL"), ("http://[::1]x", "[IPv6 address]"),
    ("http://[127.0.0.1]:7860", "IPv4 address cannot be in brackets"),
])
def test_a_base_url_is_parsed_strictly_naming_the_variable(url, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)) as caught:
        settings_from_env({"SCENEVAULT_A1111_URL": url})
    assert "SCENEVAULT_A1111_URL" in str(caught.value) and "pw" not in str(caught.value)


def test_keys_stay_out_of_reprs():
    settings = settings_from_env({"SCENEVAULT_OPENAI_API_KEY": KEY, "SCENEVAULT_FAL_KEY": KEY,
                                  "SCENEVAULT_ELEVENLABS_API_KEY": KEY})
    config = ServerConfig(providers=settings)
    assert KEY not in repr(settings) and KEY not in repr(config)
    assert settings.secrets == (KEY, KEY, KEY)


def test_every_variable_the_code_reads_is_in_the_readme_and_the_configuration_table():
    readme = (ROOT / "README.md").read_text()
    table = (ROOT / "docs" / "configuration.md").read_text()
    sources = [ROOT / "server.py", *(ROOT / "proxy").rglob("*.py")]
    names = {name for path in sources for name in re.findall(r"SCENEVAULT_[A-Z0-9_]+", path.read_text())}
    assert len(names) >= 10
    missing = sorted(name for name in names if not re.search(rf"`{name}[`=]", readme))
    assert missing == []
    unlisted = sorted(name for name in names if not re.search(rf"^\| [^|]*`{name}[`=]", table, re.M))
    assert unlisted == []


# --- the service --------------------------------------------------------------------------------
class Scripted(Provider):
    """A provider whose generate() does whatever the test says."""

    name, kinds = "scripted", ("image",)

    def __init__(self, behaviour):
        self.behaviour = behaviour

    def models(self):
        return {"image": ("m",)}

    def generate(self, recipe, deadline):
        return self.behaviour(recipe, deadline)


def service(behaviour, **settings) -> ProviderRunner:
    values = {"default": "scripted", "timeout_s": 0.3, **settings}
    return ProviderRunner(ProviderSettings(**values), {"scripted": Scripted(behaviour)})


REQUEST = {"kind": "image", "prompt": "p", "width": 64, "height": 64}


def test_the_service_labels_pngs_with_the_effective_recipe():
    media = service(lambda r, d: GeneratedMedia(tiny_png(), "image/png", r)).generate(REQUEST)
    assert media.mime_type == "image/png" and read_recipe(media.data) == media.recipe.to_dict()
    assert isinstance(media.recipe.seed, int)


def test_bad_input_is_refused_before_any_provider_runs():
    calls = []
    with pytest.raises(RecipeError):
        service(lambda r, d: calls.append(r)).generate({**REQUEST, "width": 65})
    assert calls == []


def test_a_provider_stuck_past_its_deadline_frees_its_slot_at_the_deadline_plus_grace(capsys):
    """A worker stuck outside the transport cannot keep its slot: the caller gives it back."""
    gate, calls = threading.Event(), []

    def first_call_hangs(recipe, deadline):
        calls.append(recipe)
        if len(calls) == 1:
            gate.wait(10)
        return GeneratedMedia(tiny_png(), "image/png", recipe)
    svc = service(first_call_hangs, max_concurrent=1)
    try:
        start = time.monotonic()
        with pytest.raises(ProviderTimeout, match="0.3 s"):
            svc.generate(REQUEST)
        assert time.monotonic() - start < 0.3 + GRACE_S + 0.3
        for _ in range(3):  # the stuck worker holds no slot any more
            assert svc.generate(REQUEST).mime_type == "image/png"
        assert "still running" in capsys.readouterr().err
    finally:
        gate.set()


def fails_with(exc):
    def behaviour(recipe, deadline):
        raise exc
    return behaviour


@pytest.mark.parametrize("behaviour, error", [
    (lambda r, d: GeneratedMedia(tiny_png(), "image/png", r), None),
    (fails_with(ProviderError("upstream said no")), ProviderError),
    (fails_with(ProviderTimeout("upstream too slow")), ProviderTimeout),
    (fails_with(ZeroDivisionError("a provider bug")), ProviderError),
    (lambda r, d: GeneratedMedia(b"not an image", "image/png", r), ProviderError),
], ids=["success", "provider-error", "timeout", "unexpected", "bad-answer"])
def test_the_slot_comes_back_on_every_path(behaviour, error):
    svc = service(behaviour, max_concurrent=1)
    for _ in range(3):  # with one slot, a leaked slot would make the second call ProviderBusy
        if error is None:
            svc.generate(REQUEST)
        else:
            with pytest.raises(error):
                svc.generate(REQUEST)


def refuse_to_start(thread):
    raise RuntimeError("can't start new thread")


def test_the_slot_comes_back_when_no_thread_can_start(monkeypatch):
    svc = service(lambda r, d: GeneratedMedia(tiny_png(), "image/png", r), max_concurrent=1)
    with monkeypatch.context() as patched:
        patched.setattr(threading.Thread, "start", refuse_to_start)
        for _ in range(2):
            with pytest.raises(ProviderError, match="could not start a generation thread"):
                svc.generate(REQUEST)
    assert svc.generate(REQUEST).mime_type == "image/png"


def test_an_unexpected_exception_becomes_a_provider_error_without_the_key(capsys):
    def broken(recipe, deadline):
        raise KeyError(f"images (key {KEY})")
    with pytest.raises(ProviderError, match="KeyError") as caught:
        service(broken, openai_api_key=KEY).generate(REQUEST)
    assert KEY not in str(caught.value)
    logged = capsys.readouterr().err
    assert "KeyError" in logged and KEY not in logged


def test_an_effective_recipe_out_of_range_is_a_provider_error():
    from dataclasses import replace
    answer = lambda r, d: GeneratedMedia(tiny_png(), "image/png", replace(r, seed=2**40))  # noqa: E731
    with pytest.raises(ProviderError, match="seed"):
        service(answer).generate(REQUEST)
