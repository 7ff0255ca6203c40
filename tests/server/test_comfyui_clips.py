"""Clips from the user's own ComfyUI, as jobs through the real server.py, against a loopback
stand-in of ComfyUI's HTTP API: the frame uploaded as multipart, the workflow queued with the
frame, prompt, seed, length and size in the configured nodes, the history polled, the output
fetched from /view on the same origin; and the faults: a 500, garbage, ComfyUI's own errors, a
lost prompt, an output that is not a video, a redirect, a job that never finishes, and a job
cancelled half-way (interrupted only while it is the prompt running, else deleted from the
queue)."""

import hashlib
import json

import pytest
from jobkit import call, job_body, job_status, start_job, wait_for, wait_until
from proxies import error_of, recipe_of
from standins import COMFY_WORKFLOW, PNG, WEBM, Reply, StandIn, comfy_routes, json_reply

from conftest import ROOT, start_server

PROMPT_ID = "5f1e0c2a-7d3b-4c1e-9a8b-0123456789ab"
HISTORY = f"/history/{PROMPT_ID}"
CLIP = {"provider": "comfyui", "model": "wan-i2v", "seed": 1234, "seconds": 2, "width": 512, "height": 288}


def comfy_env(comfy: StandIn, workflow, **overrides) -> dict[str, str]:
    return {"SCENEVAULT_COMFYUI_URL": comfy.url, "SCENEVAULT_COMFYUI_WORKFLOW": str(workflow),
            "SCENEVAULT_COMFYUI_IMAGE_NODE": "52", "SCENEVAULT_COMFYUI_PROMPT_NODE": "6",
            "SCENEVAULT_COMFYUI_SEED_NODE": "3", "SCENEVAULT_COMFYUI_LENGTH_NODE": "50",
            "SCENEVAULT_COMFYUI_SIZE_NODE": "50", "SCENEVAULT_PROVIDER_TIMEOUT_S": "2", **overrides}


@pytest.fixture(scope="module")
def comfy():
    with StandIn() as comfy, StandIn("127.0.0.2") as forbidden:
        comfy.forbidden = forbidden
        yield comfy


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    path = tmp_path_factory.mktemp("comfy") / "wan-i2v.json"
    path.write_text(json.dumps(COMFY_WORKFLOW))
    return path


@pytest.fixture(scope="module")
def comfy_proxy(comfy, workflow, tmp_path_factory):
    running = start_server(ROOT, tmp_path_factory.mktemp("comfy-proxy") / "server.log",
                           env=comfy_env(comfy, workflow))
    yield running
    running.stop()


@pytest.fixture
def ui(comfy):
    """ComfyUI back to its documented behaviour, nothing recorded."""
    for standin in (comfy, comfy.forbidden):
        standin.reset()
        standin.routes.clear()
    comfy.routes.update(comfy_routes(comfy))
    yield comfy
    comfy.release.set()


def calls(standin):
    return [(seen.method, seen.path) for seen in standin.seen]


def sent(standin, method, path):
    return [seen for seen in standin.seen if (seen.method, seen.path) == (method, path)]


def test_a_clip_is_uploaded_queued_polled_and_fetched_from_the_same_origin(comfy_proxy, ui):
    job_id = start_job(comfy_proxy, job_body(**CLIP))
    done = wait_for(comfy_proxy, job_id, "succeeded")
    (upload,) = sent(ui, "POST", "/upload/image")
    form = upload.form()
    name = f"scenevault-{hashlib.sha256(PNG).hexdigest()[:32]}.png"
    assert form["image"] == (name, "image/png", PNG)
    assert form["type"][2] == b"input" and form["overwrite"][2] == b"true"
    (queued,) = sent(ui, "POST", "/prompt")
    graph = queued.json()["prompt"]
    assert graph["52"]["inputs"]["image"] == name
    assert graph["6"]["inputs"]["text"] == job_body()["prompt"]
    assert graph["3"]["inputs"]["seed"] == 1234
    assert (graph["50"]["inputs"]["length"], graph["50"]["inputs"]["width"],
            graph["50"]["inputs"]["height"]) == (2 * 16 + 1, 512, 288)
    untouched = {node: graph[node] for node in graph if node not in ("3", "6", "50", "52")}
    assert untouched == {node: COMFY_WORKFLOW[node] for node in untouched}
    assert set(graph) == set(COMFY_WORKFLOW) and queued.json()["client_id"].startswith("scenevault-")
    assert ("GET", "/queue") in calls(ui)  # while the history was empty it asked the queue
    (view,) = sent(ui, "GET", "/view")
    assert view.query == "filename=ComfyUI_00001_.webm&subfolder=clips&type=output"
    status, headers, body = call(comfy_proxy, "GET", f"/api/jobs/{job_id}/result")
    assert (status, headers["Content-Type"], body) == (200, "video/webm", WEBM)
    recipe = recipe_of(headers)
    assert recipe == done["recipe"]
    assert (recipe["provider"], recipe["model"], recipe["seed"], recipe["seconds"]) == (
        "comfyui", "wan-i2v", 1234, 2)
    assert ("POST", "/interrupt") not in calls(ui) and ("POST", "/queue") not in calls(ui)


