"""POST /api/generate through the real server.py: local media with its recipe, determinism across
processes, every kind of bad input, and every fault (provider error, garbage, timeout, oversize,
SSRF attempts, too many at once) answered with the right status while the server stays up."""

import base64
import hashlib
import json
import threading
import time

import pytest
from proxies import (TIMEOUT_S, error_of, fresh, post_generate, provider_env, proxy,  # noqa: F401
                     recipe_of, standins)
from standins import PNG, Reply, json_reply, noisy_png
from test_static_files import request

from app.core.pngmeta import parse_parameters, read_recipe, read_text
from conftest import ROOT, start_server

IMAGE = {"kind": "image", "prompt": "a lighthouse on a cliff at dusk", "seed": 42}


# --- the local provider -------------------------------------------------------------------------
def test_an_image_comes_back_as_png_bytes_with_its_recipe(server):
    status, headers, body = post_generate(server, IMAGE)
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert int(headers["Content-Length"]) == len(body) and body.startswith(b"\x89PNG")
    assert headers["Cache-Control"] == "no-store"
    recipe = recipe_of(headers)
    assert recipe == {"kind": "image", "prompt": IMAGE["prompt"], "negative_prompt": "", "seed": 42,
                      "width": 1024, "height": 576, "steps": 30, "provider": "local",
                      "model": "scenevault-sketch-1", "version": 1}
    assert read_recipe(body) == recipe
    parameters = parse_parameters(read_text(body)["parameters"])
    assert parameters.prompt == IMAGE["prompt"]
    assert parameters.to_recipe_fields()["seed"] == 42 and parameters.settings["Size"] == "1024x576"


def test_narration_comes_back_as_wav_with_its_recipe(server):
    status, headers, body = post_generate(server, {"kind": "audio", "prompt": "Hello there, traveller."})
    assert status == 200 and headers["Content-Type"] == "audio/wav"
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE"
    recipe = recipe_of(headers)
    assert recipe["voice"] == "narrator" and isinstance(recipe["seed"], int)


def test_a_missing_seed_is_chosen_reported_and_regenerates_identically(server):
    status, headers, first = post_generate(server, {"kind": "image", "prompt": "a fox", "width": 256,
                                                    "height": 256})
    recipe = recipe_of(headers)
    assert status == 200 and 0 <= recipe["seed"] <= 2**32 - 1
    status, headers, again = post_generate(server, recipe)  # the stored recipe, sent back as is
    assert status == 200 and recipe_of(headers) == recipe
    assert hashlib.sha256(again).digest() == hashlib.sha256(first).digest()


def test_a_non_ascii_prompt_travels_as_ascii_json_in_the_header(server):
    body = {**IMAGE, "prompt": "雪の中の狐 🦊", "width": 128, "height": 128}
    status, headers, body = post_generate(server, body)
    assert status == 200 and "\\u96ea" in headers["X-SceneVault-Recipe"]
    assert recipe_of(headers)["prompt"] == "雪の中の狐 🦊" == read_recipe(body)["prompt"]


def test_the_same_recipe_gives_the_same_sha256_in_two_server_processes(server, tmp_path):
    other = start_server(ROOT, tmp_path / "other.log", "--quiet")
    try:
        for body in (IMAGE, {"kind": "audio", "prompt": "The same words twice.", "seed": 9}):
            ours, theirs = post_generate(server, body), post_generate(other, body)
            assert ours[0] == theirs[0] == 200
            assert hashlib.sha256(ours[2]).hexdigest() == hashlib.sha256(theirs[2]).hexdigest()
    finally:
        other.stop()


def test_prompt_and_seed_change_the_bytes(server):
    base = post_generate(server, {**IMAGE, "width": 256, "height": 144})[2]
    assert post_generate(server, {**IMAGE, "width": 256, "height": 144, "seed": 43})[2] != base
    assert post_generate(server, {**IMAGE, "width": 256, "height": 144, "prompt": "a desert"})[2] != base


