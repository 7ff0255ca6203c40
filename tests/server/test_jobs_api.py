"""The clip jobs API (/api/jobs) through the real SceneVaultServer, with a scripted clip provider
whose upstream state each test sets: 202 at once, the status moving from queued to running to
succeeded, the result (the raw clip with its recipe header, kept until DELETE), 404 for unknown
and malformed ids, 409 before the end, cancelling (upstream too), the job's deadline, failures
without keys, the job-count cap, every refused frame, the guards, and the concurrency slots
coming back on every path."""

import hashlib
import json
import re
import threading

import pytest
from jobkit import (InProcess, ScriptedClip, call, data_uri, job_body, job_status, post_job,
                    start_job, wait_for, wait_until)
from proxies import error_of, recipe_of
from standins import MP4, PNG, WEBM
from test_api_guards import raw_exchange

from app.core.errors import ProviderError
from app.core.pngmeta import tiny_png

KEY = "sk-live-JOBS-0123456789abcdefSECRET"


@pytest.fixture(scope="module")
def inproc():
    with InProcess(max_concurrent=2, job_timeout_s=60, openai_api_key=KEY) as server:
        yield server


@pytest.fixture
def clip(inproc):
    """A fresh scripted clip provider on the shared in-process server."""
    return inproc.add(ScriptedClip())


def result_of(server, job_id):
    return call(server, "GET", f"/api/jobs/{job_id}/result")


def delete(server, job_id, headers=None):
    return call(server, "DELETE", f"/api/jobs/{job_id}", headers=headers)


# --- the life of a job --------------------------------------------------------------------------
def test_a_job_is_accepted_at_once_runs_and_its_result_is_the_clip_with_its_recipe(inproc, clip):
    job_id = start_job(inproc)
    assert re.fullmatch(r"job_[0-9a-f]{32}", job_id)
    view = job_status(inproc, job_id)
    assert (view["id"], view["status"], view["progress"], view["error"]) == (job_id, "queued", 0, None)
    recipe = view["recipe"]
    assert (recipe["kind"], recipe["provider"], recipe["model"], recipe["seconds"]) == (
        "clip", "scripted", "scripted-motion-1", 5)
    assert recipe["input_sha256"] == hashlib.sha256(PNG).hexdigest() and isinstance(recipe["seed"], int)
    wait_until(lambda: clip.submitted, "the provider got the job")
    sent_recipe, frame = clip.submitted[0]
    assert (frame.data, frame.mime_type) == (PNG, "image/png")
    assert sent_recipe.to_dict() == recipe
    error_of(*result_of(inproc, job_id), 409, "job_not_ready")

    clip.state, clip.fraction = "running", 0.4
    assert wait_for(inproc, job_id, "running")["progress"] == 0.4
    assert "running" in error_of(*result_of(inproc, job_id), 409, "job_not_ready")

    clip.result_seed, clip.state = 4_000_000_001, "done"
    done = wait_for(inproc, job_id, "succeeded")
    assert done["progress"] == 1 and done["error"] is None
    assert done["recipe"] == {**recipe, "seed": 4_000_000_001}  # the seed the provider reports
    for _ in range(2):  # the result stays until the page deletes it
        status, headers, body = result_of(inproc, job_id)
        assert status == 200 and body == MP4
        assert headers["Content-Type"] == "video/mp4" and int(headers["Content-Length"]) == len(MP4)
        assert recipe_of(headers) == done["recipe"] and headers["Cache-Control"] == "no-store"
    head = call(inproc, "HEAD", f"/api/jobs/{job_id}/result")
    assert head[0] == 200 and head[2] == b"" and head[1]["Content-Type"] == "video/mp4"

    status, _, body = delete(inproc, job_id)
    assert status == 200 and json.loads(body) == {"id": job_id, "status": "succeeded"}
    error_of(*call(inproc, "GET", f"/api/jobs/{job_id}"), 404, "job_not_found")
    error_of(*result_of(inproc, job_id), 404, "job_not_found")
    error_of(*delete(inproc, job_id), 404, "job_not_found")
    assert clip.cancelled == []  # a job that finished is not cancelled upstream


