"""One HTTP request (server-only): the allowlist's files and the /api/* routes, with every
guard applied in order and every error as {"error": {"code", "message"}}.

`SceneVaultHandler` runs on a worker thread for one request; the server (proxy/connections.py)
owns the socket and decides from `close_connection` whether to keep it, linger or close. Any
refusal sets `Connection: close`, so a refused request's body is never read as a next request.
"""

from __future__ import annotations

import json
from http import HTTPStatus
import socket
from http.server import SimpleHTTPRequestHandler

from app.core.version import __version__
from proxy.config import ServerConfig
from proxy.guards import (ERROR_CODES, RequestRefused, bad_charset, parse_json_object,
                          check_header_block, normalize_hostname, origin_of, parse_host,
                          request_body_length)
from proxy.providers.base import GeneratedMedia
from proxy.routes import JOBS_ROUTE, find_route
from proxy.static import VENDOR_PREFIX, resolve_static_path
from tools.bundle import current_archive
from tools.shell import APP_ARCHIVE

SHELL_CACHE = "no-cache"  # always revalidate: Last-Modified / If-Modified-Since give cheap 304s
VENDOR_CACHE = "public, max-age=604800"  # a week: vendored runtime files change only on upgrade
API_CACHE = "no-store"
# static/sw.js controls the whole app, so its scope must be "/" rather than its folder.
SERVICE_WORKER_ROUTE = "/static/sw.js"
APP_ARCHIVE_ROUTE = "/" + APP_ARCHIVE  # rebuilt from app/ first when a module changed
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
))


