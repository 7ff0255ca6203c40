"""Each remote provider through the real server.py, against loopback stand-ins that speak its
documented wire format: what the proxy sends (key in the right header, the right fields), what
it returns (raw bytes, real type, recipe header, PNG metadata), and that keys never leak."""

import base64
import json
from urllib.parse import quote, quote_plus

from proxies import (FAL_KEY, OPENAI_KEY, error_of, fresh, post_generate, provider_env,  # noqa: F401
                     proxy, recipe_of, standins)
from standins import PNG, WAV, Reply, cdn_routes, json_reply, noisy_png
from test_static_files import request

from app.core.pngmeta import iter_chunks, parse_parameters, read_recipe, read_text
from conftest import ROOT, start_server

IMAGE = {"kind": "image", "prompt": "a red fox in the snow", "seed": 1234, "width": 512, "height": 512}


def pixel_data(png: bytes) -> bytes:
    return b"".join(bytes(c.data) for c in iter_chunks(png) if c.type == b"IDAT")


# --- /api/providers -----------------------------------------------------------------------------
def test_the_catalog_lists_every_provider_configured_and_no_key(proxy):
    status, _, body = request(proxy, "GET", "/api/providers")
    catalog = json.loads(body)
    assert status == 200 and catalog["default"] == "local"
    by_name = {p["name"]: p for p in catalog["providers"]}
    # comfyui is listed only once configured; elevenlabs is listed, not configured here
    assert set(by_name) == {"local", "openai", "a1111", "fal", "elevenlabs"}
    assert {name for name, p in by_name.items() if p["configured"]} == {"local", "openai", "a1111", "fal"}
    assert by_name["local"]["deterministic"] is True and by_name["openai"]["deterministic"] is False
    assert by_name["openai"]["kinds"] == ["image", "audio"] and by_name["fal"]["kinds"] == ["image", "clip"]
    assert by_name["fal"]["models_by_kind"]["clip"] == ["fal-ai/kling-video/v2.1/standard/image-to-video"]
    assert "sd_xl_base_1.0" in by_name["a1111"]["models"]
    assert OPENAI_KEY not in body.decode() and FAL_KEY not in body.decode()


def test_an_unconfigured_provider_is_listed_as_such_and_refused(server):
    catalog = json.loads(request(server, "GET", "/api/providers")[2])
    configured = {p["name"]: p["configured"] for p in catalog["providers"]}
    assert configured["local"] and not configured["a1111"]
    fal = next(p for p in catalog["providers"] if p["name"] == "fal")
    assert fal["kinds"] == ["image"] and "clip" not in fal["models_by_kind"]  # clips once configured
    message = error_of(*post_generate(server, {**IMAGE, "provider": "a1111"}), 400, "invalid_provider")
    assert "a1111" in message and "not configured" in message


def test_a_bad_provider_setting_stops_the_server_naming_the_variable(tmp_path):
    log = tmp_path / "server.log"
    try:
        start_server(ROOT, log, env={"SCENEVAULT_PROVIDER": "openai", "SCENEVAULT_OPENAI_API_KEY": ""})
    except RuntimeError:
        pass
    else:
        raise AssertionError("server.py started with an unconfigured default provider")
    assert "SCENEVAULT_PROVIDER=openai is not configured" in log.read_text()


# --- openai -------------------------------------------------------------------------------------
def test_openai_images_send_the_key_as_bearer_and_return_the_png(proxy, fresh):
    status, headers, body = post_generate(proxy, {**IMAGE, "provider": "openai", "model": "dall-e-3"})
    assert status == 200 and headers["Content-Type"] == "image/png"
    seen = fresh.openai.seen[0]
    assert (seen.method, seen.path) == ("POST", "/v1/images/generations")
    assert seen.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert seen.json() == {"model": "dall-e-3", "prompt": IMAGE["prompt"], "n": 1, "size": "512x512",
                           "response_format": "b64_json"}
    assert pixel_data(body) == pixel_data(PNG)
    recipe = recipe_of(headers)
    assert (recipe["provider"], recipe["model"], recipe["seed"]) == ("openai", "dall-e-3", 1234)
    assert read_recipe(body) == recipe


def test_gpt_image_models_get_no_response_format(proxy, fresh):
    assert post_generate(proxy, {**IMAGE, "provider": "openai", "model": "gpt-image-1"})[0] == 200
    assert "response_format" not in fresh.openai.seen[0].json()


