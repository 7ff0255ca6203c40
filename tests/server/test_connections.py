"""server.py under many idle connections: 300 sockets that connect and then send nothing (or
half a request head) cost the server no threads, and /api/health still answers while they are
open. A thread per connection (http.server's ThreadingHTTPServer, which this server replaced)
would hold 300 threads; the waiting room holds them in one selector (proxy/connections.py)."""

import socket
from pathlib import Path

import pytest

from conftest import ROOT, start_server

IDLE_SOCKETS = 300
WORKERS = 4  # --max-connections: requests served at once


def threads_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError(f"/proc/{pid}/status has no Threads line")


def health(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        reply = bytearray()
        while chunk := sock.recv(65536):
            reply += chunk
    return bytes(reply)


@pytest.fixture
def small_server(tmp_path):
    running = start_server(ROOT, tmp_path / "server.log", "--quiet",
                           "--max-connections", str(WORKERS), "--header-timeout", "60",
                           "--idle-timeout", "60")
    yield running
    running.stop()


def test_three_hundred_idle_sockets_take_no_threads_and_health_still_answers(small_server):
    pid, port = small_server.process.pid, small_server.port
    assert health(port).startswith(b"HTTP/1.1 200 ")  # the pool has started its first worker
    before = threads_of(pid)
    idle = []
    try:
        for n in range(IDLE_SOCKETS):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            if n % 2:  # half of them start a request head and never finish it
                sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            idle.append(sock)
        answer = health(port)
        during = threads_of(pid)
    finally:
        for sock in idle:
            sock.close()
    assert answer.startswith(b"HTTP/1.1 200 ") and b'"ok"' in answer, answer[:200]
    assert during <= max(before, WORKERS + 3), (before, during)  # not one thread per socket
    assert small_server.process.poll() is None  # still serving
