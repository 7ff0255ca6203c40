"""server.py's connections over raw sockets: 300 sockets that connect and then send nothing (or
half a request head) cost the server no threads, and /api/health still answers while they are
open (a thread per connection, http.server's ThreadingHTTPServer, which this server replaced,
held 301); a head dripped past its deadline gets 408, an idle keep-alive connection is closed
after its timeout, and past the open-socket cap a new connection gets 503 and is closed, the
server answering again once sockets are freed (proxy/connections.py: the waiting room)."""

import socket
import time
from pathlib import Path

import pytest

from conftest import ROOT, start_server
from proxy.config import DEFAULT_MAX_OPEN_CONNECTIONS

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


def read_all(sock: socket.socket) -> bytes:
    reply = bytearray()
    while chunk := sock.recv(65536):
        reply += chunk
    return bytes(reply)


@pytest.fixture
def impatient_server(tmp_path):
    """Deadlines of one second for a request head and for an idle keep-alive connection."""
    running = start_server(ROOT, tmp_path / "server.log", "--quiet",
                           "--header-timeout", "1", "--idle-timeout", "1")
    yield running
    running.stop()


def test_a_head_dripped_past_its_deadline_gets_408_and_a_close(impatient_server):
    with socket.create_connection(("127.0.0.1", impatient_server.port), timeout=10) as sock:
        for byte in b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n":  # a byte every 50 ms
            sock.sendall(bytes([byte]))
            time.sleep(0.05)
            if byte == ord("\n"):
                break
        sock.settimeout(10)
        reply = read_all(sock)  # returns once the server closed
    assert reply.startswith(b"HTTP/1.1 408 ") and b"request_timeout" in reply, reply[:200]


def read_response(sock: socket.socket) -> bytes:
    """One whole response (head and its Content-Length of body), however it was segmented."""
    data = bytearray()
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536) or b""
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def test_an_idle_keep_alive_connection_is_closed_after_its_timeout(impatient_server):
    with socket.create_connection(("127.0.0.1", impatient_server.port), timeout=10) as sock:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = read_response(sock)
        started = time.monotonic()
        rest = read_all(sock)  # nothing more is sent: the server ends the idle connection
        waited = time.monotonic() - started
    assert first.startswith(b"HTTP/1.1 200 ") and rest == b""
    assert 0.5 <= waited < 8, waited


def test_past_the_open_socket_cap_a_new_connection_gets_503_and_nothing_else_breaks(small_server):
    port = small_server.port
    held = []
    try:
        for _ in range(DEFAULT_MAX_OPEN_CONNECTIONS):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        time.sleep(0.5)  # the waiting room has taken every one of them
        with socket.create_connection(("127.0.0.1", port), timeout=10) as extra:
            extra.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            refused = read_all(extra)
    finally:
        for sock in held:
            sock.close()
    assert refused.startswith(b"HTTP/1.1 503 ") and b"server_busy" in refused, refused[:200]
    deadline = time.monotonic() + 10
    while not (answer := health(port)).startswith(b"HTTP/1.1 200 ") and time.monotonic() < deadline:
        time.sleep(0.2)  # the closed sockets leave the waiting room at its next turn
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
