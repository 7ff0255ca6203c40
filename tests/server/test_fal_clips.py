"""Clips from FAL's image-to-video queue, as jobs through the real server.py, against a loopback
stand-in of the queue (submit, status, result, cancel) and of the CDN: what the proxy sends (the
key as `Authorization: Key`, the frame as a data URI in the model's own field, the length), what
the page gets (the clip, its recipe), and every fault: a 500, garbage, a result URL off the
allowlist, a redirect off the host, queue URLs on another host, a job that never finishes, and a
job cancelled half-way (the stand-in sees the PUT to cancel_url)."""

import base64
import hashlib
import json

import pytest
from jobkit import call, job_body, job_status, start_job, wait_for, wait_until
from proxies import FAL_KEY, error_of, fresh, provider_env, recipe_of, standins  # noqa: F401
from standins import FAL_VIDEO_MODEL, MP4, PNG, Reply, fal_video_routes, json_reply, noisy_png

from conftest import ROOT, start_server

V3 = "fal-ai/kling-video/v3/pro/image-to-video"
WAN = "fal-ai/wan-flf2v"
STATUS = "/fal-ai/kling-video/requests/vid-1/status"
RESULT = "/fal-ai/kling-video/requests/vid-1"
CANCEL = "/fal-ai/kling-video/requests/vid-1/cancel"
CLIP = {"provider": "fal", "model": FAL_VIDEO_MODEL}


@pytest.fixture(scope="module")
def clip_proxy(standins, tmp_path_factory):
    """server.py with the stand-ins and three FAL video models."""
    running = start_server(ROOT, tmp_path_factory.mktemp("fal-clips") / "server.log", env=provider_env(
        standins, SCENEVAULT_FAL_VIDEO_MODELS=f"{FAL_VIDEO_MODEL}, {V3},{WAN}"))
    yield running
    running.stop()


@pytest.fixture
def queue(fresh):
    """The FAL stand-in speaking the image-to-video models' queue; the CDN holds the clip."""
    clip_url = f"{fresh.cdn.url}/files/clip.mp4"
    for model in (FAL_VIDEO_MODEL, V3, WAN):
        fresh.fal.routes.update(fal_video_routes(fresh.fal, lambda: clip_url, model))
    return fresh


def calls(standin):
    return [(seen.method, seen.path) for seen in standin.seen]


def fal_answers(queue, path, reply, method="GET"):
    queue.fal.routes[(method, path)] = lambda seen: reply


def test_a_clip_is_submitted_polled_fetched_and_downloaded(clip_proxy, queue):
    job_id = start_job(clip_proxy, job_body(**CLIP, seconds=10))
    done = wait_for(clip_proxy, job_id, "succeeded")
    assert calls(queue.fal)[0] == ("POST", f"/{FAL_VIDEO_MODEL}")
    assert calls(queue.fal)[1:-1] == [("GET", STATUS)] * 3 and calls(queue.fal)[-1] == ("GET", RESULT)
    assert all(seen.headers["authorization"] == f"Key {FAL_KEY}" for seen in queue.fal.seen)
    sent = queue.fal.seen[0].json()
    assert sent == {"prompt": job_body()["prompt"], "duration": "10",
                    "image_url": "data:image/png;base64," + base64.b64encode(PNG).decode()}
    assert calls(queue.cdn) == [("GET", "/files/clip.mp4")]
    assert "authorization" not in queue.cdn.seen[0].headers  # the key never goes to the CDN
    status, headers, body = call(clip_proxy, "GET", f"/api/jobs/{job_id}/result")
    assert (status, headers["Content-Type"], body) == (200, "video/mp4", MP4)
    recipe = recipe_of(headers)
    assert recipe == done["recipe"]
    assert (recipe["provider"], recipe["model"], recipe["seconds"], recipe["input_sha256"]) == (
        "fal", FAL_VIDEO_MODEL, 10, hashlib.sha256(PNG).hexdigest())
    assert ("PUT", CANCEL) not in calls(queue.fal)


def test_the_frame_goes_in_the_field_its_model_takes(clip_proxy, queue):
    wait_for(clip_proxy, start_job(clip_proxy, job_body(provider="fal", model=V3, seconds=7)),
             "succeeded")
    sent = queue.fal.seen[0]
    assert sent.path == f"/{V3}" and set(sent.json()) == {"prompt", "start_image_url", "duration"}
    assert sent.json()["start_image_url"].startswith("data:image/png;base64,")
    assert sent.json()["duration"] == "7"


