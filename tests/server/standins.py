"""Loopback stand-ins for the providers' APIs, run in the test process on port 0.

A `StandIn` is a ThreadingHTTPServer on 127.0.0.1 (or 127.0.0.2, the forbidden host) that
records every request (method, path, headers, body) and answers through `routes`, a dict of
(method, path) -> function(Seen) -> Reply, which a test may swap to make a fault. The
`openai_routes`, `a1111_routes`, `fal_routes`, `fal_video_routes` and `cdn_routes` builders speak
each API's documented wire format.

    with StandIn() as openai:
        openai.routes.update(openai_routes(PNG))
        ...  # point server.py at openai.url
        assert openai.seen[0].headers["authorization"] == "Bearer sk-test"
"""

from __future__ import annotations

import base64
import email.policy
import json
import struct
import sys
import threading
import zlib
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterable

from app.core.pngmeta import tiny_png


@dataclass
class Seen:
    """One request a stand-in received (header names in lower case, the query string apart)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: str = ""

    def json(self):
        return json.loads(self.body)

    def form(self) -> dict[str, tuple[str | None, str | None, bytes]]:
        """A multipart/form-data body: name -> (file name, content type, bytes)."""
        message = BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {self.headers['content-type']}\r\n\r\n".encode() + self.body)
        assert message.is_multipart(), self.headers["content-type"]
        return {part.get_param("name", header="content-disposition"):
                (part.get_filename(), part.get("Content-Type"), part.get_payload(decode=True))
                for part in message.iter_parts()}


@dataclass
class Reply:
    """What a stand-in answers: `chunks` (no Content-Length, then close) streams a body."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunks: Iterable[bytes] | None = None


def json_reply(value, status: int = 200) -> Reply:
    return Reply(status, json.dumps(value).encode(), {"Content-Type": "application/json"})


Route = Callable[[Seen], Reply]


class StandIn(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, host: str = "127.0.0.1"):
        super().__init__((host, 0), _Handler)
        self.routes: dict[tuple[str, str], Route] = {}
        self.seen: list[Seen] = []
        self.release = threading.Event()  # slow routes wait on it; closing sets it
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # the proxy hanging up is expected
            super().handle_error(request, client_address)

    def reset(self) -> None:
        self.seen.clear()
        self.release = threading.Event()

    def close(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self._answer()

    def do_PUT(self):
        self._answer()

    def do_DELETE(self):
        self._answer()

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        path, _, query = self.path.partition("?")
        seen = Seen(self.command, path, {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length), query)
        self.server.seen.append(seen)
        route = self.server.routes.get((self.command, path))
        reply = route(seen) if route else json_reply({"detail": f"no route {path}"}, 404)
        self._send(reply)

    def _send(self, reply: Reply):
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunks is None:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            for part in reply.chunks:
                self.wfile.write(part)
        except OSError:
            pass  # the proxy hung up on purpose (size cap)

    def log_message(self, format, *args):
        pass


# --- media ----------------------------------------------------------------------------------
def noisy_png(width: int, height: int, seed: int = 1) -> bytes:
    """A PNG whose pixels barely compress (an LCG's bytes), so its size is close to w*h*3."""
    state, rows = seed, []
    for _ in range(height):
        row = bytearray(3 * width)
        for i in range(0, len(row), 4):
            state = (state * 1103515245 + 12345) & 0x7FFFFFFF
            row[i:i + 4] = state.to_bytes(4, "little")[:len(row) - i]
        rows.append(b"\0" + bytes(row))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"".join(rows), 1)) + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


PNG = tiny_png(16, 8, (10, 120, 200))
# The start of an MP4 (an ISO `ftyp` box, then a box of padding) and of a WebM (EBML, doc type
# "webm"): what the proxy sniffs before it labels a clip.
MP4 = (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x00\x00\x10free"
       + b"scenevault-mp4!!")
WEBM = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm\x42\x87\x81\x04" + b"\x00" * 16
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 60
WAV = (b"RIFF" + struct.pack("<I", 36 + 8) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
       + b"data" + struct.pack("<I", 8) + b"\x00\x01" * 4)


# --- each API's wire format -------------------------------------------------------------------
def openai_routes(png: bytes = PNG, wav: bytes = WAV) -> dict[tuple[str, str], Route]:
    """OpenAI: images answer {"created", "data": [{"b64_json"}]}; speech answers the audio bytes."""
    return {
        ("POST", "/v1/images/generations"): lambda seen: json_reply(
            {"created": 1700000000, "data": [{"b64_json": base64.b64encode(png).decode()}]}),
        ("POST", "/v1/audio/speech"): lambda seen: Reply(200, wav, {"Content-Type": "audio/wav"}),
    }