def test_openai_url_answers_are_downloaded_without_the_key(proxy, fresh):
    fresh.openai.routes[("POST", "/v1/images/generations")] = lambda seen: json_reply(
        {"created": 1, "data": [{"url": f"{fresh.openai.url}/files/result.png"}]})
    fresh.openai.routes.update(cdn_routes())
    status, headers, body = post_generate(proxy, {**IMAGE, "provider": "openai"})
    assert status == 200 and read_recipe(body)["provider"] == "openai"
    download = fresh.openai.seen[1]
    assert download.path == "/files/result.png" and "authorization" not in download.headers


def test_openai_speech_sends_input_and_voice_and_returns_the_audio(proxy, fresh):
    body = {"kind": "audio", "prompt": "Once upon a time.", "provider": "openai", "model": "tts-1",
            "voice": "nova"}
    status, headers, data = post_generate(proxy, body)
    assert status == 200 and headers["Content-Type"] == "audio/wav"
    assert data == WAV
    seen = fresh.openai.seen[0]
    assert seen.path == "/v1/audio/speech" and seen.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert seen.json() == {"model": "tts-1", "input": "Once upon a time.", "voice": "nova",
                           "response_format": "wav"}
    assert recipe_of(headers)["voice"] == "nova"


# --- a1111 --------------------------------------------------------------------------------------
def test_a1111_gets_txt2img_fields_and_the_seed_comes_from_its_info(proxy, fresh):
    body = {**IMAGE, "provider": "a1111", "negative_prompt": "blurry", "steps": 20}
    status, headers, data = post_generate(proxy, body)
    assert status == 200 and headers["Content-Type"] == "image/png"
    sent = fresh.a1111.seen[0]
    assert sent.path == "/sdapi/v1/txt2img" and "authorization" not in sent.headers
    payload = sent.json()
    assert {k: payload[k] for k in ("prompt", "negative_prompt", "seed", "steps", "width", "height",
                                    "batch_size", "n_iter")} == {
        "prompt": IMAGE["prompt"], "negative_prompt": "blurry", "seed": 1234, "steps": 20,
        "width": 512, "height": 512, "batch_size": 1, "n_iter": 1}
    assert "override_settings" not in payload  # model "current": whatever the web UI has loaded
    assert recipe_of(headers)["seed"] == 3_000_000_001
    parameters = parse_parameters(read_text(data)["parameters"])
    assert parameters.settings["Seed"] == "3000000001" and parameters.negative_prompt == "blurry"


def test_a1111_models_other_than_current_are_sent_as_an_override(proxy, fresh):
    assert post_generate(proxy, {**IMAGE, "provider": "a1111", "model": "sd_xl_base_1.0"})[0] == 200
    assert fresh.a1111.seen[0].json()["override_settings"] == {"sd_model_checkpoint": "sd_xl_base_1.0"}


def test_a1111_info_without_a_usable_seed_is_a_502(proxy, fresh):
    fresh.a1111.routes[("POST", "/sdapi/v1/txt2img")] = lambda seen: json_reply(
        {"images": [base64.b64encode(noisy_png(8, 8)).decode()], "info": json.dumps({"seed": -1})})
    assert "seed" in error_of(*post_generate(proxy, {**IMAGE, "provider": "a1111"}), 502, "provider_failed")


# --- fal ----------------------------------------------------------------------------------------
def test_fal_submits_polls_fetches_and_downloads_the_temporary_url(proxy, fresh):
    status, headers, data = post_generate(proxy, {**IMAGE, "provider": "fal", "negative_prompt": "fog"})
    assert status == 200 and headers["Content-Type"] == "image/png"
    calls = [(s.method, s.path) for s in fresh.fal.seen]
    assert calls[0] == ("POST", "/fal-ai/flux/schnell")
    assert calls[1:-1] == [("GET", "/fal-ai/flux/requests/req-1/status")] * 3  # queued, running, done
    assert calls[-1] == ("GET", "/fal-ai/flux/requests/req-1")
    assert all(s.headers["authorization"] == f"Key {FAL_KEY}" for s in fresh.fal.seen)
    submitted = fresh.fal.seen[0].json()
    assert submitted["prompt"] == IMAGE["prompt"] and submitted["negative_prompt"] == "fog"
    assert submitted["image_size"] == {"width": 512, "height": 512} and submitted["seed"] == 1234
    assert [s.path for s in fresh.cdn.seen] == ["/files/result.png"]
    assert "authorization" not in fresh.cdn.seen[0].headers  # the key never goes to the CDN
    assert recipe_of(headers)["seed"] == 77  # the seed fal reports
    assert read_recipe(data)["provider"] == "fal"


