"""One wall-clock deadline bounds a whole upstream exchange (proxy/providers/transport.py), against
a loopback upstream that drips its answer one byte a second: the call fails with ProviderTimeout
naming the origin within the timeout plus a second, and (through the real server.py) the
concurrency slots come back, so later generations are not refused with 429."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from proxies import (error_of, fresh, post_generate, provider_env, standins)  # noqa: F401

from app.core.errors import ProviderTimeout
from proxy.providers.transport import Deadline, request
from conftest import ROOT, start_server

DRIP_S = 1.0  # one byte a second: each recv succeeds, so a per-read timeout never fires
DRIP_FOR_S = 12.0  # a drip ends on its own at last (so an old, unbounded client still returns)

# What the upstream sends at once, then what it drips.
MODES = {
    "status-line": (b"", b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100),
    "header": (b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 100),
    "chunked-body": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;", b"x" * 100),
    "content-length-body": (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", b"{" * 100),
    "tls-handshake": (b"\x16\x03\x03\x40\x00", b"\x02" * 100),  # a ServerHello that never ends
}


class Drip:
    """A loopback upstream that reads a request, sends `head`, then drips `tail` byte by byte."""

    def __init__(self, head: bytes, tail: bytes):
        self.head, self.tail = head, tail
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket):
        with conn:
            try:
                conn.recv(65536)  # the request (or a TLS ClientHello): small, one segment
                conn.sendall(self.head)
                ends = time.monotonic() + DRIP_FOR_S
                for byte in self.tail:
                    if self.stop.wait(DRIP_S) or time.monotonic() > ends:
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                pass  # the client cut the connection: what the deadline should do

    def close(self):
        self.stop.set()
        self.listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.mark.parametrize("mode", MODES)
def test_a_dripping_upstream_times_out_at_the_deadline(mode):
    timeout = 2.0
    with Drip(*MODES[mode]) as upstream:
        url = upstream.url.replace("http:", "https:") if mode == "tls-handshake" else upstream.url
        start = time.monotonic()
        with pytest.raises(ProviderTimeout) as caught:
            request("POST", url + "/sdapi/v1/txt2img", deadline=Deadline(timeout), max_bytes=1 << 20,
                    json_body={"prompt": "a fox"})
        elapsed = time.monotonic() - start
    assert timeout - 0.1 <= elapsed <= timeout + 1.0, elapsed
    assert str(caught.value) == f"{url.split('://')[0]}://127.0.0.1:{upstream.port} did not answer within 2 s"


def test_a_name_lookup_that_hangs_times_out_at_the_deadline(monkeypatch):
    real = socket.getaddrinfo

    def slow_for_one_name(host, *args, **kwargs):
        if host == "slow-dns.example":
            time.sleep(5)
        return real(host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", slow_for_one_name)
    start = time.monotonic()
    with pytest.raises(ProviderTimeout, match=r"http://slow-dns.example:80 did not answer within 1 s"):
        request("GET", "http://slow-dns.example/x", deadline=Deadline(1), max_bytes=1000)
    assert time.monotonic() - start <= 1.5


@pytest.mark.parametrize("mode", ["header", "chunked-body"])
def test_after_dripping_calls_time_out_later_generations_still_get_slots(standins, fresh, tmp_path, mode):
    """max_concurrent dripping generations, each a 504 on time; then max_concurrent + 1 against a
    healthy stand-in all succeed: no slot is kept by a call the upstream still holds."""
    timeout, slots = 2, 2
    with Drip(*MODES[mode]) as upstream:
        proxy = start_server(ROOT, tmp_path / "server.log", env=provider_env(
            standins, SCENEVAULT_A1111_URL=upstream.url, SCENEVAULT_MAX_CONCURRENT=str(slots),
            SCENEVAULT_PROVIDER_TIMEOUT_S=str(timeout)))
        try:
            for _ in range(slots):
                start = time.monotonic()
                message = error_of(*post_generate(proxy, IMAGE_A1111), 504, "provider_timeout")
                assert time.monotonic() - start <= timeout + 1.0
                assert f"127.0.0.1:{upstream.port} did not answer within {timeout} s" in message
            for _ in range(slots + 1):
                status, _, body = post_generate(proxy, IMAGE_OPENAI)
                assert status == 200, body[:300]
        finally:
            proxy.stop()


IMAGE_A1111 = {"kind": "image", "prompt": "a fox", "provider": "a1111", "width": 512, "height": 512}
IMAGE_OPENAI = {**IMAGE_A1111, "provider": "openai"}
