"""Benchmark `proxy`: what server.py's generation proxy costs, and whether it holds under load.

No browser. A loopback stand-in speaks the OpenAI Images API and answers a ~1 MB PNG as
`b64_json` after a simulated render time; server.py runs as a child process pointed at it
(`SCENEVAULT_PROVIDER=openai`). Alternating runs time:
- direct: POST to the stand-in, parse the JSON, decode the base64 (what a client calling the
  provider itself would do);
- proxy: POST /api/generate to server.py, which does the same, checks the PNG, writes its
  recipe chunks and sends raw bytes.
Figures: `proxy_p50_vs_direct` (goal <= 1.1) with a 200 ms render, the same ratio for an
instant stand-in (the pure overhead, for the record), `proxy_overhead_ms_p50`,
`proxy_concurrent_errors` (5xx among 32 simultaneous generations; goal 0) and
`local_1024x576_ms` (the local provider in process).

    figures = proxy.run(session=None)
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import statistics
import struct
import subprocess
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from proxy.providers.local import LocalProvider  # noqa: E402
from proxy.providers.transport import Deadline  # noqa: E402
from app.core.recipe import Catalog, validate_request  # noqa: E402

RENDER_S = 0.2  # a fast real provider takes seconds; 200 ms keeps the ratio conservative
CONCURRENT = 32
BODY = {"kind": "image", "prompt": "a lighthouse at dusk", "provider": "openai", "seed": 1,
        "model": "dall-e-3", "width": 1024, "height": 1024}


def megabyte_png() -> bytes:
    """A 1024x341 RGB PNG of pseudo-random pixels: about 1 MB that does not compress."""
    width, height, state, rows = 1024, 341, 7, []
    for _ in range(height):
        row = bytearray()
        for _ in range(width * 3 // 4):
            state = (state * 1103515245 + 12345) & 0x7FFFFFFF
            row += state.to_bytes(4, "little")
        rows.append(b"\0" + bytes(row))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"".join(rows), 1)) + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


class Upstream(ThreadingHTTPServer):
    """An OpenAI-compatible images endpoint on loopback with a configurable render time."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, png: bytes):
        super().__init__(("127.0.0.1", 0), _UpstreamHandler)
        self.answer = json.dumps({"created": 1, "data": [{"b64_json": base64.b64encode(png).decode()}]}).encode()
        self.render_s = RENDER_S
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _UpstreamHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(self.server.render_s)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.answer)))
        self.end_headers()
        self.wfile.write(self.server.answer)

    def log_message(self, format, *args):
        pass


def post(port: int, path: str, body: dict) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def direct_call(port: int) -> bytes:
    status, data = post(port, "/v1/images/generations", {"model": "dall-e-3", "prompt": BODY["prompt"]})
    assert status == 200
    return base64.b64decode(json.loads(data)["data"][0]["b64_json"])


def proxy_call(port: int) -> bytes:
    status, data = post(port, "/api/generate", BODY)
    assert status == 200, data[:200]
    return data


def timed(call, port: int) -> float:
    start = time.perf_counter()
    call(port)
    return (time.perf_counter() - start) * 1000


def start_proxy(upstream_port: int) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "SCENEVAULT_PROVIDER": "openai", "SCENEVAULT_OPENAI_API_KEY": "sk-bench",
           "SCENEVAULT_OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}",
           "SCENEVAULT_MAX_CONCURRENT": str(CONCURRENT * 2)}
    process = subprocess.Popen([sys.executable, str(ROOT / "server.py"), "--port", "0", "--quiet"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if " serving http://" not in line:
        process.kill()
        raise RuntimeError(f"server.py did not start: {line!r}")
    return process, int(line.rsplit(":", 1)[1].strip(" /\n"))


def medians(upstream_port: int, proxy_port: int, runs: int) -> tuple[float, float]:
    direct_call(upstream_port), proxy_call(proxy_port)  # warm-up
    direct, proxied = [], []
    for _ in range(runs):
        direct.append(timed(direct_call, upstream_port))
        proxied.append(timed(proxy_call, proxy_port))
    return statistics.median(direct), statistics.median(proxied)


def concurrent_5xx(proxy_port: int) -> int:
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda: statuses.append(post(proxy_port, "/api/generate", BODY)[0]))
               for _ in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return sum(1 for status in statuses if status >= 500) + (CONCURRENT - len(statuses))


def local_image_ms(runs: int = 5) -> float:
    provider = LocalProvider()
    catalog = Catalog("local", (provider.spec(),))
    times = []
    for seed in range(runs):
        body = {"kind": "image", "prompt": "a knight at sunset by the sea", "seed": seed}
        recipe = validate_request(body, catalog)
        start = time.perf_counter()
        provider.generate(recipe, Deadline(60))
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run(session=None, runs: int = 15) -> dict[str, float]:
    png = megabyte_png()
    upstream = Upstream(png)
    process, proxy_port = start_proxy(upstream.server_address[1])
    try:
        direct_ms, proxy_ms = medians(upstream.server_address[1], proxy_port, runs)
        errors = concurrent_5xx(proxy_port)
        upstream.render_s = 0.0
        instant_direct, instant_proxy = medians(upstream.server_address[1], proxy_port, runs)
    finally:
        process.terminate()
        process.wait(10)
        upstream.shutdown()
    return {
        "proxy_p50_vs_direct": round(proxy_ms / direct_ms, 3),
        "proxy_overhead_ms_p50": round(proxy_ms - direct_ms, 1),
        "proxy_p50_vs_direct_instant_provider": round(instant_proxy / instant_direct, 3),
        "proxy_concurrent_errors": errors,
        "local_1024x576_ms": round(local_image_ms(), 1),
        "image_bytes": len(png),
        "runs": runs,
    }