def test_fal_queue_urls_on_another_host_are_refused(proxy, fresh):
    fresh.fal.routes[("POST", "/fal-ai/flux/schnell")] = lambda seen: json_reply(
        {"request_id": "req-1", "status_url": f"{fresh.forbidden.url}/status",
         "response_url": f"{fresh.forbidden.url}/result"})
    assert "another host" in error_of(*post_generate(proxy, {**IMAGE, "provider": "fal"}), 502,
                                      "provider_failed")
    assert fresh.forbidden.seen == []


# --- keys ---------------------------------------------------------------------------------------
def test_keys_appear_in_no_response_and_no_log_line(proxy, fresh):
    echo = lambda seen: Reply(401, f"bad key {seen.headers.get('authorization')}".encode())  # noqa: E731
    fresh.openai.routes[("POST", "/v1/images/generations")] = echo
    fresh.fal.routes[("POST", "/fal-ai/flux/schnell")] = echo
    answers = [post_generate(proxy, {**IMAGE, "provider": name}) for name in ("openai", "fal")]
    answers.append(request(proxy, "GET", "/api/providers"))
    for status, headers, body in answers:
        shown = body.decode("utf-8", "replace") + str(headers)
        assert OPENAI_KEY not in shown and FAL_KEY not in shown
        assert OPENAI_KEY[:12] not in shown and FAL_KEY[-10:] not in shown
    assert answers[0][0] == 502 and "401" in json.loads(answers[0][2])["error"]["message"]
    log = proxy.log()
    assert "/api/generate" in log  # the log is on, and it logged these requests ...
    assert OPENAI_KEY not in log and FAL_KEY not in log  # ... without a key
    assert fresh.openai.seen[0].headers["authorization"].endswith(OPENAI_KEY)  # the key was used


SPECIAL_KEY = 'sk-live/AbC+dEf GhI&jKl"mNo\\pQr~0123456789'  # each spelling differs


def spelled(key: str) -> list[str]:
    """The key as an upstream might echo it: raw, URL-encoded, Basic-auth base64, JSON-escaped."""
    b64 = lambda text: base64.b64encode(text.encode()).decode()  # noqa: E731
    return [key, quote(key), quote(key, safe=""), quote_plus(key), b64(f"user:{key}"),
            b64(f":{key}"), b64(f"{key}:"), json.dumps(key)[1:-1]]


def test_a_key_echoed_in_every_spelling_reaches_no_message_and_no_log(standins, fresh, tmp_path):
    """Also across the 300-character cut, where cut-then-redact left the key's first characters."""
    proxy = start_server(ROOT, tmp_path / "server.log",
                         env=provider_env(standins, SCENEVAULT_OPENAI_API_KEY=SPECIAL_KEY))
    try:
        for padding in (0, 300 - 6):
            echo = "x" * padding + " | ".join(spelled(SPECIAL_KEY)) + "\r\nX-Forged: log line"
            fresh.openai.routes[("POST", "/v1/images/generations")] = \
                lambda seen, echo=echo: Reply(401, echo.encode())
            message = error_of(*post_generate(proxy, {**IMAGE, "provider": "openai"}), 502,
                               "provider_failed")
            assert "HTTP 401" in message and "***" in message and "\n" not in message
            assert SPECIAL_KEY[:6] not in message  # at 294 the raw key's first 6 are before the cut
            assert not any(form in message for form in spelled(SPECIAL_KEY))
        assert fresh.openai.seen[-1].headers["authorization"] == f"Bearer {SPECIAL_KEY}"
        log = proxy.log()
        assert "/api/generate" in log and not any(form in log for form in spelled(SPECIAL_KEY))
    finally:
        proxy.stop()


def test_server_code_is_never_served_but_the_pure_core_is(server):
    for path in ("/proxy/providers/__init__.py", "/proxy/providers/openai.py", "/proxy/config.py",
                 "/proxy/guards.py", "/app/providers/service.py", "/app/../proxy/routes.py"):
        assert request(server, "GET", path)[0] == 404
    for path in ("/app/core/recipe.py", "/app/core/pngmeta.py"):
        assert request(server, "GET", path)[0] == 200