def test_the_clips_type_comes_from_its_bytes_not_the_providers_label(inproc):
    clip = inproc.add(ScriptedClip(media=WEBM, mime_type="video/mp4"))
    clip.state = "done"
    job_id = start_job(inproc)
    wait_for(inproc, job_id, "succeeded")
    status, headers, body = result_of(inproc, job_id)
    assert (status, headers["Content-Type"], body) == (200, "video/webm", WEBM)


def test_a_result_that_is_not_a_video_fails_the_job_with_a_502(inproc):
    clip = inproc.add(ScriptedClip(media=PNG))
    clip.state = "done"
    job_id = start_job(inproc)
    error = wait_for(inproc, job_id, "failed")["error"]
    assert error["code"] == "provider_failed" and "not an MP4 or WebM" in error["message"]
    assert "not an MP4 or WebM" in error_of(*result_of(inproc, job_id), 502, "provider_failed")


@pytest.mark.parametrize("path", [
    "/api/jobs/job_" + "0" * 32, "/api/jobs/job_" + "0" * 32 + "/result",
    "/api/jobs/job_" + "0" * 31, "/api/jobs/job_" + "A" * 32, "/api/jobs/job_" + "0" * 33,
    "/api/jobs/JOB_" + "0" * 32, "/api/jobs/job-" + "0" * 32, "/api/jobs/%6aob_" + "0" * 32,
    "/api/jobs/", "/api/jobs/..", "/api/jobs/job_" + "0" * 32 + "%00", "/api/jobs/%20job",
])
def test_unknown_and_malformed_ids_are_not_found(inproc, path):
    error_of(*call(inproc, "GET", path), 404, "job_not_found")


def test_a_real_id_in_another_spelling_is_not_found(inproc, clip):
    job_id = start_job(inproc)
    for spelled in (job_id.upper(), job_id.replace("job_", "job_%"), job_id + "/", "%20" + job_id,
                    job_id + "%20", job_id[:-1], job_id + ";x"):
        assert call(inproc, "GET", f"/api/jobs/{spelled}")[0] == 404, spelled
    assert job_status(inproc, job_id)["id"] == job_id
    delete(inproc, job_id)


# --- cancelling -----------------------------------------------------------------------------------
def test_delete_cancels_a_running_job_upstream_and_keeps_it_as_cancelled(inproc, clip):
    job_id = start_job(inproc)
    clip.state = "running"
    wait_for(inproc, job_id, "running")
    status, _, body = delete(inproc, job_id)
    assert status == 200 and json.loads(body) == {"id": job_id, "status": "cancelled"}
    assert clip.cancelled == ["ticket-1"]  # cancelled upstream before DELETE answered
    view = job_status(inproc, job_id)
    assert (view["status"], view["progress"], view["error"]) == ("cancelled", None, None)
    assert "cancelled" in error_of(*result_of(inproc, job_id), 409, "job_cancelled")
    polls = clip.polled
    clip.state = "done"  # the upstream finishing anyway changes nothing
    assert job_status(inproc, job_id)["status"] == "cancelled" and clip.polled <= polls + 1
    assert delete(inproc, job_id)[0] == 200  # a second DELETE discards it
    error_of(*call(inproc, "GET", f"/api/jobs/{job_id}"), 404, "job_not_found")
    assert clip.cancelled == ["ticket-1"]


def test_a_job_cancelled_while_it_is_being_submitted_is_cancelled_upstream_once_submitted(inproc, clip):
    clip.submit_gate = threading.Event()
    job_id = start_job(inproc)
    assert clip.submitting.wait(15), "the job reached submit"
    assert json.loads(delete(inproc, job_id)[2])["status"] == "cancelled"
    assert clip.cancelled == []  # no ticket yet: nothing to cancel upstream
    clip.submit_gate.set()
    wait_until(lambda: clip.cancelled == ["ticket-1"], "the upstream cancel after submit")
    assert job_status(inproc, job_id)["status"] == "cancelled" and clip.polled == 0


