"""server.py's framing over raw sockets: a refused request is answered once and its connection
closed (so its body is never read as a next request, which is how a cross-site page could smuggle
a POST past the Origin check), framing two parsers could read differently is refused, and a
refused large body gets a lingering close, so the client reads the error instead of a reset."""

import json
import re
import socket

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

# What a smuggled body would be: a complete second request, which has no Origin header.
HEALTH = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
IMAGE = json.dumps({"kind": "image", "prompt": "smuggled", "seed": 1}).encode()
GENERATE = (b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(IMAGE), IMAGE))
STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


def exchange(port: int, data: bytes, quiet_s: float = 3) -> tuple[list[int], bytes, bool]:
    """Send `data`; read until the server closes or stays quiet for `quiet_s`.
    Returns the status of every answer, the raw reply, and whether the server closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=quiet_s) as sock:
        sock.sendall(data)
        reply, closed = bytearray(), False
        try:
            while chunk := sock.recv(65536):
                reply += chunk
            closed = True
        except TimeoutError:
            pass
    return [int(code) for code in STATUS_LINE.findall(reply)], bytes(reply), closed


# (what is refused, the head, the status it gets); each head is followed by a complete request.
REFUSALS = [
    ("foreign Host", b"POST /api/generate HTTP/1.1\r\nHost: evil.example\r\n"
     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", 403),
    ("no Host", b"POST /api/generate HTTP/1.1\r\nContent-Type: application/json\r\n"
     b"Content-Length: %d\r\n\r\n", 403),
    ("Host with userinfo", b"GET /api/health HTTP/1.1\r\nHost: user@127.0.0.1\r\n"
     b"Content-Length: %d\r\n\r\n", 403),
    ("two Host headers", b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n"
     b"Content-Length: %d\r\n\r\n", 403),
    ("cross-site Origin (a no-cors fetch)", b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Origin: http://evil.example\r\nContent-Type: text/plain;charset=UTF-8\r\n"
     b"Content-Length: %d\r\n\r\n", 403),
    ("unknown API route", b"PUT /api/nope HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Length: %d\r\n\r\n", 404),
    ("wrong method on an API route", b"PUT /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Length: %d\r\n\r\n", 405),
    ("DELETE with a body", b"DELETE /api/jobs/job_00000000000000000000000000000000 HTTP/1.1\r\n"
     b"Host: 127.0.0.1\r\nContent-Length: %d\r\n\r\n", 400),
    ("POST to a static file", b"POST /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Length: %d\r\n\r\n", 405),
    ("POST without a length", b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Type: application/json\r\n\r\n", 411),
    ("GET with a body", b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Length: %d\r\n\r\n", 400),
    ("GET of a missing file with a body", b"GET /nope.html HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Length: %d\r\n\r\n", 400),
    ("HEAD with a body", b"HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n", 400),
    ("two different Content-Lengths", b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Type: application/json\r\nContent-Length: 0\r\nContent-Length: %d\r\n\r\n", 400),
    ("the same Content-Length twice", b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Type: application/json\r\nContent-Length: %d\r\nContent-Length: %d\r\n\r\n", 400),
    ("Content-Length +0", b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Type: application/json\r\nContent-Length: +0\r\n\r\n", 400),
    ("Content-Length -0", b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Type: application/json\r\nContent-Length: -0\r\n\r\n", 400),
    ("Content-Length 0_0", b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Type: application/json\r\nContent-Length: 0_0\r\n\r\n", 400),
    ("Content-Length 0x10", b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Type: application/json\r\nContent-Length: 0x10\r\n\r\n", 400),
    ("non-ASCII digit in Content-Length", b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Type: application/json\r\nContent-Length: \xd9\xa0\r\n\r\n", 400),
    ("Transfer-Encoding: chunked", b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ("Transfer-Encoding with a Content-Length", b"POST /api/generate HTTP/1.1\r\n"
     b"Host: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: identity\r\n"
     b"Content-Length: %d\r\n\r\n", 400),
    ("Transfer-Encoding on a GET", b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n", 400),
    ("a line that is not a header", b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Type: application/json\r\nContent-Length : %d\r\n\r\n", 400),
    ("a folded header", b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Note: a\r\n b\r\n"
     b"Content-Length: %d\r\n\r\n", 400),
    ("a body that is not JSON", b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", 400),
    ("a non-JSON Content-Type", b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n", 415),
    ("a lying Content-Length over the cap", b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Type: application/json\r\nContent-Length: 999999999\r\n\r\n", 413),
    ("an unsupported method", b"OPTIONS /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"
     b"Content-Length: %d\r\n\r\n", 501),
    ("HTTP/2.0 on the request line", b"GET /api/health HTTP/2.0\r\nHost: 127.0.0.1\r\n"
     b"Content-Length: %d\r\n\r\n", 505),
]


def _fill(head: bytes, body: bytes) -> bytes:
    return head.replace(b"%d", str(len(body)).encode()) + body


@pytest.mark.parametrize("what, head, status", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_refused_request_is_answered_once_then_closed(server, what, head, status):
    statuses, reply, closed = exchange(server.port, _fill(head, HEALTH))
    assert statuses == [status], reply
    assert closed, f"{what}: the connection stayed open after the refusal"
    head_part, _, body = reply.partition(b"\r\n\r\n")
    assert b"\r\nConnection: close" in head_part + b"\r\n"
    if what.startswith("HEAD"):
        assert body == b"", "a HEAD answer carries no body"
    else:
        assert json.loads(body)["error"]["code"]


@pytest.mark.parametrize("what, head, status", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_smuggled_generation_never_runs(server, what, head, status):
    statuses, reply, closed = exchange(server.port, _fill(head, GENERATE))
    assert statuses == [status] and closed, reply
    assert b"image/png" not in reply


def test_a_refused_generation_is_not_followed_by_the_next_pipelined_request(server):
    """A recipe error (400) after a whole body: the request written behind it goes unanswered."""
    bad = b'{"kind": "nope", "prompt": "x"}'
    head = (b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(bad))
    statuses, reply, closed = exchange(server.port, head + bad + HEALTH)
    assert statuses == [400] and closed, reply


def test_a_5_mb_body_reads_back_the_413_instead_of_a_reset(server):
    body = b"x" * (5 * 1024 * 1024)
    head = (b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    statuses, reply, closed = exchange(server.port, head + body, quiet_s=10)
    assert statuses == [413] and closed
    payload = json.loads(reply.split(b"\r\n\r\n", 1)[1])
    assert payload["error"]["code"] == "body_too_large"


def test_good_requests_keep_the_connection_and_pipeline(server):
    statuses, reply, closed = exchange(server.port, HEALTH + HEALTH + GENERATE + HEALTH, quiet_s=1)
    assert statuses == [200, 200, 200, 200] and not closed
    assert b"image/png" in reply


def test_a_head_and_body_split_across_many_writes_still_work(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for piece in (GENERATE[:5], GENERATE[5:40], GENERATE[40:-10], GENERATE[-10:]):
            sock.sendall(piece)
        reply = sock.recv(100)
    assert reply.startswith(b"HTTP/1.1 200 ")


def test_content_length_zero_on_a_get_is_fine(server):
    statuses, _, closed = exchange(server.port, HEALTH.replace(
        b"\r\n\r\n", b"\r\nContent-Length: 0\r\n\r\n") + HEALTH, quiet_s=1)
    assert statuses == [200, 200] and not closed


# --- fuzz: raw request bytes built from the pieces real and hostile clients send ------------------
_LINES = st.sampled_from([
    b"GET /api/health HTTP/1.1", b"POST /api/generate HTTP/1.1", b"HEAD / HTTP/1.1",
    b"GET /index.html HTTP/1.0", b"GET /../server.py HTTP/1.1", b"GET /proxy/providers/ HTTP/1.1",
    b"BREW /api/health HTTP/1.1", b"GET /api/health HTTP/9.9", b"GET", b"",
])
_HEADERS = st.sampled_from([
    b"Host: 127.0.0.1", b"Host: evil.example", b"Host: 127.0.0.1:99999", b"Host: a@127.0.0.1",
    b"Origin: http://evil.example", b"Content-Type: application/json", b"Content-Type: text/plain",
    b"Content-Length: 0", b"Content-Length: 12", b"Content-Length: -1", b"Content-Length: 1e3",
    b"Content-Length: 99999999999999999999", b"Transfer-Encoding: chunked", b"Connection: close",
    b"Connection: keep-alive", b" folded", b"NoColon", b"X-Long: " + b"a" * 9000,
])


@st.composite
def raw_requests(draw) -> bytes:
    """One to three requests, each a line, some headers and perhaps a body, then junk bytes."""
    out = bytearray()
    for _ in range(draw(st.integers(1, 3))):
        out += draw(_LINES) + b"\r\n"
        for header in draw(st.lists(_HEADERS, max_size=6)):
            out += header + b"\r\n"
        out += b"\r\n" + draw(st.sampled_from([b"", b'{"kind": "image"}', b"{}", b"[[[[", HEALTH]))
    return bytes(out + draw(st.binary(max_size=64)))


def send_all_then_read(port: int, data: bytes) -> list[int]:
    """Send `data`, end our side (so the server sees the end and every exchange ends quickly),
    read until the server closes; the status of every answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        reply = bytearray()
        while chunk := sock.recv(65536):
            reply += chunk
    return [int(code) for code in STATUS_LINE.findall(bytes(reply))]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=raw_requests())
def test_fuzzed_bytes_never_kill_the_server_or_get_an_answer_after_a_refusal(server, data):
    statuses = send_all_then_read(server.port, data)
    refused = [i for i, status in enumerate(statuses) if status >= 400]
    assert not refused or refused[0] == len(statuses) - 1, (data, statuses)
    assert send_all_then_read(server.port, HEALTH) == [200], f"the server stopped answering after {data!r}"
