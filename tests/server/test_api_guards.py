"""server.py over real HTTP: Host and Origin checks, body caps, JSON-only, and the API shape."""

import http.client
import json
import socket

import pytest

from test_static_files import assert_json_error, request


def request_with_host(server, host, path="/"):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True)
        if host is not None:
            conn.putheader("Host", host)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def raw_exchange(server, data: bytes) -> str:
    """Send raw bytes; read the reply until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def post_json(server, path, body, headers=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    return request(server, "POST", path, sent, raw)


def test_health_reports_ok_and_the_version(server):
    from app.core.version import __version__

    status, headers, body = request(server, "GET", "/api/health")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-store"
    assert json.loads(body) == {"ok": True, "version": __version__}


@pytest.mark.parametrize("host", [
    "evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.evil.example",
    "192.168.1.20:8000", "0.0.0.0", "[::2]:8000", "",
])
def test_foreign_host_is_403(server, host):
    error = assert_json_error(*request_with_host(server, host), 403, "forbidden_host")
    assert host in error["message"] or not host


def test_missing_host_is_403(server):
    assert_json_error(*request_with_host(server, None), 403, "forbidden_host")


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "[::1]:{port}",
                                  "localhost."])
def test_local_host_names_are_served(server, host):
    status, _, _ = request_with_host(server, host.format(port=server.port), "/api/health")
    assert status == 200


def test_foreign_host_is_refused_on_the_api_too(server):
    assert_json_error(*request_with_host(server, "evil.example", "/api/health"), 403)


@pytest.mark.parametrize("origin", [
    "http://evil.example", "https://127.0.0.1:{port}", "http://127.0.0.1:1", "null",
    "http://localhost:{port}",
])
def test_cross_site_origin_on_post_is_403(server, origin):
    headers = {"Origin": origin.format(port=server.port)}
    error = assert_json_error(*post_json(server, "/api/generate", {}, headers), 403,
                              "forbidden_origin")
    assert "Origin" in error["message"]


def test_same_origin_post_passes_the_origin_check(server):
    headers = {"Origin": f"http://127.0.0.1:{server.port}"}
    assert_json_error(*post_json(server, "/api/health", {}, headers), 405, "method_not_allowed")


def test_oversized_body_is_413_before_it_is_read(server):
    big = json.dumps({"prompt": "x" * (70 * 1024)}).encode()
    assert_json_error(*post_json(server, "/api/generate", big), 413, "body_too_large")


def test_a_lying_content_length_over_the_cap_is_413(server):
    reply = raw_exchange(server, b"POST /api/generate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 999999999\r\n\r\n{}")
    assert reply.startswith("HTTP/1.1 413") and "body_too_large" in reply


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/json; charset=latin-1", "application/jsonp", "",
])
def test_non_json_body_is_415(server, content_type):
    status, headers, body = request(server, "POST", "/api/generate",
                                    {"Content-Type": content_type}, b'{"kind": "image"}')
    assert_json_error(status, headers, body, 415, "unsupported_media_type")


def test_json_with_utf8_charset_is_accepted(server):
    status, headers, body = request(server, "POST", "/api/health",
                                    {"Content-Type": "application/json; charset=UTF-8"}, b"{}")
    assert_json_error(status, headers, body, 405)


@pytest.mark.parametrize("raw", [b"{", b"not json", b"\xff\xfe", b"[1, 2]", b'"text"', b"NaN",
                                 b'{"seed": NaN}', b""])
def test_malformed_json_is_400_naming_the_problem(server, raw):
    error = assert_json_error(*post_json(server, "/api/generate", raw), 400, "bad_json")
    assert "JSON" in error["message"]


def test_chunked_body_is_refused_with_400_and_a_close(server):
    status, headers, body = request(server, "POST", "/api/generate",
                                    {"Content-Type": "application/json",
                                     "Transfer-Encoding": "chunked"}, b"2\r\n{}\r\n0\r\n\r\n")
    assert_json_error(status, headers, body, 400, "bad_framing")
    assert headers["Connection"] == "close"


def test_unknown_api_route_is_404(server):
    assert_json_error(*request(server, "GET", "/api/nope"), 404, "not_found")


def test_wrong_method_on_an_api_route_is_405(server):
    assert_json_error(*request(server, "DELETE", "/api/health"), 405, "method_not_allowed")


def test_a_garbled_request_line_gets_a_json_400(server):
    reply = raw_exchange(server, b"GARBAGE\r\n\r\n")
    assert reply.startswith("HTTP/1.") and " 400 " in reply.splitlines()[0]
    assert '"error"' in reply


def test_json_nested_thirty_thousand_deep_is_400_not_a_dropped_connection(server):
    """json.loads would recurse past Python's limit (RecursionError): the guard refuses first."""
    error = assert_json_error(*post_json(server, "/api/generate", b"[" * 30_000 + b"]" * 30_000),
                              400, "bad_json")
    assert "nests deeper than" in error["message"]