def test_a_queued_job_cancelled_before_it_gets_a_slot_never_reaches_the_provider():
    with InProcess(max_concurrent=1) as server:
        clip = server.add(ScriptedClip())
        clip.state = "running"
        first = start_job(server)
        wait_for(server, first, "running")
        second = start_job(server)
        assert json.loads(delete(server, second)[2])["status"] == "cancelled"
        clip.state = "done"
        wait_for(server, first, "succeeded")
        third = start_job(server)
        wait_for(server, third, "succeeded")  # the single slot came back each time
        assert len(clip.submitted) == 2 and clip.cancelled == []
        assert job_status(server, second)["status"] == "cancelled"


def test_an_upstream_that_refuses_to_cancel_still_ends_the_job_here(inproc, clip, capfd):
    clip.state, clip.cancel_error = "running", ProviderError(f"cannot cancel with key {KEY}")
    job_id = start_job(inproc)
    wait_for(inproc, job_id, "running")
    assert delete(inproc, job_id)[0] == 200 and clip.cancelled == ["ticket-1"]
    assert job_status(inproc, job_id)["status"] == "cancelled"
    logged = capfd.readouterr().err
    assert f"could not cancel job {job_id} upstream" in logged and KEY not in logged


# --- the deadline and failures ------------------------------------------------------------------
def test_a_job_that_never_finishes_fails_at_its_deadline_and_frees_its_slot():
    with InProcess(max_concurrent=1, job_timeout_s=1) as server:
        clip = server.add(ScriptedClip())
        clip.state = "running"
        job_id = start_job(server)
        error = wait_for(server, job_id, "failed")["error"]
        assert error["code"] == "provider_timeout" and "within 1 s" in error["message"]
        assert "within 1 s" in error_of(*result_of(server, job_id), 504, "provider_timeout")
        assert clip.cancelled == ["ticket-1"]  # the upstream is told to stop too
        status, _, _ = call(server, "POST", "/api/generate",
                            {"kind": "image", "prompt": "a fox", "width": 64, "height": 64})
        assert status == 200  # the one slot is free again (generate never waits for one)
        clip.state = "done"
        wait_for(server, start_job(server), "succeeded")


@pytest.mark.parametrize("error", [ProviderError(f"upstream said no to {KEY}"),
                                   ZeroDivisionError(f"a provider bug near {KEY}")],
                         ids=["provider-error", "provider-bug"])
def test_a_failing_upstream_fails_the_job_with_a_502_that_names_no_key(inproc, clip, error):
    clip.poll_error = error
    job_id = start_job(inproc)
    message = wait_for(inproc, job_id, "failed")["error"]["message"]
    assert KEY not in message and KEY[:12] not in message
    assert error_of(*result_of(inproc, job_id), 502, "provider_failed") == message
    assert clip.cancelled == ["ticket-1"]  # it may still be running upstream: cancelled
    clip.poll_error, clip.state = None, "done"
    wait_for(inproc, start_job(inproc), "succeeded")  # the slot came back


def test_an_upstream_that_reports_failure_fails_the_job_and_is_not_cancelled(inproc, clip):
    clip.state, clip.message = "failed", "the model refused the frame"
    job_id = start_job(inproc)
    assert wait_for(inproc, job_id, "failed")["error"] == {
        "code": "provider_failed", "message": "the model refused the frame"}
    assert clip.cancelled == []


def test_jobs_and_generations_share_the_concurrency_slots():
    with InProcess(max_concurrent=1) as server:
        clip = server.add(ScriptedClip())
        clip.state = "running"
        job_id = start_job(server)
        wait_for(server, job_id, "running")
        image = {"kind": "image", "prompt": "a fox", "width": 64, "height": 64}
        error_of(*call(server, "POST", "/api/generate", image), 429, "too_many_requests")
        clip.state = "done"
        wait_for(server, job_id, "succeeded")
        assert call(server, "POST", "/api/generate", image)[0] == 200