def test_comfyui_is_listed_once_configured_and_is_the_default_for_clips(comfy_proxy, ui, server):
    catalog = json.loads(call(comfy_proxy, "GET", "/api/providers")[2])
    comfyui = next(p for p in catalog["providers"] if p["name"] == "comfyui")
    assert (comfyui["kinds"], comfyui["models"], comfyui["configured"]) == (["clip"], ["wan-i2v"], True)
    body = {name: value for name, value in job_body(**CLIP).items() if name not in ("provider", "model")}
    assert wait_for(comfy_proxy, start_job(comfy_proxy, body), "succeeded")["recipe"]["provider"] == "comfyui"
    unconfigured = json.loads(call(server, "GET", "/api/providers")[2])
    assert "comfyui" not in {p["name"] for p in unconfigured["providers"]}


# --- faults -------------------------------------------------------------------------------------
def failed(proxy) -> dict:
    return wait_for(proxy, start_job(proxy, job_body(**CLIP)), "failed")["error"]


@pytest.mark.parametrize("route, reply, fragment", [
    (("POST", "/upload/image"), Reply(500, b"Internal Server Error"), "HTTP 500"),
    (("POST", "/upload/image"), json_reply({"subfolder": ""}), "stored file's name"),
    (("POST", "/prompt"), json_reply({"error": {"type": "prompt_outputs_failed_validation",
                                                "message": "Prompt outputs failed validation"},
                                      "node_errors": {"52": {"errors": ["Invalid image file"]}}}, 400),
     "Prompt outputs failed validation"),
    (("POST", "/prompt"), json_reply({"prompt_id": PROMPT_ID, "node_errors": {"52": "bad"}}),
     "refused the workflow"),
    (("POST", "/prompt"), json_reply({"prompt_id": "../../view?x=1", "node_errors": {}}),
     "usable prompt_id"),
    (("GET", HISTORY), Reply(500, b"boom"), "HTTP 500"),
    (("GET", HISTORY), Reply(200, b"<html>proxy error</html>"), "not JSON"),
    (("GET", "/queue"), json_reply({"queue_running": "all of them"}), "queue lists"),
], ids=["upload-500", "upload-no-name", "prompt-400", "node-errors", "bad-prompt-id", "history-500",
        "history-garbage", "queue-garbage"])
def test_a_failing_or_garbled_comfyui_fails_the_job(comfy_proxy, ui, route, reply, fragment):
    ui.routes[route] = lambda seen: reply
    error = failed(comfy_proxy)
    assert error["code"] == "provider_failed" and fragment in error["message"], error


def test_an_execution_error_fails_the_job_with_comfyuis_reason(comfy_proxy, ui):
    ui.routes[("GET", HISTORY)] = lambda seen: json_reply({PROMPT_ID: {"outputs": {}, "status": {
        "status_str": "error", "completed": False, "messages": [
            ["execution_start", {}], ["execution_error", {
                "node_id": "3", "node_type": "KSampler", "exception_type": "torch.OutOfMemoryError",
                "exception_message": "CUDA out of memory.\nTried to allocate 2 GiB"}]]}}})
    message = failed(comfy_proxy)["message"]
    assert message == "comfyui failed in node 3 (KSampler): CUDA out of memory. Tried to allocate 2 GiB"
    assert ("POST", "/interrupt") not in calls(ui) and ("POST", "/queue") not in calls(ui)


def test_a_prompt_comfyui_forgot_fails_the_job(comfy_proxy, ui):
    ui.routes[("GET", HISTORY)] = lambda seen: json_reply({})
    ui.routes[("GET", "/queue")] = lambda seen: json_reply({"queue_running": [], "queue_pending": []})
    assert "no longer knows the prompt" in failed(comfy_proxy)["message"]


@pytest.mark.parametrize("outputs", [{}, {"9": {"images": [{"filename": "frame.png", "subfolder": "",
                                                             "type": "output"}]}},
                                     {"9": {"gifs": [{"filename": "clip.mp4", "type": "temp"}]}}])
