"""Helpers for the clip-job tests: the /api/jobs calls, a job body with its frame, a wait for a
job's status, and an in-process server whose providers a test can script.

`InProcess` runs the real `SceneVaultServer` (proxy/connections.py) on port 0 in a thread, so a
test can add a `ScriptedClip` provider, a clip provider whose upstream state the test sets
(`state`, `fraction`), and read what it was sent and asked to cancel. The server's other
providers are configured as for server.py.

    with InProcess(max_concurrent=1) as server:
        clip = server.add(ScriptedClip())
        status, _, body = post_job(server, job_body())
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import threading
import time
from dataclasses import replace

from standins import MP4, PNG

from proxy.config import ServerConfig
from proxy.connections import SceneVaultServer
from proxy.providers import ProviderSettings
from proxy.providers.base import GeneratedMedia
from proxy.providers.clip import ClipProgress, ClipProvider, ClipTicket

WAIT_S = 15  # how long a test waits for a job to reach a state before it fails


def data_uri(data: bytes, mime_type: str = "image/png") -> str:
    return f"data:{mime_type};base64,{base64.b64encode(data).decode()}"


def job_body(frame: bytes = PNG, **fields) -> dict:
    """A clip request with its frame as a data URI and the frame's SHA-256."""
    return {"kind": "clip", "prompt": "the camera drifts over the harbour", "width": 512,
            "height": 288, "seconds": 5, "input_sha256": hashlib.sha256(frame).hexdigest(),
            "image": data_uri(frame), **fields}


def call(server, method: str, path: str, body=None, headers=None, timeout: float = 30):
    """One request; status, headers and raw body."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        raw = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        sent = {"Content-Type": "application/json"} if raw is not None else {}
        conn.request(method, path, body=raw, headers={**sent, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def post_job(server, body, headers=None):
    return call(server, "POST", "/api/jobs", body, headers)


def start_job(server, body=None) -> str:
    """POST /api/jobs, asserting the 202; the job's id."""
    status, _, raw = post_job(server, job_body() if body is None else body)
    assert status == 202, raw[:400]
    answer = json.loads(raw)
    assert answer["status"] == "queued"
    return answer["id"]


def job_status(server, job_id: str) -> dict:
    status, _, raw = call(server, "GET", f"/api/jobs/{job_id}")
    assert status == 200, raw[:400]
    return json.loads(raw)


def wait_for(server, job_id: str, *statuses: str) -> dict:
    """Poll GET /api/jobs/<id> until its status is one of `statuses`; its last view."""
    ends = time.monotonic() + WAIT_S
    while True:
        view = job_status(server, job_id)
        if view["status"] in statuses:
            return view
        assert time.monotonic() < ends, f"job still {view['status']}, not {statuses}: {view}"
        time.sleep(0.02)


def wait_until(predicate, what: str) -> None:
    ends = time.monotonic() + WAIT_S
    while not predicate():
        assert time.monotonic() < ends, f"never happened: {what}"
        time.sleep(0.02)


class ScriptedClip(ClipProvider):
    """A clip provider whose upstream does what the test says: `state` ("queued", "running",
    "done", "failed") and `fraction` are what each poll reports; `poll_error` is raised by each
    poll instead, `cancel_error` by each cancel; `result_seed` is the seed the result reports."""

    name = "scripted"

    def __init__(self, media: bytes = MP4, mime_type: str = "video/mp4"):
        self.media, self.mime_type = media, mime_type
        self.state, self.fraction, self.message = "queued", None, ""
        self.poll_error: Exception | None = None
        self.cancel_error: Exception | None = None
        self.result_seed: int | None = None
        self.submitted: list = []
        self.submit_gate: threading.Event | None = None  # set: submit waits for it
        self.submitting = threading.Event()  # set once submit() has been called
        self.polled = 0
        self.cancelled: list[str] = []

    def models(self):
        return {"clip": ("scripted-motion-1",)}

    def submit(self, recipe, frame, deadline):
        self.submitting.set()
        if self.submit_gate is not None:
            self.submit_gate.wait(WAIT_S)
        self.submitted.append((recipe, frame))
        return ClipTicket(f"ticket-{len(self.submitted)}")

    def poll(self, ticket, deadline):
        self.polled += 1
        if self.poll_error is not None:
            raise self.poll_error
        return ClipProgress(self.state, self.fraction, self.message)

    def result(self, ticket, recipe, deadline):
        if self.result_seed is not None:
            recipe = replace(recipe, seed=self.result_seed)
        return GeneratedMedia(self.media, self.mime_type, recipe)

    def cancel(self, ticket, deadline):
        self.cancelled.append(ticket.id)
        if self.cancel_error is not None:
            raise self.cancel_error


class InProcess:
    """The real SceneVaultServer on 127.0.0.1:0, served from a thread (see the module docstring)."""

    def __init__(self, **settings):
        values = {"max_concurrent": 2, "timeout_s": 5.0, **settings}
        self.server = SceneVaultServer(ServerConfig(port=0, quiet=True,
                                                    providers=ProviderSettings(**values)))
        self.port = self.server.server_address[1]
        self.url = self.server.url
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def add(self, provider):
        self.server.generation.providers[provider.name] = provider
        return provider

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
