"""SceneVault's local server: the app's files and its JSON API, on the stdlib alone.

It owns:
- the static allowlist (`servable_files`, `StaticAllowlist`, `resolve_static_path`): the real
  paths of index.html, pyscript.toml, app/**/*.py outside app/providers/ and static/** (no
  dotfiles), built by walking the tree; a request is served only when its resolved real path is
  on that list, matched case-sensitively, so no spelling, case trick or symlink reaches
  provider code or server.py;
- strict framing (`request_body_length`, `check_header_block`), as h11 does it: Content-Length
  is plain ASCII digits and appears at most once, Transfer-Encoding is refused, a body is only
  accepted where a route takes one, and a head the parser could misread is refused;
- the request guards: Host parsed strictly (`parse_host`, against DNS rebinding), Origin equal
  to the served origin, body size, JSON-only and nesting depth (`json_too_deep`) on /api/*;
- connection handling (`Connection`, `WaitingRoom`, `WorkerPool`, `SceneVaultServer`). Every
  refusal (any 4xx/5xx) is answered with `Connection: close` and a lingering close (the write
  side is shut, then unread bytes are drained for at most LINGER_S / LINGER_BYTES), so a
  refused request's body is never read as a next request and a client still reads the error;
- the JSON API (`GET /api/health`, `GET /api/providers`, `POST /api/generate`), with every
  error as {"error": {"code", "message"}}. Generation itself lives in app/providers/ (server-
  only): this file maps its outcomes to HTTP (400, 429, 502, 504) and sends the media bytes.

Threads and connections. The accepting thread (`serve_forever`) never serves anyone: it hands
each new socket to the waiting room, one thread with one selector that holds every connection
not being served (new ones, idle keep-alive ones, lingering closes). A connection leaves it for
a worker only once a whole request head is buffered, so idle or slow clients cost a file
descriptor, never a thread. The head has one deadline (`header_timeout_s` from the connection's
start, or from the first byte after a keep-alive pause), so dripping bytes gains nothing; a late
head gets 408, an idle keep-alive connection is closed after `idle_timeout_s`. At most
`max_connections` workers (SCENEVAULT_MAX_CONNECTIONS) serve one request at a time and then hand
the connection back; past that, ready connections queue. Past `max_open_connections` open
sockets a new one gets 503 server_busy and is closed; no connection ever gets its own thread.

Run it:

    $ python3 server.py --port 8000
    SceneVault 0.1.0 serving http://127.0.0.1:8000/
"""

from __future__ import annotations

import argparse
import collections
import email.errors
import ipaddress
import json
import os
import queue
import re
import selectors
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import HTTPServer, SimpleHTTPRequestHandler
from pathlib import Path
from urllib.parse import unquote

from app.errors import ProviderBusy, ProviderError, ProviderTimeout, RecipeError
from app.providers import ProviderSettings, settings_from_env
from app.providers.base import GeneratedMedia
from app.providers.service import GenerationService
from app.version import __version__

