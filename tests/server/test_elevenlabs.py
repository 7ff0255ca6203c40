"""ElevenLabs narration through the real server.py's POST /api/generate, against a loopback
stand-in of its text-to-speech API: the key only in `xi-api-key`, the voice in the path, the
MP3 output format, the text, model and seed in the body; the MP3 bytes back with their recipe;
and the faults (an error echoing the key, a 500, an answer that is not audio, an unknown voice)."""

import json

import pytest
from jobkit import call
from proxies import error_of, post_generate, recipe_of
from standins import MP3, Reply, StandIn, elevenlabs_routes

from conftest import ROOT, start_server

KEY = "xi-test-KEY-0123456789abcdef0123"
VOICES = ("JBFqnCBsd6RMkjVDRZzb", "EXAVITQu4vr4xnSDxMaL")
NARRATION = {"kind": "audio", "prompt": "The tide came in at dusk.", "provider": "elevenlabs",
             "seed": 42}


@pytest.fixture(scope="module")
def elevenlabs():
    with StandIn() as standin:
        yield standin


@pytest.fixture(scope="module")
def voice_proxy(elevenlabs, tmp_path_factory):
    running = start_server(ROOT, tmp_path_factory.mktemp("elevenlabs") / "server.log", env={
        "SCENEVAULT_ELEVENLABS_API_KEY": KEY, "SCENEVAULT_ELEVENLABS_BASE_URL": elevenlabs.url,
        "SCENEVAULT_ELEVENLABS_VOICES": ",".join(VOICES), "SCENEVAULT_PROVIDER_TIMEOUT_S": "2"})
    yield running
    running.stop()


@pytest.fixture
def api(elevenlabs):
    elevenlabs.reset()
    elevenlabs.routes.clear()
    elevenlabs.routes.update(elevenlabs_routes(VOICES))
    return elevenlabs


def test_narration_sends_the_documented_request_and_returns_the_mp3(voice_proxy, api):
    status, headers, body = post_generate(voice_proxy, {**NARRATION, "voice": VOICES[1]})
    assert status == 200 and headers["Content-Type"] == "audio/mpeg" and body == MP3
    (seen,) = api.seen
    assert (seen.method, seen.path, seen.query) == (
        "POST", f"/v1/text-to-speech/{VOICES[1]}", "output_format=mp3_44100_128")
    assert seen.headers["xi-api-key"] == KEY and "authorization" not in seen.headers
    assert seen.json() == {"text": NARRATION["prompt"], "model_id": "eleven_multilingual_v2", "seed": 42}
    recipe = recipe_of(headers)
    assert (recipe["provider"], recipe["model"], recipe["voice"], recipe["seed"]) == (
        "elevenlabs", "eleven_multilingual_v2", VOICES[1], 42)


def test_the_first_voice_and_a_chosen_seed_are_the_defaults(voice_proxy, api):
    body = {name: value for name, value in NARRATION.items() if name != "seed"}
    status, headers, _ = post_generate(voice_proxy, body)
    recipe = recipe_of(headers)
    assert status == 200 and recipe["voice"] == VOICES[0]
    assert api.seen[0].path.endswith(VOICES[0]) and api.seen[0].json()["seed"] == recipe["seed"]


def test_the_catalog_lists_the_voices_and_model_but_no_key(voice_proxy, server):
    status, _, raw = call(voice_proxy, "GET", "/api/providers")
    entry = next(p for p in json.loads(raw)["providers"] if p["name"] == "elevenlabs")
    assert (entry["kinds"], entry["models"], entry["voices"], entry["configured"], entry["deterministic"]) == (
        ["audio"], ["eleven_multilingual_v2"], list(VOICES), True, False)
    assert KEY not in raw.decode()
    default = json.loads(call(server, "GET", "/api/providers")[2])
    assert next(p for p in default["providers"] if p["name"] == "elevenlabs")["configured"] is False


@pytest.mark.parametrize("change, code", [
    ({"voice": "Rachel"}, "invalid_voice"), ({"voice": "../../v1/user"}, "invalid_voice"),
    ({"model": "eleven_v3"}, "invalid_model"), ({"kind": "image"}, "invalid_kind"),
    ({"width": 512}, "invalid_width"),
])
def test_bad_input_is_refused_before_anything_is_sent(voice_proxy, api, change, code):
    error_of(*post_generate(voice_proxy, {**NARRATION, **change}), 400, code)
    assert api.seen == []


@pytest.mark.parametrize("reply, fragment", [
    (Reply(500, b'{"detail": {"status": "internal_error"}}'), "HTTP 500"),
    (Reply(422, b'{"detail": [{"msg": "text too long"}]}'), "text too long"),
    (Reply(200, b"<html>captive portal</html>", {"Content-Type": "audio/mpeg"}), "not a known audio format"),
    (Reply(200, b"RIFF\x00\x00\x00\x00WEBPVP8 ", {"Content-Type": "audio/mpeg"}), "not a known audio format"),
], ids=["500", "422", "html", "an-image"])
def test_a_failing_or_garbled_answer_is_a_502(voice_proxy, api, reply, fragment):
    api.routes[("POST", f"/v1/text-to-speech/{VOICES[0]}")] = lambda seen: reply
    assert fragment in error_of(*post_generate(voice_proxy, NARRATION), 502, "provider_failed")


def test_a_key_echoed_back_reaches_no_message_and_no_log(voice_proxy, api):
    api.routes[("POST", f"/v1/text-to-speech/{VOICES[0]}")] = lambda seen: Reply(
        401, json.dumps({"detail": {"status": "invalid_api_key",
                                    "message": f"Invalid API key: {seen.headers['xi-api-key']}"}}).encode())
    message = error_of(*post_generate(voice_proxy, NARRATION), 502, "provider_failed")
    assert "HTTP 401" in message and "invalid_api_key" in message
    assert KEY not in message and KEY[:12] not in message and KEY[-10:] not in message
    log = voice_proxy.log()
    assert "/api/generate" in log and KEY not in log