class SceneVaultHandler(SimpleHTTPRequestHandler):
    """Serves the allowlist and routes /api/*, one request per instance (see `handle`).

    `config` is set on the class by SceneVaultServer; `request` is a `Connection`, which is also
    the rfile. The server, not the handler, owns the socket: it keeps, lingers on or closes the
    connection once `finish` has said whether it may be kept.
    """

    config: ServerConfig = ServerConfig()
    server_version = f"SceneVault/{__version__}"
    protocol_version = "HTTP/1.1"
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
        ".css": "text/css", ".json": "application/json", ".py": "text/x-python; charset=utf-8",
        ".toml": "application/toml", ".webmanifest": "application/manifest+json",
        ".svg": "image/svg+xml", ".whl": "application/zip", ".zip": "application/zip",
        ".map": "application/json", ".html": "text/html; charset=utf-8",
    }
    _cache_control = SHELL_CACHE
    _worker_scope = False  # send Service-Worker-Allowed (set per request)
    _body_length: int | None = None

    # --- one request per call --------------------------------------------------------------------
    def setup(self):
        self.connection = self.request.sock
        self.rfile = self.request
        self.wfile = SocketWriter(self.connection)

    def handle(self):
        """Answer one request: the one whose head the waiting room buffered, or its refusal."""
        if self.request.refusal is None:
            self.handle_one_request()
        else:
            self.refuse_unparsed(*self.request.refusal)

    def finish(self):
        self.request.keep_alive = not self.close_connection

    def refuse_unparsed(self, status: int, code: str, message: str):
        """Answer a connection whose head never arrived whole (408, 431) or that is over the cap."""
        self.requestline, self.request_version, self.command = "", "HTTP/1.1", "GET"
        self.send_json_error(status, code, message)

    # --- dispatch -------------------------------------------------------------------------------
    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_other(self):  # PUT, DELETE, PATCH: routed so that they get a JSON 404 or 405
        self._dispatch(self.command)

    do_PUT = do_DELETE = do_PATCH = do_other

    def _dispatch(self, method: str):
        self._worker_scope = False
        try:
            check_header_block(self.headers)
            self._body_length = request_body_length(self.headers)
            self._check_host()
            if method in ("GET", "HEAD", "DELETE") and self._body_length:
                raise RequestRefused(400, "unexpected_body", f"A {method} request has no body")
            if self.path.split("?", 1)[0].startswith("/api/"):
                self._handle_api(method)
            elif method in ("GET", "HEAD"):
                self._serve_static(method)
            else:
                raise RequestRefused(405, "method_not_allowed", f"{method} is not allowed here")
        except RequestRefused as refusal:
            self.send_json_error(refusal.status, refusal.code, refusal.message)

    # --- guards ---------------------------------------------------------------------------------
    def _check_host(self):
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1:
            raise RequestRefused(403, "forbidden_host", "Exactly one Host header is required")
        host = parse_host(hosts[0])
        if host is None or normalize_hostname(host[0]) not in self.config.allowed_hosts:
            raise RequestRefused(403, "forbidden_host",
                                 f"Host {hosts[0]!r} is not served here; use http://127.0.0.1 or "
                                 "localhost, or start the server with --allow-host")
        self._host = host

    def _check_origin(self):
        origins = self.headers.get_all("Origin") or []
        served = origin_of(self._host)
        if origins and (len(origins) > 1 or origins[0].strip(" \t") != served):
            raise RequestRefused(403, "forbidden_origin",
                                 f"Origin {', '.join(origins)!r} may not call this API; "
                                 f"only {served} may")

    def read_json_body(self, limit: int | None = None) -> dict:
        """The request's JSON object, after the length, size (`limit`, else the API's body cap),
        Content-Type and depth checks."""
        limit = self.config.max_body_bytes if limit is None else limit
        length = self._body_length
        if length is None:
            raise RequestRefused(411, "length_required", "A Content-Length is required")
        if length > limit:
            raise RequestRefused(413, "body_too_large",
                                 f"Body of {length} bytes exceeds the {limit}-byte limit")
        media_type, _, params = self.headers.get("Content-Type", "").partition(";")
        if media_type.strip().lower() != "application/json" or bad_charset(params):
            raise RequestRefused(415, "unsupported_media_type",
                                 "Send the body as Content-Type: application/json (UTF-8)")
        return parse_json_object(self._read_body(length))

    def _read_body(self, length: int) -> bytes:
        try:
            raw = self.rfile.read(length)
        except TimeoutError:
            raise RequestRefused(408, "request_timeout",
                                 f"The body did not arrive within {self.config.header_timeout_s:g} s"
                                 ) from None
        if len(raw) < length:
            raise RequestRefused(400, "bad_framing",
                                 f"The body ended after {len(raw)} of {length} bytes")
        return raw

    # --- API ------------------------------------------------------------------------------------
    def _handle_api(self, method: str):
        self._cache_control = API_CACHE
        route = self.path.split("?", 1)[0]
        if method in ("POST", "DELETE"):  # the methods that start or stop work
            self._check_origin()
        if method == "POST":
            limit = self.config.max_job_body_bytes if route == JOBS_ROUTE else None
            body = self.read_json_body(limit)
        found = find_route(route)
        if found is None:
            raise RequestRefused(404, "not_found", f"No API route {route}")
        handlers, values = found
        handler = handlers.get("GET" if method == "HEAD" else method)
        if handler is None:
            raise RequestRefused(405, "method_not_allowed",
                                 f"{route} accepts {', '.join(sorted(handlers))}, not {method}")
        reply = handler(self, body, **values) if method == "POST" else handler(self, **values)
        if isinstance(reply, GeneratedMedia):
            self.send_media(reply, head_only=method == "HEAD")
        else:
            self.send_json(*reply, head_only=method == "HEAD")

    def send_media(self, media: GeneratedMedia, head_only: bool = False):
        """Raw bytes (no base64) with their real type, and the effective recipe as ASCII JSON."""
        self.send_response(200)
        self.send_header("Content-Type", media.mime_type)
        self.send_header("Content-Length", str(len(media.data)))
        self.send_header("X-SceneVault-Recipe", media.recipe.to_json())
        self.end_headers()
        if not head_only:
            self.wfile.write(media.data)

    def send_json(self, status: int, payload: dict, head_only: bool = False):
        data = json.dumps(payload, ensure_ascii=True).encode("ascii")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head_only:
            self.wfile.write(data)

    def send_json_error(self, status: int, code: str, message: str):
        """The single way errors leave the server: {"error": {"code", "message"}}, and then the
        connection is closed (lingering), since what follows a refused head cannot be trusted."""
        self._cache_control = API_CACHE
        self.close_connection = True
        self.send_json(status, {"error": {"code": code, "message": message}},
                       head_only=self.command == "HEAD")

    def send_error(self, code, message=None, explain=None):
        """Route http.server's own errors (bad request line, 404 ...) through the JSON shape."""
        status = int(code)
        text = message or HTTPStatus(status).phrase
        if getattr(self, "request_version", "HTTP/0.9") in ("HTTP/0.9", ""):  # unparsable line
            self.request_version = "HTTP/1.0"  # answer with a status line, never bare HTTP/0.9
        self.command = getattr(self, "command", None) or "GET"
        self.send_json_error(status, ERROR_CODES.get(status, "error"), text)

    # --- static files ---------------------------------------------------------------------------
    def _serve_static(self, method: str):
        route = self.path.split("?", 1)[0]
        extra = self.config.extra_static_dirs
        if route == APP_ARCHIVE_ROUTE:
            current_archive(self.config.root)  # an edited module reaches the page on reload
        target = resolve_static_path(self.config.root, self.path, extra, self.server.allowlist)
        if target is None:
            raise RequestRefused(404, "not_found", self._not_found_message(route))
        self._cache_control = VENDOR_CACHE if route.startswith("/" + VENDOR_PREFIX) else SHELL_CACHE
        self._worker_scope = route == SERVICE_WORKER_ROUTE
        self._static_target = target
        body = self.send_head()
        if body is not None:
            try:
                if method == "GET":
                    self.copyfile(body, self.wfile)
            finally:
                body.close()

    def _not_found_message(self, route: str) -> str:
        if route.startswith("/" + VENDOR_PREFIX):
            return f"{route} is missing: the runtime is not vendored yet. Run `make setup`."
        return f"{route} is not part of SceneVault"

    def translate_path(self, path):
        return str(self._static_target)

    def list_directory(self, path):  # never list directories
        raise RequestRefused(404, "not_found", "Directories are not listed")

    def end_headers(self):
        self.send_header("Cache-Control", self._cache_control)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if self._worker_scope:
            self.send_header("Service-Worker-Allowed", "/")
        if self.close_connection:
            self.send_header("Connection", "close")
        super().end_headers()

    def log_message(self, format, *args):
        if not self.config.quiet:
            super().log_message(format, *args)


class SocketWriter:
    """The handler's wfile: every write is a whole `sendall` (under the socket's send timeout)."""

    closed = False

    def __init__(self, sock: socket.socket):
        self._sock = sock

    def write(self, data) -> int:
        self._sock.sendall(data)
        return len(data)

    def flush(self):
        pass