def test_a_model_that_takes_a_seed_gets_it_and_the_reported_seed_is_kept(clip_proxy, queue):
    queue.fal.routes[("GET", "/fal-ai/wan-flf2v/requests/vid-1")] = lambda seen: json_reply(
        {"video": {"url": f"{queue.cdn.url}/files/clip.mp4"}, "seed": 99})
    job_id = start_job(clip_proxy, job_body(provider="fal", model=WAN, seed=1234))
    assert wait_for(clip_proxy, job_id, "succeeded")["recipe"]["seed"] == 99
    sent = queue.fal.seen[0].json()
    assert sent["seed"] == 1234 and "duration" not in sent and "start_image_url" in sent


def test_a_length_the_model_does_not_offer_is_refused_before_anything_is_sent(clip_proxy, queue):
    message = error_of(*call(clip_proxy, "POST", "/api/jobs", job_body(**CLIP, seconds=7)), 400,
                       "invalid_seconds")
    assert "5 or 10" in message and queue.fal.seen == []


def test_a_model_not_offered_is_refused(clip_proxy, queue):
    error_of(*call(clip_proxy, "POST", "/api/jobs", job_body(provider="fal", model="fal-ai/flux/dev")),
             400, "invalid_model")
    assert queue.fal.seen == []


# --- faults -------------------------------------------------------------------------------------
@pytest.mark.parametrize("reply, fragment", [
    (Reply(500, b"internal error"), "HTTP 500"),
    (Reply(200, b"<html>Bad gateway</html>"), "not JSON"),
    (json_reply({"status": "EXPLODED"}), "EXPLODED"),
    (json_reply(["not", "an", "object"]), "not an object"),
], ids=["500", "garbage", "unknown-status", "not-an-object"])
def test_a_failing_status_fails_the_job_and_cancels_it_upstream(clip_proxy, queue, reply, fragment):
    fal_answers(queue, STATUS, reply)
    job_id = start_job(clip_proxy, job_body(**CLIP))
    error = wait_for(clip_proxy, job_id, "failed")["error"]
    assert error["code"] == "provider_failed" and fragment in error["message"]
    assert fragment in error_of(*call(clip_proxy, "GET", f"/api/jobs/{job_id}/result"), 502,
                                "provider_failed")
    wait_until(lambda: ("PUT", CANCEL) in calls(queue.fal), "the upstream cancel")


def test_a_failed_submission_is_a_failed_job(clip_proxy, queue):
    fal_answers(queue, f"/{FAL_VIDEO_MODEL}", Reply(422, b'{"detail": "image too small"}'), "POST")
    error = wait_for(clip_proxy, start_job(clip_proxy, job_body(**CLIP)), "failed")["error"]
    assert "HTTP 422" in error["message"] and "image too small" in error["message"]
    assert calls(queue.fal) == [("POST", f"/{FAL_VIDEO_MODEL}")]


def test_a_clip_fal_reports_as_failed_fails_the_job_without_a_cancel(clip_proxy, queue):
    fal_answers(queue, STATUS, json_reply({"status": "COMPLETED", "error": "NSFW content detected"}))
    error = wait_for(clip_proxy, start_job(clip_proxy, job_body(**CLIP)), "failed")["error"]
    assert "NSFW content detected" in error["message"]
    assert ("PUT", CANCEL) not in calls(queue.fal) and ("GET", RESULT) not in calls(queue.fal)


@pytest.mark.parametrize("result, fragment", [
    ({"video": {"url": "http://127.0.0.2:{port}/files/clip.mp4"}}, "not an allowed download host"),
    ({"video": {"url": "file:///etc/passwd"}}, "only http and https"),
    ({"video": {}}, "no video.url"),
    ({"images": [{"url": "x"}]}, "no video.url"),
], ids=["off-allowlist", "file-url", "no-url", "an-image-result"])
def test_a_result_url_that_breaks_the_rules_is_never_fetched(clip_proxy, queue, result, fragment):
    result = json.loads(json.dumps(result).replace("{port}", str(queue.forbidden.server_address[1])))
    fal_answers(queue, RESULT, json_reply(result))
    error = wait_for(clip_proxy, start_job(clip_proxy, job_body(**CLIP)), "failed")["error"]
    assert error["code"] == "provider_failed" and fragment in error["message"]
    assert queue.forbidden.seen == [] and queue.cdn.seen == []
    assert ("PUT", CANCEL) not in calls(queue.fal)  # done upstream: nothing to cancel