def a1111_routes(png: bytes = PNG, used_seed: int = 3_000_000_001) -> dict[tuple[str, str], Route]:
    """A1111: {"images": [base64], "parameters": <the request>, "info": "<JSON text with the seed>"}."""
    def txt2img(seen: Seen) -> Reply:
        asked = seen.json()
        info = {"prompt": asked["prompt"], "seed": used_seed, "all_seeds": [used_seed],
                "width": asked["width"], "height": asked["height"], "sd_model_name": "v1-5"}
        return json_reply({"images": [base64.b64encode(png).decode()], "parameters": asked,
                           "info": json.dumps(info)})
    return {("POST", "/sdapi/v1/txt2img"): txt2img}


def fal_routes(fal: StandIn, image_url: Callable[[], str], model: str = "fal-ai/flux/schnell",
               waits: int = 2, seed: int = 77) -> dict[tuple[str, str], Route]:
    """fal.ai's queue: submit -> {request_id, status_url, response_url}; status IN_QUEUE,
    IN_PROGRESS ... COMPLETED; result {"images": [{"url", ...}], "seed"}."""
    app_id = "/".join(model.split("/")[:2])
    base = f"/{app_id}/requests/req-1"
    polls = {"count": 0}

    def status(seen: Seen) -> Reply:
        polls["count"] += 1
        state = "COMPLETED" if polls["count"] > waits else ("IN_QUEUE" if polls["count"] == 1 else "IN_PROGRESS")
        return json_reply({"status": state, "queue_position": 0})

    return {
        ("POST", f"/{model}"): lambda seen: json_reply({
            "request_id": "req-1", "status_url": f"{fal.url}{base}/status",
            "response_url": f"{fal.url}{base}", "cancel_url": f"{fal.url}{base}/cancel"}),
        ("GET", f"{base}/status"): status,
        ("GET", base): lambda seen: json_reply({
            "images": [{"url": image_url(), "width": 16, "height": 8, "content_type": "image/png"}],
            "seed": seed, "has_nsfw_concepts": [False], "prompt": "x"}),
    }


def cdn_routes(png: bytes = PNG, mp4: bytes = MP4) -> dict[tuple[str, str], Route]:
    """A CDN holding the temporary result files."""
    return {("GET", "/files/result.png"): lambda seen: Reply(200, png, {"Content-Type": "image/png"}),
            ("GET", "/files/clip.mp4"): lambda seen: Reply(200, mp4, {"Content-Type": "video/mp4"})}


FAL_VIDEO_MODEL = "fal-ai/kling-video/v2.1/standard/image-to-video"


def fal_video_routes(fal: StandIn, video_url: Callable[[], str], model: str = FAL_VIDEO_MODEL,
                     waits: int = 2) -> dict[tuple[str, str], Route]:
    """fal.ai's queue for an image-to-video model: submit -> {request_id, status_url,
    response_url, cancel_url}; status IN_QUEUE, IN_PROGRESS ... COMPLETED; result {"video":
    {"url", "content_type", "file_name", "file_size"}}; cancel (PUT) -> 202
    {"status": "CANCELLATION_REQUESTED"}."""
    app_id = "/".join(model.split("/")[:2])
    base = f"/{app_id}/requests/vid-1"
    polls = {"count": 0}

    def status(seen: Seen) -> Reply:
        polls["count"] += 1
        state = "COMPLETED" if polls["count"] > waits else ("IN_QUEUE" if polls["count"] == 1 else "IN_PROGRESS")
        return json_reply({"status": state, "queue_position": 0, "response_url": f"{fal.url}{base}"})

    return {
        ("POST", f"/{model}"): lambda seen: json_reply({
            "request_id": "vid-1", "status_url": f"{fal.url}{base}/status",
            "response_url": f"{fal.url}{base}", "cancel_url": f"{fal.url}{base}/cancel",
            "queue_position": 0}),
        ("GET", f"{base}/status"): status,
        ("GET", base): lambda seen: json_reply({"video": {
            "url": video_url(), "content_type": "video/mp4", "file_name": "output.mp4",
            "file_size": len(MP4)}}),
        ("PUT", f"{base}/cancel"): lambda seen: json_reply({"status": "CANCELLATION_REQUESTED"}, 202),
    }