def test_past_the_job_count_cap_a_new_job_is_429_until_one_is_deleted():
    with InProcess(max_concurrent=1, max_jobs=2) as server:
        clip = server.add(ScriptedClip())
        clip.state = "done"
        first, second = start_job(server), start_job(server)
        wait_for(server, first, "succeeded")
        wait_for(server, second, "succeeded")
        message = error_of(*post_job(server, job_body()), 429, "too_many_jobs")
        assert "2 jobs" in message and "DELETE" in message
        assert len(clip.submitted) == 2
        delete(server, first)
        wait_for(server, start_job(server), "succeeded")


# --- what a job request must be -----------------------------------------------------------------
def test_a_frame_whose_sha256_does_not_match_is_refused(inproc, clip):
    body = job_body(input_sha256=hashlib.sha256(b"another frame").hexdigest())
    message = error_of(*post_job(inproc, body), 400, "invalid_input_sha256")
    assert hashlib.sha256(PNG).hexdigest() in message
    assert clip.submitted == []


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
GIF = b"GIF89a" + b"\x00" * 32


@pytest.mark.parametrize("image, fragment", [
    (data_uri(b"hello", "text/plain"), "data:image/png"),
    (data_uri(GIF, "image/gif"), "data:image/png"),
    (data_uri(b"<svg/>", "image/svg+xml"), "data:image/png"),
    (data_uri(JPEG, "image/png"), "labelled image/png but its bytes are image/jpeg"),
    (data_uri(GIF, "image/png"), "bytes are image/gif"),
    (data_uri(b"%PDF-1.7", "image/webp"), "not a known image format"),
    ("data:image/png;base64,%%%not-base64%%%", "not valid base64"),
    ("data:image/png," + "x" * 40, "data:image/png"),
    ("DATA:image/png;base64,AAAA", "data:image/png"),
    ("https://fal.media/files/frame.png", "data:image/png"),
    (None, "data:image/png"),
    (["data:image/png;base64,"], "data:image/png"),
], ids=["text", "gif", "svg", "jpeg-as-png", "gif-as-png", "pdf-as-webp", "bad-base64",
        "not-base64", "upper-case", "url", "missing", "not-text"])
def test_a_frame_that_is_not_a_png_jpeg_or_webp_data_uri_is_refused(inproc, clip, image, fragment):
    body = {**job_body(), "image": image}
    if image is None:
        del body["image"]
    assert fragment in error_of(*post_job(inproc, body), 400, "invalid_image")
    assert clip.submitted == []


@pytest.mark.parametrize("frame, mime_type", [(JPEG, "image/jpeg"), (WEBP, "image/webp")])
def test_jpeg_and_webp_frames_are_taken(inproc, clip, frame, mime_type):
    clip.state = "done"
    job_id = start_job(inproc, {**job_body(frame), "image": data_uri(frame, mime_type)})
    wait_for(inproc, job_id, "succeeded")
    assert clip.submitted[0][1].mime_type == mime_type


def test_a_frame_over_8_mib_is_refused_though_the_body_is_under_its_cap(inproc, clip):
    big = PNG + b"\x00" * (8 * 1024 * 1024 + 1 - len(PNG))
    body = job_body(big)
    assert len(json.dumps(body)) < 12 * 1024 * 1024
    assert "frame cap" in error_of(*post_job(inproc, body), 400, "invalid_image")


def test_a_frame_of_several_mib_is_taken(inproc, clip):
    frame = tiny_png(1024, 1024) + b"\x00" * (6 * 1024 * 1024)  # trailing bytes: still a PNG start
    clip.state = "done"
    wait_for(inproc, start_job(inproc, job_body(frame)), "succeeded")
    assert clip.submitted[0][1].sha256 == hashlib.sha256(frame).hexdigest()