APP_ROOT = Path(__file__).resolve().parent
LOCAL_HOSTNAMES = frozenset({"localhost", "127.0.0.1", "::1"})
STATIC_FILES = frozenset({"index.html", "pyscript.toml"})
STATIC_DIRS = ("app", "static")
SERVER_ONLY_DIRS = ("app/providers/",)  # provider clients hold server-side logic; never served
VENDOR_PREFIX = "static/vendor/"
# What the page cannot boot without; `make setup` puts them there.
REQUIRED_VENDOR_FILES = (
    "static/vendor/pyscript/core.js",
    "static/vendor/pyodide/pyodide.mjs",
    "static/vendor/pyodide/pyodide.asm.wasm",
    "static/vendor/pyodide/python_stdlib.zip",
    "static/vendor/jszip/jszip.min.js",
)
DEFAULT_MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 64  # deeper API bodies are refused before json.loads could recurse
# Connections (see the module docstring).
DEFAULT_MAX_CONNECTIONS = 64  # worker threads: requests served at once
DEFAULT_MAX_OPEN_CONNECTIONS = 512  # sockets held at once, idle ones included; then 503
DEFAULT_HEADER_TIMEOUT_S = 10.0  # a whole request head (and then its body) must arrive in this
DEFAULT_IDLE_TIMEOUT_S = 15.0  # a keep-alive connection may wait this long for its next request
MAX_HEAD_BYTES = 64 * 1024  # request line and headers together; more is 431
SEND_TIMEOUT_S = 30.0  # one blocked write to a client that stopped reading
LINGER_S = 2.0  # a lingering close drains the client's unread bytes this long at most ...
LINGER_BYTES = 8 * 1024 * 1024  # ... and this much at most
RECV_BYTES = 64 * 1024
SHELL_CACHE = "no-cache"  # always revalidate: Last-Modified / If-Modified-Since give cheap 304s
VENDOR_CACHE = "public, max-age=604800"  # a week: vendored runtime files change only on upgrade
API_CACHE = "no-store"
# static/sw.js controls the whole app, so its scope must be "/" rather than its folder.
SERVICE_WORKER_ROUTE = "/static/sw.js"
# The service worker's precache list (tools/precache.py, `make setup`) and what it is built from.
PRECACHE_FILE = "static/precache.js"
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
ERROR_CODES = {
    400: "bad_request", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    408: "request_timeout", 411: "length_required", 413: "body_too_large", 414: "uri_too_long",
    415: "unsupported_media_type", 429: "too_many_requests", 431: "headers_too_large",
    500: "internal_error", 501: "not_implemented", 502: "provider_failed",
    503: "server_busy", 504: "provider_timeout", 505: "http_version_not_supported",
}


class RequestRefused(Exception):
    """A request the server turns down: carries the HTTP status, error code and message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server is told at start-up, from flags and environment."""

    host: str = "127.0.0.1"
    port: int = 8000
    root: Path = APP_ROOT
    allowed_hosts: frozenset[str] = LOCAL_HOSTNAMES
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    extra_static_dirs: tuple[str, ...] = field(default=())
    quiet: bool = False
    providers: ProviderSettings = field(default_factory=ProviderSettings)
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_open_connections: int = DEFAULT_MAX_OPEN_CONNECTIONS
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S