def test_outputs_without_a_saved_video_fail_the_job(comfy_proxy, ui, outputs):
    ui.routes[("GET", HISTORY)] = lambda seen: json_reply({PROMPT_ID: {"outputs": outputs, "status": {
        "status_str": "success", "completed": True, "messages": []}}})
    assert "no MP4 or WebM" in failed(comfy_proxy)["message"]
    assert ("GET", "/view") not in calls(ui)


def test_an_output_that_is_not_a_video_fails_the_job(comfy_proxy, ui):
    ui.routes[("GET", "/view")] = lambda seen: Reply(200, PNG, {"Content-Type": "video/webm"})
    assert "not an MP4 or WebM" in failed(comfy_proxy)["message"]


def test_a_redirect_from_view_is_not_followed(comfy_proxy, ui):
    ui.routes[("GET", "/view")] = lambda seen: Reply(
        302, b"", {"Location": f"{ui.forbidden.url}/files/clip.webm"})
    assert "HTTP 302" in failed(comfy_proxy)["message"] and ui.forbidden.seen == []


# --- cancel and the deadline --------------------------------------------------------------------
def stays(ui, phase: str) -> None:
    """ComfyUI keeps the prompt running (or pending) and its history empty."""
    item = [7, PROMPT_ID, {}, {}, ["28"]]
    other = [6, "someone-elses-prompt", {}, {}, ["9"]]
    ui.routes[("GET", HISTORY)] = lambda seen: json_reply({})
    ui.routes[("GET", "/queue")] = lambda seen: json_reply(
        {"queue_running": [item] if phase == "running" else [other],
         "queue_pending": [item] if phase == "pending" else []})


def test_a_running_job_cancelled_half_way_interrupts_exactly_its_prompt(comfy_proxy, ui):
    stays(ui, "running")
    job_id = start_job(comfy_proxy, job_body(**CLIP))
    wait_for(comfy_proxy, job_id, "running")
    assert json.loads(call(comfy_proxy, "DELETE", f"/api/jobs/{job_id}")[2])["status"] == "cancelled"
    (interrupt,) = sent(ui, "POST", "/interrupt")
    assert interrupt.json() == {"prompt_id": PROMPT_ID}
    assert sent(ui, "POST", "/queue") == [] and job_status(comfy_proxy, job_id)["status"] == "cancelled"


def test_a_pending_job_cancelled_is_deleted_from_the_queue_and_nothing_is_interrupted(comfy_proxy, ui):
    stays(ui, "pending")
    job_id = start_job(comfy_proxy, job_body(**CLIP))
    wait_until(lambda: ("GET", "/queue") in calls(ui), "ComfyUI has the prompt and is asked about it")
    assert job_status(comfy_proxy, job_id)["status"] == "queued"
    status, _, body = call(comfy_proxy, "DELETE", f"/api/jobs/{job_id}")
    assert status == 200 and json.loads(body)["status"] == "cancelled"
    (delete,) = sent(ui, "POST", "/queue")
    assert delete.json() == {"delete": [PROMPT_ID]}
    assert sent(ui, "POST", "/interrupt") == []  # someone else's prompt is running: left alone


def test_a_job_that_never_finishes_fails_at_its_deadline_and_frees_its_slot(comfy, ui, workflow, tmp_path):
    proxy = start_server(ROOT, tmp_path / "server.log", env=comfy_env(
        comfy, workflow, SCENEVAULT_JOB_TIMEOUT_S="1.5", SCENEVAULT_MAX_CONCURRENT="1"))
    try:
        stays(ui, "running")
        job_id = start_job(proxy, job_body(**CLIP))
        error = wait_for(proxy, job_id, "failed")["error"]
        assert error["code"] == "provider_timeout" and "1.5 s" in error["message"]
        error_of(*call(proxy, "GET", f"/api/jobs/{job_id}/result"), 504, "provider_timeout")
        assert [seen.json() for seen in sent(ui, "POST", "/interrupt")] == [{"prompt_id": PROMPT_ID}]
        image = {"kind": "image", "prompt": "a fox", "width": 64, "height": 64}
        assert call(proxy, "POST", "/api/generate", image)[0] == 200  # the one slot is free
    finally:
        proxy.stop()


def test_a_bad_comfyui_setting_stops_the_server_naming_it(comfy, workflow, tmp_path):
    log = tmp_path / "server.log"
    with pytest.raises(RuntimeError):
        start_server(ROOT, log, env=comfy_env(comfy, workflow, SCENEVAULT_COMFYUI_SEED_NODE="99"))
    assert "SCENEVAULT_COMFYUI_SEED_NODE='99': the workflow has no node '99'" in log.read_text()
