"""server.py over real HTTP: MIME types, caching, and the static allowlist (every refusal)."""

import http.client
import json
from email.utils import formatdate

import pytest


def request(server, method, path, headers=None, body=None):
    """Send `path` exactly as written (no client-side normalisation); return status, headers, body."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def assert_json_error(status, headers, body, expected_status, expected_code=None):
    assert status == expected_status, body
    assert headers["Content-Type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["message"]
    if expected_code:
        assert error["code"] == expected_code
    return error


@pytest.mark.parametrize("path, content_type", [
    ("/", "text/html; charset=utf-8"),
    ("/index.html", "text/html; charset=utf-8"),
    ("/pyscript.toml", "application/toml"),
    ("/app/main.py", "text/x-python; charset=utf-8"),
    ("/static/css/app.css", "text/css"),
    ("/static/js/boot.js", "text/javascript"),
    ("/static/icons/icon.svg", "image/svg+xml"),
    ("/static/vendor/pyscript/core.js", "text/javascript"),
    ("/static/vendor/pyodide/pyodide.mjs", "text/javascript"),
    ("/static/vendor/pyodide/pyodide.asm.wasm", "application/wasm"),
    ("/static/vendor/pyodide/python_stdlib.zip", "application/zip"),
    ("/static/vendor/wheels/pyodide_http.whl", "application/zip"),
])
def test_serves_app_files_with_their_mime_type(server, path, content_type):
    status, headers, body = request(server, "GET", path)
    assert status == 200
    assert headers["Content-Type"] == content_type
    assert int(headers["Content-Length"]) == len(body) > 0


def test_vendored_runtime_is_cached_long(server):
    _, headers, _ = request(server, "GET", "/static/vendor/pyodide/pyodide.asm.wasm")
    assert headers["Cache-Control"] == "public, max-age=604800"


@pytest.mark.parametrize("path", ["/", "/pyscript.toml", "/app/main.py", "/static/js/boot.js"])
def test_shell_is_revalidated_and_answers_304_when_unchanged(server, path):
    status, headers, _ = request(server, "GET", path)
    assert status == 200 and headers["Cache-Control"] == "no-cache"
    status, _, body = request(server, "GET", path, {"If-Modified-Since": headers["Last-Modified"]})
    assert status == 304 and body == b""


def test_shell_is_sent_again_when_changed_since(server):
    long_ago = formatdate(0, usegmt=True)
    status, _, body = request(server, "GET", "/index.html", {"If-Modified-Since": long_ago})
    assert status == 200 and b'data-app-state="loading"' in body


def test_head_sends_headers_without_a_body(server):
    status, headers, body = request(server, "HEAD", "/static/vendor/pyodide/pyodide.asm.wasm")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 1_000_000


def test_every_response_carries_the_security_headers(server):
    _, headers, _ = request(server, "GET", "/")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    csp = headers["Content-Security-Policy"]
    assert "connect-src 'self'" in csp and "default-src 'self'" in csp


REFUSED_PATHS = [
    "/server.py", "/Makefile", "/package.json", "/package-lock.json", "/README.md",
    "/requirements-dev.txt", "/tests/conftest.py", "/.git/config", "/.git/HEAD", "/.gitignore",
    "/.ci/run", "/.venv/pyvenv.cfg", "/node_modules/jszip/package.json", "/static/.hidden",
    "/app/.secret.py", "/app/__pycache__/version.cpython-311.pyc", "/app/", "/app", "/static/",
    "/static/vendor", "/../server.py", "/static/../server.py", "/static/vendor/../../server.py",
    "/app/../server.py", "/%2e%2e/server.py", "/static/%2e%2e/server.py",
    "/static/%2E%2E/%2E%2E/etc/passwd", "/static/..%2fserver.py", "/static/..%2Fserver.py",
    "/static%2f..%2fserver.py", "/static/%252e%252e/server.py", "/static\\..\\server.py",
    "/static/..\\server.py", "/static/%5c..%5cserver.py", "/static/%5C..%5Cserver.py",
    "//etc/passwd", "/etc/passwd", "/static//css/app.css", "/static/./css/app.css",
    "/C:/Windows/win.ini", "/static/css/app.css%00.py", "/static/%00", "/static/%ff%fe",
    "/index.html/", "/nope.html", "/static/css/missing.css", "/app/version.txt",
    "/bench/run.py",
]


@pytest.mark.parametrize("path", REFUSED_PATHS)
def test_refuses_everything_outside_the_allowlist(server, path):
    assert_json_error(*request(server, "GET", path), 404, "not_found")


def test_absolute_form_request_target_is_not_a_way_out(server):
    status, headers, body = request(server, "GET", "http://127.0.0.1/server.py")
    assert_json_error(status, headers, body, 404)


def test_missing_vendor_is_explained_with_the_fix(unvendored_server):
    assert "make setup" in unvendored_server.log()
    status, headers, body = request(unvendored_server, "GET", "/static/vendor/pyscript/core.js")
    error = assert_json_error(status, headers, body, 404, "not_found")
    assert "make setup" in error["message"]
    assert request(unvendored_server, "GET", "/")[0] == 200


def test_post_to_a_static_file_is_405(server):
    assert_json_error(*request(server, "POST", "/index.html", {"Content-Length": "0"}), 405)