# --- ComfyUI ------------------------------------------------------------------------------------
# A trimmed Wan 2.1 image-to-video workflow in ComfyUI's API format (Workflow > Export (API)).
COMFY_WORKFLOW = {
    "3": {"class_type": "KSampler", "inputs": {
        "seed": 0, "steps": 20, "cfg": 6, "sampler_name": "uni_pc", "scheduler": "simple",
        "denoise": 1, "model": ["37", 0], "positive": ["50", 0], "negative": ["50", 1],
        "latent_image": ["50", 2]}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "placeholder", "clip": ["38", 0]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "static, blurry", "clip": ["38", 0]}},
    "37": {"class_type": "UNETLoader", "inputs": {"unet_name": "wan2.1_i2v_480p_14B_fp8.safetensors",
                                                  "weight_dtype": "default"}},
    "38": {"class_type": "CLIPLoader", "inputs": {"clip_name": "umt5_xxl_fp8.safetensors", "type": "wan"}},
    "50": {"class_type": "WanImageToVideo", "inputs": {
        "width": 832, "height": 480, "length": 33, "batch_size": 1, "positive": ["6", 0],
        "negative": ["7", 0], "vae": ["39", 0], "start_image": ["52", 0]}},
    "52": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
    "39": {"class_type": "VAELoader", "inputs": {"vae_name": "wan_2.1_vae.safetensors"}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["39", 0]}},
    "28": {"class_type": "SaveWEBM", "inputs": {"filename_prefix": "ComfyUI", "codec": "vp9",
                                                "fps": 16, "crf": 32, "images": ["8", 0]}},
}


def comfy_routes(comfy: StandIn, video: bytes = WEBM, pending: int = 1, running: int = 2,
                 prompt_id: str = "5f1e0c2a-7d3b-4c1e-9a8b-0123456789ab") -> dict[tuple[str, str], Route]:
    """ComfyUI's HTTP API: /upload/image (multipart) answers the stored name; /prompt answers
    {prompt_id, number, node_errors}; the prompt is `pending` polls in queue_pending, then
    `running` in queue_running, then in /history with a SaveWEBM output that /view serves;
    /interrupt and /queue (delete) answer empty bodies, as ComfyUI does."""
    state = {"polls": 0, "queued": False}
    output = {"filename": "ComfyUI_00001_.webm", "subfolder": "clips", "type": "output"}

    def phase() -> str:
        if not state["queued"]:
            return "unknown"
        if state["polls"] <= pending:
            return "pending"
        return "running" if state["polls"] <= pending + running else "done"

    def upload(seen: Seen) -> Reply:
        filename = seen.form()["image"][0]
        return json_reply({"name": filename, "subfolder": "", "type": "input"})

    def prompt(seen: Seen) -> Reply:
        state["queued"] = True
        return json_reply({"prompt_id": prompt_id, "number": 7, "node_errors": {}})

    def history(seen: Seen) -> Reply:
        state["polls"] += 1
        if phase() != "done":
            return json_reply({})
        return json_reply({prompt_id: {
            "prompt": [7, prompt_id, {}, {}, ["28"]], "outputs": {"28": {"images": [output], "animated": [True]}},
            "status": {"status_str": "success", "completed": True, "messages": [
                ["execution_start", {"prompt_id": prompt_id}],
                ["execution_success", {"prompt_id": prompt_id}]]}}})

    def queue(seen: Seen) -> Reply:
        item = [7, prompt_id, {}, {"client_id": "x"}, ["28"]]
        other = [6, "someone-elses-prompt", {}, {}, ["9"]]
        return json_reply({"queue_running": [item] if phase() == "running" else [other],
                           "queue_pending": [item] if phase() == "pending" else []})

    def view(seen: Seen) -> Reply:
        asked = dict(part.split("=", 1) for part in seen.query.split("&"))
        if asked == {"filename": output["filename"], "subfolder": output["subfolder"], "type": "output"}:
            return Reply(200, video, {"Content-Type": "video/webm"})
        return Reply(404, b"404: Not Found")

    return {
        ("POST", "/upload/image"): upload,
        ("POST", "/prompt"): prompt,
        ("GET", f"/history/{prompt_id}"): history,
        ("GET", "/queue"): queue,
        ("GET", "/view"): view,
        ("POST", "/interrupt"): lambda seen: Reply(200, b""),
        ("POST", "/queue"): lambda seen: Reply(200, b""),
    }


# --- ElevenLabs ---------------------------------------------------------------------------------
def elevenlabs_routes(voices: Iterable[str], mp3: bytes = MP3) -> dict[tuple[str, str], Route]:
    """ElevenLabs text-to-speech: POST /v1/text-to-speech/{voice_id}?output_format=... with
    {"text", "model_id", "seed"} answers the audio bytes (audio/mpeg for mp3_* formats)."""
    return {("POST", f"/v1/text-to-speech/{voice}"): lambda seen: Reply(
        200, mp3, {"Content-Type": "audio/mpeg", "request-id": "req-el-1"}) for voice in voices}