def config_from(argv: list[str], environ: dict[str, str]) -> ServerConfig:
    """Build the config from command-line flags, falling back to HOST, PORT and SCENEVAULT_*."""
    parser = argparse.ArgumentParser(prog="server.py", description="Serve SceneVault locally.")
    parser.add_argument("--host", default=environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=_int_env(environ, "PORT", 8000))
    parser.add_argument("--allow-host", action="append", default=[],
                        help="another Host name to accept (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    parser.add_argument("--max-connections", type=int, help="requests served at once",
                        default=_int_env(environ, "SCENEVAULT_MAX_CONNECTIONS",
                                         DEFAULT_MAX_CONNECTIONS))
    parser.add_argument("--header-timeout", type=float, help="seconds for a whole request head",
                        default=_float_env(environ, "SCENEVAULT_HEADER_TIMEOUT_S",
                                           DEFAULT_HEADER_TIMEOUT_S))
    parser.add_argument("--idle-timeout", type=float, help="seconds a keep-alive may idle",
                        default=_float_env(environ, "SCENEVAULT_IDLE_TIMEOUT_S",
                                           DEFAULT_IDLE_TIMEOUT_S))
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"port {args.port} is not between 0 and 65535")
    if args.max_connections < 1:
        parser.error(f"max connections {args.max_connections} is not at least 1")
    if min(args.header_timeout, args.idle_timeout) <= 0:
        parser.error("timeouts must be more than 0 seconds")
    extra = [h for h in environ.get("SCENEVAULT_ALLOWED_HOSTS", "").split(",") if h.strip()]
    allowed = {normalize_hostname(h) for h in [*extra, *args.allow_host]} | LOCAL_HOSTNAMES
    if args.host not in ("0.0.0.0", "::"):
        allowed.add(normalize_hostname(args.host))
    return ServerConfig(
        host=args.host, port=args.port, allowed_hosts=frozenset(allowed), quiet=args.quiet,
        max_body_bytes=_int_env(environ, "SCENEVAULT_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
        providers=_provider_settings(environ), max_connections=args.max_connections,
        header_timeout_s=args.header_timeout, idle_timeout_s=args.idle_timeout,
    )


def _provider_settings(environ: dict[str, str]) -> ProviderSettings:
    try:
        return settings_from_env(environ)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None


def _int_env(environ: dict[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a whole number") from None


def _float_env(environ: dict[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number of seconds") from None


# --- Host, Origin and framing (pure) ------------------------------------------------------------
_HOST_RE = re.compile(r"(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?))"
                      r"(?::(?P<port>[0-9]{1,5}))?")
_DIGITS = re.compile(r"[0-9]+")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
# What email's parser records when a line in the head is not a header (it drops such lines).
_HEAD_DEFECTS = (email.errors.MissingHeaderBodySeparatorDefect, email.errors.InvalidHeaderDefect,
                 email.errors.FirstHeaderLineIsContinuationDefect)


def normalize_hostname(host: str) -> str:
    """'LocalHost.' -> 'localhost', '[::1]' -> '::1'."""
    return host.strip().strip("[]").rstrip(".").lower()


def parse_host(value: str) -> tuple[str, int | None] | None:
    """A Host header (or an origin's host part) as (lowercased name, port or None), or None when
    it is anything but a DNS name, IPv4 address or [IPv6] literal with an optional 1-5 digit port:
    'LocalHost:8000' -> ('localhost', 8000); 'user@127.0.0.1', '::1', '[localhost]', 'a:+1' -> None.
    """
    match = _HOST_RE.fullmatch(value.strip(" \t"))
    if match is None:
        return None
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 0 < port <= 65535:
        return None
    if match["ip6"] is None:
        return match["name"].lower(), port
    try:
        return str(ipaddress.IPv6Address(match["ip6"])), port
    except ValueError:
        return None


def origin_of(host: tuple[str, int | None]) -> str:
    """The origin a browser sends for a page served under this Host: ('::1', 80) -> 'http://[::1]'."""
    name, port = host
    shown = f"[{name}]" if ":" in name else name
    return f"http://{shown}" + (f":{port}" if port not in (None, 80) else "")


def request_body_length(headers) -> int | None:
    """The body's length from its one Content-Length, or None when there is none.

    Refuses (400 bad_framing) any framing that two parsers could read differently: a
    Transfer-Encoding of any value, a repeated Content-Length, or one that is not plain ASCII
    digits ('+5', '-0', '0x10', '1_0', '٣').
    """
    if headers.get_all("Transfer-Encoding"):
        raise RequestRefused(400, "bad_framing",
                             "Transfer-Encoding is not supported; send a Content-Length")
    lengths = headers.get_all("Content-Length") or []
    if len(lengths) > 1:
        raise RequestRefused(400, "bad_framing", f"Content-Length appears {len(lengths)} times")
    if not lengths:
        return None
    value = lengths[0].strip(" \t")
    if not _DIGITS.fullmatch(value):
        raise RequestRefused(400, "bad_framing",
                             f"Content-Length {lengths[0]!r} is not a whole number of bytes")
    return int(value) if len(value) < 19 else sys.maxsize


def check_header_block(headers) -> None:
    """Refuse (400 bad_header) a head with a line that is not a header, a folded or malformed
    header, or control characters: what one parser skips, another may read."""
    if any(isinstance(defect, _HEAD_DEFECTS) for defect in headers.defects):
        raise RequestRefused(400, "bad_header", "The request head has a line that is not a header")
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            raise RequestRefused(400, "bad_header", f"The header {name!r} is malformed")


# --- the static allowlist -----------------------------------------------------------------------
def resolve_static_path(root: Path, url_path: str, extra_dirs: tuple[str, ...] = (),
                        allowlist: StaticAllowlist | None = None) -> Path | None:
    """Map a request path to a file on the allowlist, or None (answer 404).

    Refuses, in any spelling: '..' and '.' segments, dotfiles, backslashes, NUL and control
    characters, empty segments, drive letters and percent-encoded tricks. Then the path's real
    path (symlinks resolved) must be on `allowlist` (by default built now for `root`), so
    neither a symlink nor another case of a name reaches a file that is not.
    """
    path = url_path.split("?", 1)[0].split("#", 1)[0]
    try:
        path = unquote(path, errors="strict")
    except UnicodeDecodeError:
        return None
    if path == "/":
        path = "/index.html"
    if not path.startswith("/") or any(ch in path for ch in "\\%:") or not path.isprintable():
        return None
    segments = path[1:].split("/")
    if any(not s or s.startswith(".") for s in segments):
        return None
    relative = "/".join(segments)
    if not _allowed_shape(relative, (*STATIC_DIRS, *extra_dirs)):
        return None
    candidate = (root / relative).resolve()
    allowed = allowlist if allowlist is not None else servable_files(root, extra_dirs)
    return candidate if str(candidate) in allowed and candidate.is_file() else None


def _allowed_shape(relative: str, dirs: tuple[str, ...]) -> bool:
    """Whether `relative` is spelled like a servable file: a top file, app/**.py, or in a dir."""
    if relative in STATIC_FILES:
        return True
    if relative.startswith("app/") and not relative.endswith(".py"):
        return False
    return any(relative.startswith(d + "/") for d in dirs)


def servable_files(root: Path, extra_dirs: tuple[str, ...] = ()) -> frozenset[str]:
    """The real path (str, symlinks resolved) of every file the server may send: index.html,
    pyscript.toml, app/**/*.py outside app/providers/, static/** and each extra dir, no dotfiles.
    A file whose real path leaves its folder, is hidden or lands in server-only code is not on it.
    """
    real_root = root.resolve()
    blocked = tuple((real_root / d).resolve() for d in SERVER_ONLY_DIRS)
    found = {real for name in STATIC_FILES
             if (real := (real_root / name).resolve()).parent == real_root}
    for top in (*STATIC_DIRS, *extra_dirs):
        area = (real_root / top).resolve()
        for path in _walk_files(real_root / top):
            real = path.resolve()
            if _servable(real, area, blocked, ".py" if top == "app" else ""):
                found.add(real)
    return frozenset(str(p) for p in found if p.is_file())


def _servable(real: Path, area: Path, blocked: tuple[Path, ...], suffix: str) -> bool:
    """Whether a file's real path lies in its area, outside server-only code, and is not hidden."""
    return (real.is_relative_to(area) and not any(real.is_relative_to(b) for b in blocked)
            and not _hidden(real.relative_to(area)) and real.name.endswith(suffix))


def _walk_files(top: Path):
    """Every file under `top`, without following symlinked folders or entering dot folders."""
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        yield from (Path(folder) / name for name in files)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


class StaticAllowlist:
    """`servable_files`, cached for the server; a miss rebuilds it at most once per `refresh_s`,
    so a file added while the server runs is served a second later and a flood of 404s costs at
    most one walk of the tree a second."""

    def __init__(self, root: Path, extra_dirs: tuple[str, ...] = (), refresh_s: float = 1.0):
        self._root, self._extra, self._refresh_s = root, extra_dirs, refresh_s
        self._lock = threading.Lock()
        self._files, self._built = servable_files(root, extra_dirs), time.monotonic()

    def __contains__(self, real_path: str) -> bool:
        if real_path in self._files:
            return True
        with self._lock:
            if time.monotonic() - self._built >= self._refresh_s:
                self._files = servable_files(self._root, self._extra)
                self._built = time.monotonic()
        return real_path in self._files


def missing_vendor_files(root: Path) -> list[str]:
    """The vendored runtime files that are absent (empty when `make setup` has run)."""
    return [name for name in REQUIRED_VENDOR_FILES if not (root / name).is_file()]


def stale_precache(root: Path) -> str | None:
    """Why the service worker's precache list is out of date (a shell file changed after it was
    written, or it is missing), or None. Offline, a stale list serves the old files."""
    target = root / PRECACHE_FILE
    if not target.is_file():
        return f"{PRECACHE_FILE} is missing"
    written = target.stat().st_mtime
    newer = next((p for p in _precache_sources(root) if p.stat().st_mtime > written), None)
    return f"{newer.relative_to(root)} changed after {PRECACHE_FILE} was written" if newer else None


def _precache_sources(root: Path):
    """The files tools/precache.py lists, roughly: the top files, browser app/*.py, static/."""
    yield from (root / name for name in STATIC_FILES if (root / name).is_file())
    for path in (root / "app").rglob("*.py"):
        if not path.relative_to(root).as_posix().startswith(SERVER_ONLY_DIRS):
            yield path
    for path in (root / "static").rglob("*"):
        if path.is_file() and path.name != Path(PRECACHE_FILE).name and not path.name.startswith("."):
            yield path


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
            if method in ("GET", "HEAD") and self._body_length:
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

    def read_json_body(self) -> dict:
        """The request's JSON object, after the length, size, Content-Type and depth checks."""
        length = self._body_length
        if length is None:
            raise RequestRefused(411, "length_required", "A Content-Length is required")
        if length > self.config.max_body_bytes:
            raise RequestRefused(413, "body_too_large",
                                 f"Body of {length} bytes exceeds the {self.config.max_body_bytes}"
                                 "-byte limit")
        media_type, _, params = self.headers.get("Content-Type", "").partition(";")
        if media_type.strip().lower() != "application/json" or _bad_charset(params):
            raise RequestRefused(415, "unsupported_media_type",
                                 "Send the body as Content-Type: application/json (UTF-8)")
        return _parse_json_object(self._read_body(length))

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
        if method == "POST":
            self._check_origin()
            body = self.read_json_body()
        handlers = API_ROUTES.get(route)
        if handlers is None:
            raise RequestRefused(404, "not_found", f"No API route {route}")
        handler = handlers.get("GET" if method == "HEAD" else method)
        if handler is None:
            raise RequestRefused(405, "method_not_allowed",
                                 f"{route} accepts {', '.join(sorted(handlers))}, not {method}")
        reply = handler(self, body) if method == "POST" else handler(self)
        if isinstance(reply, GeneratedMedia):
            self.send_media(reply)
        else:
            self.send_json(*reply, head_only=method == "HEAD")

    def send_media(self, media: GeneratedMedia):
        """Raw bytes (no base64) with their real type, and the effective recipe as ASCII JSON."""
        self.send_response(200)
        self.send_header("Content-Type", media.mime_type)
        self.send_header("Content-Length", str(len(media.data)))
        self.send_header("X-SceneVault-Recipe", media.recipe.to_json())
        self.end_headers()
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


def _bad_charset(params: str) -> bool:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            return True
    return False


_JSON_NESTING = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[{\]}]', re.DOTALL)


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets outside strings nest deeper than `limit`; one linear scan, no recursion."""
    depth = 0
    for match in _JSON_NESTING.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif token in ("]", "}"):
            depth -= 1
    return False


def _parse_json_object(raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8")
        if json_too_deep(text):
            raise ValueError(f"it nests deeper than {MAX_JSON_DEPTH} levels")
        value = json.loads(text, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RequestRefused(400, "bad_json", f"The body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise RequestRefused(400, "bad_json",
                             f"The body must be a JSON object, not {type(value).__name__}")
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON")


# Generation failures -> (status, error code); the first matching class wins.
GENERATION_FAULTS = ((RecipeError, 400, None), (ProviderBusy, 429, "too_many_requests"),
                     (ProviderTimeout, 504, "provider_timeout"), (ProviderError, 502, "provider_failed"))


def handle_health(handler: SceneVaultHandler) -> tuple[int, dict]:
    return 200, {"ok": True, "version": __version__}


def handle_providers(handler: SceneVaultHandler) -> tuple[int, dict]:
    return 200, handler.server.generation.catalog().to_dict()


def handle_generate(handler: SceneVaultHandler, body: dict) -> GeneratedMedia:
    """Run one generation (app/providers/service.py); its faults become JSON errors."""
    try:
        return handler.server.generation.generate(body)
    except (RecipeError, ProviderError) as exc:
        status, code = next((s, c) for kind, s, c in GENERATION_FAULTS if isinstance(exc, kind))
        raise RequestRefused(status, code or exc.code, str(exc)) from None


API_ROUTES = {
    "/api/health": {"GET": handle_health},
    "/api/providers": {"GET": handle_providers},
    "/api/generate": {"POST": handle_generate},
}


# --- connections --------------------------------------------------------------------------------
class Connection:
    """One client socket and the bytes read from it that no request has used yet.

    Exactly one owner at a time: the waiting room while it waits for a whole request head (or
    drains before closing), a worker while one request is served. For that request it is the
    handler's rfile: `readline` and `read` take from the buffer first, then from the socket
    under a deadline of `read_timeout_s`.
    """

    def __init__(self, sock: socket.socket, address, read_timeout_s: float):
        self.sock, self.address, self.read_timeout_s = sock, address, read_timeout_s
        self.buffer = bytearray()
        self.deadline = 0.0  # when the waiting room gives up on it
        self.idle = False  # waiting for a keep-alive request: the head's clock starts at its first byte
        self.refusal: tuple[int, str, str] | None = None  # answer this instead of parsing
        self.keep_alive = False  # set by the handler when it finishes
        self.draining = False  # lingering close: discard what arrives until EOF or a limit
        self.drained = 0
        self.eof = False  # the client closed its side

    def head_ready(self) -> bool:
        """Whether the buffer holds a request head up to its blank line (or too much for one)."""
        window = self.buffer[:MAX_HEAD_BYTES]
        return b"\n\r\n" in window or b"\n\n" in window or len(self.buffer) > MAX_HEAD_BYTES

    def head_too_large(self) -> bool:
        window = self.buffer[:MAX_HEAD_BYTES]
        return b"\n\r\n" not in window and b"\n\n" not in window

    def readline(self, limit: int = -1) -> bytes:
        deadline = time.monotonic() + self.read_timeout_s
        while b"\n" not in self.buffer and not 0 <= limit <= len(self.buffer):
            if not self._fill(deadline):
                break
        end = self.buffer.find(b"\n") + 1 or len(self.buffer)
        return self._take(end if limit < 0 else min(end, limit))

    def read(self, size: int) -> bytes:
        deadline = time.monotonic() + self.read_timeout_s
        while len(self.buffer) < size and self._fill(deadline):
            pass
        return self._take(min(size, len(self.buffer)))

    def _fill(self, deadline: float) -> bool:
        """Receive more into the buffer; False at EOF, TimeoutError past the deadline."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the client sent nothing in time")
        previous = self.sock.gettimeout()
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(RECV_BYTES)
        finally:
            self.sock.settimeout(previous)
        self.buffer += chunk
        self.eof = not chunk
        return bool(chunk)

    def _take(self, size: int) -> bytes:
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data


class WaitingRoom:
    """One thread and one selector for every connection that is not being served.

    `admit` takes a connection from any thread. A connection with a whole request head (or one
    whose head is too large or late, marked with its refusal) goes to `ready`; one that closes,
    idles past its deadline or finishes draining goes to `close`. Nothing here blocks: a slow or
    idle client costs a file descriptor, not a thread.
    """

    def __init__(self, ready, close, header_timeout_s: float):
        self._ready, self._close, self._header_timeout_s = ready, close, header_timeout_s
        self._selector = selectors.DefaultSelector()
        self._wake_in, self._wake_out = socket.socketpair()
        for end in (self._wake_in, self._wake_out):
            end.setblocking(False)
        self._selector.register(self._wake_in, selectors.EVENT_READ)
        self._arrivals: collections.deque[Connection] = collections.deque()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="waiting-room", daemon=True)
        self._thread.start()

    def admit(self, conn: Connection):
        if self._stopped:
            self._close(conn)
            return
        conn.sock.setblocking(False)
        self._arrivals.append(conn)
        self._wake()

    def stop(self):
        self._stopped = True
        self._wake()
        self._thread.join(timeout=5)

    def _wake(self):
        try:
            self._wake_out.send(b"\0")
        except OSError:
            pass  # its buffer is full: the room is awake already

    def _run(self):
        while not self._stopped:
            for key, _ in self._selector.select(self._next_timeout()):
                if key.data is None:
                    self._clear_wakes()
                else:
                    self._on_readable(key.data)
            self._seat_arrivals()
            self._expire(time.monotonic())
        for conn in self._waiting():
            self._leave(conn)
            self._close(conn)
        self._selector.close()
        self._wake_in.close()
        self._wake_out.close()

    def _waiting(self) -> list[Connection]:
        return [key.data for key in list(self._selector.get_map().values()) if key.data]

    def _next_timeout(self) -> float:
        soonest = min((conn.deadline for conn in self._waiting()), default=time.monotonic() + 1)
        return min(max(soonest - time.monotonic(), 0.0), 1.0)

    def _clear_wakes(self):
        try:
            while self._wake_in.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _seat_arrivals(self):
        while self._arrivals:
            conn = self._arrivals.popleft()
            if not conn.draining and conn.head_ready():
                self._ready(conn)  # a pipelined request was buffered already
                continue
            try:
                self._selector.register(conn.sock, selectors.EVENT_READ, conn)
            except (OSError, ValueError):
                self._close(conn)

    def _on_readable(self, conn: Connection):
        try:
            chunk = conn.sock.recv(RECV_BYTES)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk or (conn.draining and conn.drained + len(chunk) > LINGER_BYTES):
            conn.eof = not chunk
            self._leave(conn)
            self._close(conn)
        elif conn.draining:
            conn.drained += len(chunk)
        else:
            self._on_head_bytes(conn, chunk)

    def _on_head_bytes(self, conn: Connection, chunk: bytes):
        if conn.idle:  # a keep-alive request begins: its whole head gets the header timeout
            conn.idle, conn.deadline = False, time.monotonic() + self._header_timeout_s
        conn.buffer += chunk
        if conn.head_ready():
            if conn.head_too_large():
                conn.refusal = (431, "headers_too_large",
                                f"The request head is over {MAX_HEAD_BYTES} bytes")
            self._leave(conn)
            self._ready(conn)

    def _expire(self, now: float):
        for conn in self._waiting():
            if conn.deadline > now:
                continue
            self._leave(conn)
            if conn.draining or conn.idle or not conn.buffer:
                self._close(conn)
            else:
                conn.refusal = (408, "request_timeout", "The request head did not arrive within "
                                f"{self._header_timeout_s:g} s")
                self._ready(conn)

    def _leave(self, conn: Connection):
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass


class WorkerPool:
    """At most `size` threads running `work(job)` for jobs from one queue; started as jobs
    arrive and then kept. While every worker is busy, jobs wait in the queue."""

    def __init__(self, work, size: int):
        self._work, self._size = work, size
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = self._queued = 0

    def submit(self, job):
        with self._lock:
            self._queued += 1
            if self._queued > self._idle and len(self._threads) < self._size:
                thread = threading.Thread(target=self._run, daemon=True,
                                          name=f"worker-{len(self._threads) + 1}")
                self._threads.append(thread)
                thread.start()
        self._jobs.put(job)

    def stop(self):
        for _ in self._threads:
            self._jobs.put(None)

    def _run(self):
        while True:
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
            with self._lock:
                self._idle, self._queued = self._idle - 1, self._queued - 1
            if job is None:
                return
            self._work(job)


class SceneVaultServer(HTTPServer):
    """The listening socket, the waiting room and the workers (see the module docstring).

    The accepting thread only counts and admits connections (`process_request`); a worker
    serves one request (`serve_connection`) and hands the connection back, or ends it with a
    lingering close (`end_connection`). `shutdown_request` is the one place a socket is closed.
    """

    allow_reuse_address = True
    request_queue_size = 64  # bursts of parallel generations queue instead of being dropped

    def __init__(self, config: ServerConfig):
        self.address_family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        self.config = config
        self.generation = GenerationService(config.providers)
        self.allowlist = StaticAllowlist(config.root, config.extra_static_dirs)
        self._open, self._open_lock = 0, threading.Lock()
        self.workers = WorkerPool(self.serve_connection, config.max_connections)
        self.waiting_room = WaitingRoom(self.workers.submit, self._close, config.header_timeout_s)
        handler = type("ConfiguredHandler", (SceneVaultHandler,), {"config": config})
        super().__init__((config.host, config.port), handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def process_request(self, request, client_address):
        conn = Connection(request, client_address, self.config.header_timeout_s)
        if not self._count_in():
            self._refuse_busy(conn)
            return
        conn.deadline = time.monotonic() + self.config.header_timeout_s
        self.waiting_room.admit(conn)

    def serve_connection(self, conn: Connection):
        """On a worker: answer the one request buffered on `conn`, then keep or end it."""
        conn.sock.settimeout(SEND_TIMEOUT_S)
        conn.keep_alive = False
        try:
            self.finish_request(conn, conn.address)
        except OSError:
            conn.keep_alive = False  # the client went away mid-answer
        except Exception:
            self.handle_error(conn.sock, conn.address)
            conn.keep_alive = False
        if conn.keep_alive and not conn.eof:
            conn.idle = not conn.buffer
            conn.deadline = time.monotonic() + (self.config.idle_timeout_s if conn.idle
                                                else self.config.header_timeout_s)
            self.waiting_room.admit(conn)
        else:
            self.end_connection(conn)

    def end_connection(self, conn: Connection):
        """A lingering close: shut the write side (the client reads the answer, then EOF), then
        let the waiting room discard what the client still sends, within LINGER_S/LINGER_BYTES,
        so closing with unread bytes never turns into a reset that destroys the answer."""
        if conn.eof:
            self._close(conn)
            return
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._close(conn)
            return
        conn.draining, conn.drained = True, len(conn.buffer)
        conn.buffer.clear()
        conn.deadline = time.monotonic() + LINGER_S
        self.waiting_room.admit(conn)

    def server_close(self):
        super().server_close()
        self.waiting_room.stop()
        self.workers.stop()

    def _count_in(self) -> bool:
        with self._open_lock:
            if self._open >= self.config.max_open_connections:
                return False
            self._open += 1
            return True

    def _close(self, conn: Connection):
        with self._open_lock:
            self._open -= 1
        self.shutdown_request(conn.sock)

    def _refuse_busy(self, conn: Connection):
        """Over the cap: a 503 written on the accepting thread (a few hundred bytes), then close."""
        conn.refusal = (503, "server_busy", f"The server holds {self.config.max_open_connections}"
                        " connections already; try again shortly")
        conn.sock.settimeout(1.0)
        try:
            self.finish_request(conn, conn.address)
        except OSError:
            pass
        self.shutdown_request(conn.sock)


def main(argv: list[str] | None = None) -> int:
    config = config_from(sys.argv[1:] if argv is None else argv, dict(os.environ))
    missing = missing_vendor_files(config.root)
    if missing:
        print(f"Warning: the browser runtime is not vendored ({', '.join(missing)} missing).\n"
              "Run `make setup` (or `make run`, which does it for you), then reload the page.",
              file=sys.stderr, flush=True)
    stale = None if missing else stale_precache(config.root)
    if stale:
        print(f"Warning: the offline copy of the app is out of date ({stale}).\n"
              "Run `make setup` (or `make run`) so the service worker picks up the new files.",
              file=sys.stderr, flush=True)
    if config.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"Warning: listening on {config.host}, not loopback only.", file=sys.stderr)
    with SceneVaultServer(config) as server:
        print(f"SceneVault {__version__} serving {server.url}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