# --- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("change, code, named", [
    ({"kind": "video"}, "invalid_kind", "kind"),
    ({"prompt": ""}, "invalid_prompt", "prompt"),
    ({"prompt": "x" * 4001}, "invalid_prompt", "prompt"),
    ({"negative_prompt": "n" * 4001}, "invalid_negative_prompt", "negative_prompt"),
    ({"width": 63}, "invalid_width", "width"),
    ({"width": 2056}, "invalid_width", "width"),
    ({"height": 577}, "invalid_height", "height"),
    ({"seed": -1}, "invalid_seed", "seed"),
    ({"seed": 2**32}, "invalid_seed", "seed"),
    ({"seed": True}, "invalid_seed", "seed"),
    ({"seed": "42"}, "invalid_seed", "seed"),
    ({"steps": 0}, "invalid_steps", "steps"),
    ({"steps": 151}, "invalid_steps", "steps"),
    ({"provider": "midjourney"}, "invalid_provider", "provider"),
    ({"model": "sdxl"}, "invalid_model", "model"),
    ({"voice": "narrator"}, "invalid_voice", "voice"),
    ({"kind": "audio", "width": 512}, "invalid_width", "width"),
    ({"kind": "audio", "voice": "robot"}, "invalid_voice", "voice"),
    ({"sampler": "Euler a"}, "unknown_field", "sampler"),
    ({"version": 2}, "invalid_version", "version"),
])
def test_every_kind_of_bad_input_is_a_400_naming_the_field(server, change, code, named):
    message = error_of(*post_generate(server, {**IMAGE, **change}), 400, code)
    assert named in message


def test_generate_accepts_only_post(server):
    message = error_of(*request(server, "GET", "/api/generate"), 405, "method_not_allowed")
    assert "POST" in message and "GET" in message


# --- provider faults ----------------------------------------------------------------------------
A1111 = {**IMAGE, "provider": "a1111", "width": 512, "height": 512}
FAL = {**A1111, "provider": "fal"}


def a1111_answers(fresh, reply):
    fresh.a1111.routes[("POST", "/sdapi/v1/txt2img")] = lambda seen: reply


def a1111_image(data: bytes) -> Reply:
    return json_reply({"images": [base64.b64encode(data).decode()], "info": json.dumps({"seed": 5})})


def fal_result_url(fresh, url: str):
    fresh.fal.routes[("GET", "/fal-ai/flux/requests/req-1")] = lambda seen: json_reply(
        {"images": [{"url": url}], "seed": 1})


@pytest.mark.parametrize("reply, fragment", [
    (Reply(500, b"CUDA out of memory"), "HTTP 500"),
    (Reply(200, b"<html>Gateway</html>"), "not JSON"),
    (json_reply({"detail": "queued"}), "without images"),
    (json_reply({"images": ["%%% not base64 %%%"], "info": "{}"}), "not base64"),
    (a1111_image(b"%PDF-1.7 a document, not an image"), "not a known image format"),
    (a1111_image(b"\x00\x01garbage" * 50), "not a known image format"),
    (a1111_image(PNG[:-5] + b"\x00" * 5), "broken PNG"),
    (Reply(200, b"{", {"Content-Length": "5000"}, chunks=[b'{"images": [']), "broke off"),
], ids=["500", "html", "no-images", "bad-base64", "not-an-image", "garbage-bytes", "bad-crc", "hang-up"])
def test_a_failing_or_garbled_provider_is_a_502(proxy, fresh, reply, fragment):
    a1111_answers(fresh, reply)
    assert fragment in error_of(*post_generate(proxy, A1111), 502, "provider_failed")


def test_a_slow_provider_is_a_504_within_a_second_of_the_timeout(proxy, fresh):
    fresh.a1111.routes[("POST", "/sdapi/v1/txt2img")] = lambda seen: (fresh.a1111.release.wait(20), Reply(500))[1]
    start = time.monotonic()
    message = error_of(*post_generate(proxy, A1111), 504, "provider_timeout")
    elapsed = time.monotonic() - start
    assert TIMEOUT_S - 0.1 <= elapsed <= TIMEOUT_S + 1.0, elapsed
    assert f"{TIMEOUT_S} s" in message


def test_a_queue_that_never_finishes_is_a_504(proxy, fresh):
    fresh.fal.routes[("GET", "/fal-ai/flux/requests/req-1/status")] = lambda seen: json_reply({"status": "IN_QUEUE"})
    start = time.monotonic()
    message = error_of(*post_generate(proxy, FAL), 504, "provider_timeout")
    assert time.monotonic() - start <= TIMEOUT_S + 1.0
    assert len(fresh.fal.seen) > 3  # it kept polling until the deadline
    assert fresh.fal.url.rstrip("/") in message, message  # the message says which upstream it was


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "streamed"])
def test_a_result_over_the_size_cap_is_a_502(proxy, fresh, streamed):
    big = noisy_png(1100, 1000)  # ~3.3 MB against a 3 MB cap
    reply = Reply(200, b"", {}, chunks=(big[i:i + 65536] for i in range(0, len(big), 65536))) if streamed \
        else Reply(200, big, {"Content-Type": "image/png"})
    fresh.cdn.routes[("GET", "/files/result.png")] = lambda seen: reply
    assert "cap" in error_of(*post_generate(proxy, FAL), 502, "provider_failed")