def test_a_redirect_off_the_cdn_host_is_refused_unfollowed(clip_proxy, queue):
    queue.cdn.routes[("GET", "/files/clip.mp4")] = lambda seen: Reply(
        302, b"", {"Location": f"{queue.forbidden.url}/files/clip.mp4"})
    error = wait_for(clip_proxy, start_job(clip_proxy, job_body(**CLIP)), "failed")["error"]
    assert "redirected" in error["message"] and queue.forbidden.seen == []


def test_a_clip_that_is_not_a_video_or_over_the_cap_fails_the_job(clip_proxy, queue):
    queue.cdn.routes[("GET", "/files/clip.mp4")] = lambda seen: Reply(200, PNG)
    error = wait_for(clip_proxy, start_job(clip_proxy, job_body(**CLIP)), "failed")["error"]
    assert "not an MP4 or WebM" in error["message"]
    big = MP4 + noisy_png(1100, 1000)  # ~3.3 MB against the 3 MB cap
    queue.cdn.routes[("GET", "/files/clip.mp4")] = lambda seen: Reply(200, big)
    error = wait_for(clip_proxy, start_job(clip_proxy, job_body(**CLIP)), "failed")["error"]
    assert "cap" in error["message"]


def test_queue_urls_on_another_host_are_refused_and_never_called(clip_proxy, queue):
    elsewhere = queue.forbidden.url
    fal_answers(queue, f"/{FAL_VIDEO_MODEL}", json_reply({
        "request_id": "vid-1", "status_url": f"{elsewhere}/status", "response_url": f"{elsewhere}/r",
        "cancel_url": f"{elsewhere}/cancel"}), "POST")
    error = wait_for(clip_proxy, start_job(clip_proxy, job_body(**CLIP)), "failed")["error"]
    assert "another host" in error["message"] and queue.forbidden.seen == []


def test_a_key_echoed_by_the_queue_reaches_no_message_and_no_log(clip_proxy, queue):
    queue.fal.routes[("GET", STATUS)] = lambda seen: Reply(401, f"bad {seen.headers['authorization']}".encode())
    message = wait_for(clip_proxy, start_job(clip_proxy, job_body(**CLIP)), "failed")["error"]["message"]
    assert "HTTP 401" in message and FAL_KEY not in message and FAL_KEY[-10:] not in message
    log = clip_proxy.log()
    assert "/api/jobs" in log and FAL_KEY not in log


# --- cancel and the deadline --------------------------------------------------------------------
def test_a_job_cancelled_half_way_is_cancelled_upstream(clip_proxy, queue):
    fal_answers(queue, STATUS, json_reply({"status": "IN_PROGRESS", "logs": []}))
    job_id = start_job(clip_proxy, job_body(**CLIP))
    assert wait_for(clip_proxy, job_id, "running")["progress"] is None
    status, _, body = call(clip_proxy, "DELETE", f"/api/jobs/{job_id}")
    assert status == 200 and json.loads(body)["status"] == "cancelled"
    cancel = next(seen for seen in queue.fal.seen if seen.method == "PUT")
    assert cancel.path == CANCEL and cancel.headers["authorization"] == f"Key {FAL_KEY}"
    assert job_status(clip_proxy, job_id)["status"] == "cancelled"
    assert ("GET", RESULT) not in calls(queue.fal)


def test_a_job_that_never_finishes_fails_at_its_deadline_and_frees_its_slot(standins, queue, tmp_path):
    proxy = start_server(ROOT, tmp_path / "server.log", env=provider_env(
        standins, SCENEVAULT_JOB_TIMEOUT_S="1.5", SCENEVAULT_MAX_CONCURRENT="1"))
    try:
        fal_answers(queue, STATUS, json_reply({"status": "IN_QUEUE", "queue_position": 3}))
        job_id = start_job(proxy, job_body(**CLIP))
        error = wait_for(proxy, job_id, "failed")["error"]
        assert error["code"] == "provider_timeout" and "1.5 s" in error["message"]
        error_of(*call(proxy, "GET", f"/api/jobs/{job_id}/result"), 504, "provider_timeout")
        assert calls(queue.fal).count(("GET", STATUS)) > 2  # it kept polling until the deadline
        assert ("PUT", CANCEL) in calls(queue.fal)
        image = {"kind": "image", "prompt": "a fox", "width": 64, "height": 64}
        assert call(proxy, "POST", "/api/generate", image)[0] == 200  # the one slot is free
    finally:
        proxy.stop()