@pytest.mark.parametrize("change, code", [
    ({"kind": "image"}, "invalid_kind"), ({"kind": "audio"}, "invalid_kind"),
    ({"input_sha256": None}, "invalid_input_sha256"), ({"input_sha256": "AB" * 32}, "invalid_input_sha256"),
    ({"seconds": 11}, "invalid_seconds"), ({"seconds": 0}, "invalid_seconds"),
    ({"width": 500}, "invalid_width"), ({"height": None}, "invalid_height"),
    ({"voice": "narrator"}, "invalid_voice"), ({"steps": 20}, "invalid_steps"),
    ({"provider": "local"}, "invalid_kind"), ({"provider": "nobody"}, "invalid_provider"),
    ({"model": "sora-2"}, "invalid_model"), ({"prompt": ""}, "invalid_prompt"),
    ({"fps": 24}, "unknown_field"),
])
def test_the_recipe_rules_apply_to_jobs(inproc, clip, change, code):
    body = {name: value for name, value in {**job_body(), **change}.items() if value is not None}
    error_of(*post_job(inproc, body), 400, code)
    assert clip.submitted == []


def test_clips_are_made_by_jobs_not_by_generate(inproc, clip):
    body = {name: value for name, value in job_body().items() if name != "image"}
    assert "/api/jobs" in error_of(*call(inproc, "POST", "/api/generate", body), 400, "invalid_kind")


def test_a_server_with_no_clip_provider_refuses_jobs(server):
    error_of(*post_job(server, job_body()), 400, "invalid_kind")


def test_clip_providers_are_listed_with_kind_clip_and_their_models(inproc, clip):
    catalog = json.loads(call(inproc, "GET", "/api/providers")[2])
    scripted = next(p for p in catalog["providers"] if p["name"] == "scripted")
    assert scripted["kinds"] == ["clip"] and scripted["models_by_kind"] == {"clip": ["scripted-motion-1"]}
    assert catalog["default"] == "local"  # the default for images and audio is unchanged


# --- the guards -------------------------------------------------------------------------------
@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1"])
def test_a_cross_origin_post_or_delete_is_refused(inproc, clip, origin):
    error_of(*post_job(inproc, job_body(), {"Origin": origin}), 403, "forbidden_origin")
    assert clip.submitted == []
    job_id = start_job(inproc)
    error_of(*delete(inproc, job_id, {"Origin": origin}), 403, "forbidden_origin")
    assert job_status(inproc, job_id)["status"] in ("queued", "running")
    same = {"Origin": f"http://127.0.0.1:{inproc.port}"}
    assert delete(inproc, job_id, same)[0] == 200


def test_a_job_body_over_its_cap_is_413_before_it_is_read(inproc):
    reply = raw_exchange(inproc, b"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 12582913\r\n\r\n{}")
    assert reply.startswith("HTTP/1.1 413") and "12582912-byte limit" in reply


def test_generate_keeps_its_small_body_cap(inproc):
    body = json.dumps({"kind": "image", "prompt": "x" * (70 * 1024)}).encode()
    error_of(*call(inproc, "POST", "/api/generate", body), 413, "body_too_large")


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", ""])
def test_a_job_body_that_is_not_json_is_415(inproc, content_type):
    raw = json.dumps(job_body()).encode()
    error_of(*call(inproc, "POST", "/api/jobs", raw, {"Content-Type": content_type}), 415,
             "unsupported_media_type")


@pytest.mark.parametrize("method, path, status, code", [
    ("GET", "/api/jobs", 405, "method_not_allowed"),
    ("DELETE", "/api/jobs", 405, "method_not_allowed"),
    ("PUT", "/api/jobs/job_" + "0" * 32, 405, "method_not_allowed"),
    ("DELETE", "/api/jobs/job_" + "0" * 32 + "/result", 405, "method_not_allowed"),
    ("GET", "/api/jobs/job_" + "0" * 32 + "/result/more", 404, "not_found"),
])
def test_job_routes_take_only_their_methods(inproc, method, path, status, code):
    error_of(*call(inproc, method, path), status, code)


def test_a_delete_with_a_body_is_refused(inproc, clip):
    job_id = start_job(inproc)
    error_of(*call(inproc, "DELETE", f"/api/jobs/{job_id}", b"{}"), 400, "unexpected_body")
    assert job_status(inproc, job_id)["status"] in ("queued", "running")
    delete(inproc, job_id)