def test_an_inline_image_over_the_size_cap_is_a_502(proxy, fresh):
    a1111_answers(fresh, a1111_image(noisy_png(1100, 1000)))
    assert "cap" in error_of(*post_generate(proxy, A1111), 502, "provider_failed")


def test_a_result_url_off_the_allowlist_is_refused_unfetched(proxy, fresh):
    fal_result_url(fresh, f"{fresh.forbidden.url}/files/result.png")
    assert "not an allowed download host" in error_of(*post_generate(proxy, FAL), 502, "provider_failed")
    assert fresh.forbidden.seen == []


def test_an_allowlisted_host_on_another_port_is_refused(proxy, fresh):
    fal_result_url(fresh, f"{fresh.a1111.url}/files/result.png")
    error_of(*post_generate(proxy, FAL), 502, "provider_failed")
    assert fresh.a1111.seen == []


def test_a_redirect_off_the_allowlisted_host_is_refused_unfollowed(proxy, fresh):
    fresh.cdn.routes[("GET", "/files/result.png")] = lambda seen: Reply(
        302, b"", {"Location": f"{fresh.forbidden.url}/files/result.png"})
    assert "redirected" in error_of(*post_generate(proxy, FAL), 502, "provider_failed")
    assert [s.path for s in fresh.cdn.seen] == ["/files/result.png"] and fresh.forbidden.seen == []


def test_a_redirect_on_the_same_host_is_followed(proxy, fresh):
    fresh.cdn.routes[("GET", "/files/moved.png")] = fresh.cdn.routes[("GET", "/files/result.png")]
    fresh.cdn.routes[("GET", "/files/result.png")] = lambda seen: Reply(302, b"", {"Location": "/files/moved.png"})
    status, _, body = post_generate(proxy, FAL)
    assert status == 200 and read_recipe(body)["provider"] == "fal"
    assert [s.path for s in fresh.cdn.seen] == ["/files/result.png", "/files/moved.png"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/result.png",
                                 "gopher://127.0.0.2:70/x", "data:image/png;base64,iVBORw0KGgo=",
                                 "//127.0.0.2/result.png", "http://user@127.0.0.2/result.png"])
def test_result_urls_with_other_schemes_or_userinfo_are_refused(proxy, fresh, url):
    fal_result_url(fresh, url)
    error_of(*post_generate(proxy, FAL), 502, "provider_failed")
    assert fresh.forbidden.seen == []


def test_the_server_stays_up_after_every_fault(proxy, fresh):
    assert request(proxy, "GET", "/api/health")[0] == 200
    assert post_generate(proxy, {**IMAGE, "width": 128, "height": 128})[0] == 200
    assert post_generate(proxy, A1111)[0] == 200


# --- concurrency --------------------------------------------------------------------------------
def test_past_the_concurrency_cap_the_answer_is_429_and_the_slot_comes_back(standins, fresh, tmp_path):
    single = start_server(ROOT, tmp_path / "single.log", "--quiet",
                          env=provider_env(standins, SCENEVAULT_MAX_CONCURRENT="1",
                                           SCENEVAULT_PROVIDER_TIMEOUT_S="20"))
    release = fresh.a1111.release
    fresh.a1111.routes[("POST", "/sdapi/v1/txt2img")] = lambda seen: (release.wait(20), a1111_image(PNG))[1]
    first: list = []
    worker = threading.Thread(target=lambda: first.append(post_generate(single, A1111)))
    try:
        worker.start()
        deadline = time.monotonic() + 10
        while not fresh.a1111.seen and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "already running" in error_of(*post_generate(single, IMAGE), 429, "too_many_requests")
        release.set()
        worker.join(20)
        assert first[0][0] == 200
        assert post_generate(single, {**IMAGE, "width": 64, "height": 64})[0] == 200
    finally:
        release.set()
        single.stop()
