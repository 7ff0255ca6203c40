"""Provider configuration from the environment, and the generation service's guarantees
(concurrency cap, deadline, unexpected failures), with stand-in providers in the same process."""

import re
import threading
import time
from pathlib import Path

import pytest

import server
from app.errors import ProviderBusy, ProviderError, ProviderTimeout, RecipeError
from app.pngmeta import read_recipe, tiny_png
from app.providers import DEFAULT_FAL_DOWNLOAD_HOSTS, ProviderSettings, build_providers, settings_from_env
from app.providers.base import GeneratedMedia, Provider
from app.providers.service import GRACE_S, GenerationService

ROOT = Path(server.__file__).resolve().parent
KEY = "sk-live-SECRET-0123456789abcdef"


def test_the_defaults_need_no_configuration():
    settings = settings_from_env({})
    assert (settings.default, settings.timeout_s, settings.max_concurrent, settings.max_media_bytes) == \
        ("local", 60.0, 4, 50 * 1024 * 1024)
    assert settings.fal_download_hosts == DEFAULT_FAL_DOWNLOAD_HOSTS
    configured = {name: p.configured for name, p in build_providers(settings).items()}
    assert configured == {"local": True, "openai": False, "a1111": False, "fal": False}


def test_every_variable_is_read():
    settings = settings_from_env({
        "SCENEVAULT_PROVIDER": "fal", "SCENEVAULT_OPENAI_BASE_URL": "http://127.0.0.1:1/v1",
        "SCENEVAULT_OPENAI_API_KEY": KEY, "SCENEVAULT_A1111_URL": "http://127.0.0.1:7860",
        "SCENEVAULT_A1111_MODELS": "a, b", "SCENEVAULT_FAL_BASE_URL": "http://127.0.0.1:2",
        "SCENEVAULT_FAL_KEY": "fal-key", "SCENEVAULT_FAL_DOWNLOAD_HOSTS": "127.0.0.1:3",
        "SCENEVAULT_PROVIDER_TIMEOUT_S": "1.5", "SCENEVAULT_MAX_CONCURRENT": "2",
        "SCENEVAULT_MAX_MEDIA_BYTES": "1000", "SCENEVAULT_OPENAI_DOWNLOAD_HOSTS": "cdn.example"})
    assert (settings.default, settings.a1111_models, settings.timeout_s, settings.max_concurrent,
            settings.max_media_bytes) == ("fal", ("a", "b"), 1.5, 2, 1000)
    providers = build_providers(settings)
    assert all(p.configured for p in providers.values())
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
    ({"SCENEVAULT_PROVIDER": "a1111"}, "SCENEVAULT_PROVIDER=a1111 is not configured"),
])
def test_bad_settings_are_refused_naming_the_variable_never_the_key(environ, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)) as caught:
        settings_from_env({**environ, "SCENEVAULT_OPENAI_API_KEY": KEY, "SCENEVAULT_FAL_KEY": KEY})
    assert KEY not in str(caught.value)


def test_the_server_turns_a_bad_setting_into_an_exit_message():
    with pytest.raises(SystemExit, match="SCENEVAULT_MAX_CONCURRENT"):
        server.config_from([], {"SCENEVAULT_MAX_CONCURRENT": "many"})


def test_keys_stay_out_of_reprs():
    settings = settings_from_env({"SCENEVAULT_OPENAI_API_KEY": KEY, "SCENEVAULT_FAL_KEY": KEY})
    config = server.ServerConfig(providers=settings)
    assert KEY not in repr(settings) and KEY not in repr(config)
    assert settings.secrets == (KEY, KEY)


def test_every_variable_the_code_reads_is_in_readmes_configuration_table():
    readme = (ROOT / "README.md").read_text()
    sources = [ROOT / "server.py", *(ROOT / "app" / "providers").glob("*.py")]
    names = {name for path in sources for name in re.findall(r"SCENEVAULT_[A-Z0-9_]+", path.read_text())}
    assert len(names) >= 10
    missing = sorted(name for name in names if not re.search(rf"`{name}[`=]", readme))
    assert missing == []


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


def service(behaviour, **settings) -> GenerationService:
    values = {"default": "scripted", "timeout_s": 0.3, **settings}
    return GenerationService(ProviderSettings(**values), {"scripted": Scripted(behaviour)})


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


def test_a_provider_that_hangs_times_out_on_time_and_keeps_its_slot_until_it_ends():
    gate = threading.Event()
    svc = service(lambda r, d: (gate.wait(5), GeneratedMedia(tiny_png(), "image/png", r))[1],
                  max_concurrent=1)
    start = time.monotonic()
    with pytest.raises(ProviderTimeout, match="0.3 s"):
        svc.generate(REQUEST)
    assert time.monotonic() - start < 0.3 + GRACE_S + 0.3
    with pytest.raises(ProviderBusy):  # the stuck worker still holds the only slot
        svc.generate(REQUEST)
    gate.set()
    deadline = time.monotonic() + 5
    while True:  # the slot comes back as soon as the worker really ends
        try:
            assert svc.generate(REQUEST).mime_type == "image/png"
            break
        except ProviderBusy:
            assert time.monotonic() < deadline, "the finished worker never gave its slot back"
            time.sleep(0.02)


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
