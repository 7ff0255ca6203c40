"""A clip generated on a server provider (FAL, through a loopback stand-in that speaks its queue
protocol) is a job that survives a reload: the page records it, the tab reloads while the job
runs, a second tab opens too, and when the provider finishes the clip is stored exactly once,
shown in its card, and the server lets go of the job."""

import json
import textwrap
import threading

import pytest

from clipkit import make_clips
from conftest import ROOT, AppPage, install_pagekit, is_loopback, run_python, start_server, wait_for_app_state
from standins import Reply, StandIn, json_reply

MODEL = "fal-ai/kling-video/v2.1/standard/image-to-video"
BASE = "/fal-ai/kling-video/requests/req-9"
FAL_KEY = "fal-test-key-9"
PRELUDE = """
import asyncio, json, js, pagekit
from app.core import storyboard
from app.generation.client import ProxyClient
from app.generation.service import GenerationService
from app.startup import current_vault
from app.ui.parts.dom import run_soon
vault = current_vault()
service = GenerationService(vault, ProxyClient())
"""


def py(page, code: str):
    return json.loads(run_python(page, PRELUDE + textwrap.dedent(code)))


@pytest.fixture
def fal(tmp_path):
    """server.py with FAL pointed at a stand-in whose job runs until `finish` is set."""
    (tmp_path / "clips").mkdir()
    video = make_clips(tmp_path / "clips")["webm"].path.read_bytes()
    finish = threading.Event()
    with StandIn() as queue, StandIn() as cdn:
        queue.routes.update({
            ("POST", f"/{MODEL}"): lambda seen: json_reply({
                "request_id": "req-9", "status_url": f"{queue.url}{BASE}/status",
                "response_url": f"{queue.url}{BASE}", "cancel_url": f"{queue.url}{BASE}/cancel"}),
            ("GET", f"{BASE}/status"): lambda seen: json_reply(
                {"status": "COMPLETED" if finish.is_set() else "IN_PROGRESS", "queue_position": 0}),
            ("GET", BASE): lambda seen: json_reply({"video": {
                "url": f"{cdn.url}/files/clip.webm", "content_type": "video/webm"}}),
            ("PUT", f"{BASE}/cancel"): lambda seen: json_reply({"status": "CANCELLATION_REQUESTED"}),
        })
        cdn.routes[("GET", "/files/clip.webm")] = lambda seen: Reply(
            200, video, {"Content-Type": "video/webm"})
        running = start_server(ROOT, tmp_path / "server.log", "--quiet", env={
            "SCENEVAULT_FAL_BASE_URL": queue.url, "SCENEVAULT_FAL_KEY": FAL_KEY,
            "SCENEVAULT_FAL_VIDEO_MODELS": MODEL,
            "SCENEVAULT_FAL_DOWNLOAD_HOSTS": f"127.0.0.1:{cdn.server_address[1]}"})
        yield running, queue, finish
        running.stop()


@pytest.fixture
def context(browser, fal):
    context = browser.new_context()
    recorder = AppPage(context, fal[0].url)
    context.on("request", lambda request: None if is_loopback(request.url)
               else recorder.outside_requests.append(request.url))
    yield recorder
    context.close()
    assert recorder.outside_requests == [], "requests left the machine"


def booted(recorder):
    page = recorder.open()
    assert wait_for_app_state(page) == "ready"
    install_pagekit(page)
    return page


def test_a_reload_during_a_running_job_still_stores_the_clip_exactly_once(context, fal):
    running, queue, finish = fal
    page = booted(context)
    made = py(page, """
        project = await vault.create_project("Paid clip", aspect_ratio="16:9")
        project = storyboard.add_scene(project, "The harbour wakes", "a harbour at dawn")
        await vault.save_project(project)
        slots = storyboard.scene_slots(project.scenes[0])
        frame = await service.generate(project.id, "scene", slots["frame"],
                                       {"prompt": "a harbour at dawn", "width": 512, "height": 288})
        run_soon(service.generate(project.id, "clip", slots["clip"],
                                  {"prompt": "slow push-in", "provider": "fal", "seconds": 5}))
        for _ in range(200):                     # until the server accepted it and it is recorded
            jobs = await vault.pending_jobs(project.id)
            if jobs:
                break
            await asyncio.sleep(0.05)
        json.dumps({"id": project.id, "clip": slots["clip"], "frame": frame.sha256,
                    "jobs": [[j.id, j.state, j.recipe["provider"]] for j in jobs]})
    """)
    assert len(made["jobs"]) == 1 and made["jobs"][0][1:] == ["running", "fal"]
    job_id = made["jobs"][0][0]

    page.reload()                                # the tab that started the job goes away
    assert wait_for_app_state(page) == "ready"
    install_pagekit(page)
    page.evaluate("id => { location.hash = '#/project/' + id; }", made["id"])
    page.locator(f"section.slot[data-slot='{made['clip']}']").get_by_text(
        "Generating on the server with fal").wait_for()
    other = booted(context)                      # a second tab resumes the same job too
    finish.set()                                 # the provider finishes

    for tab in (page, other):                    # each tab shows the clip once it is stored
        tab.evaluate("id => { location.hash = '#/project/' + id; }", made["id"])
        tab.locator(f"section.slot[data-slot='{made['clip']}'] video.slot-media").wait_for(
            timeout=60_000)
    notices = [tab.get_by_role("status").filter(has_text="finished on the server and was stored")
               for tab in (page, other)]
    page.wait_for_function("() => document.readyState === 'complete'")
    for _ in range(100):                         # the tab that stored it says so (after it
        if sum(n.count() for n in notices) >= 1:  # let the server go of the job)
            break
        page.wait_for_timeout(100)
    assert sorted(n.count() for n in notices) == [0, 1]  # once, in one tab
    result = py(page, f"""
        for _ in range(100):                     # both tabs have stopped following it
            if not await vault.pending_jobs({made["id"]!r}):
                break
            await asyncio.sleep(0.1)
        versions = await vault.versions({made["id"]!r}, {made["clip"]!r})
        gone = await pagekit.error_of(ProxyClient().job_status({job_id!r}))
        json.dumps({{"versions": [pagekit.view(v) for v in versions], "gone": gone["type"],
                    "pending": len(await vault.pending_jobs({made["id"]!r}))}})
    """)
    assert len(result["versions"]) == 1 and result["pending"] == 0
    clip = result["versions"][0]
    assert (clip["kind"], clip["source"], clip["mime_type"]) == ("clip", "generated", "video/webm")
    assert (clip["recipe"]["provider"], clip["recipe"]["model"]) == ("fal", MODEL)
    assert clip["recipe"]["input_sha256"] == made["frame"] and clip["duration_ms"] > 1000
    assert result["gone"] == "JobLost"           # the server let go of the job once it was stored
    submits = [s for s in queue.seen if s.method == "POST"]
    assert len(submits) == 1                     # one paid job, whatever the reloads
    assert "data:image/png;base64," in submits[0].body.decode()
    assert other.evaluate("1 + 1") == 2
