"""SceneVault's local server: the app's files and its JSON API, on the stdlib alone.

It owns:
- the static allowlist (`resolve_static_path`): index.html, pyscript.toml, app/*.py, static/
  and nothing else, whatever the spelling of the path;
- the request guards: Host (against DNS rebinding), Origin, body size and JSON-only on /api/*;
- the JSON API (`GET /api/health`, `GET /api/providers`, `POST /api/generate`), with every
  error as {"error": {"code", "message"}}. Generation itself lives in app/providers/ (server-
  only): this file maps its outcomes to HTTP (400, 429, 502, 504) and sends the media bytes.

Run it:

    $ python3 server.py --port 8000
    SceneVault 0.1.0 serving http://127.0.0.1:8000/
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
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
    411: "length_required", 413: "body_too_large", 415: "unsupported_media_type",
    429: "too_many_requests", 500: "internal_error", 501: "not_implemented",
    502: "provider_failed", 504: "provider_timeout",
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


def config_from(argv: list[str], environ: dict[str, str]) -> ServerConfig:
    """Build the config from command-line flags, falling back to HOST, PORT and SCENEVAULT_*."""
    parser = argparse.ArgumentParser(prog="server.py", description="Serve SceneVault locally.")
    parser.add_argument("--host", default=environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=_int_env(environ, "PORT", 8000))
    parser.add_argument("--allow-host", action="append", default=[],
                        help="another Host name to accept (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"port {args.port} is not between 0 and 65535")
    extra = [h for h in environ.get("SCENEVAULT_ALLOWED_HOSTS", "").split(",") if h.strip()]
    allowed = {normalize_hostname(h) for h in [*extra, *args.allow_host]} | LOCAL_HOSTNAMES
    if args.host not in ("0.0.0.0", "::"):
        allowed.add(normalize_hostname(args.host))
    return ServerConfig(
        host=args.host, port=args.port, allowed_hosts=frozenset(allowed), quiet=args.quiet,
        max_body_bytes=_int_env(environ, "SCENEVAULT_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
        providers=_provider_settings(environ),
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


def normalize_hostname(host: str) -> str:
    """'LocalHost.' -> 'localhost', '[::1]' -> '::1'."""
    return host.strip().strip("[]").rstrip(".").lower()


def hostname_of(host_header: str) -> str:
    """The name part of a Host header: 'localhost:8000' -> 'localhost', '[::1]:80' -> '::1'."""
    value = host_header.strip()
    if value.startswith("["):
        return normalize_hostname(value.split("]", 1)[0])
    return normalize_hostname(value.rsplit(":", 1)[0] if value.count(":") == 1 else value)


def resolve_static_path(root: Path, url_path: str, extra_dirs: tuple[str, ...] = ()) -> Path | None:
    """Map a request path to a file inside the allowlist, or None (answer 404).

    Refuses, in any spelling: '..' and '.' segments, dotfiles, backslashes, NUL and control
    characters, empty segments, drive letters, percent-encoded tricks, and symlinks that lead
    out of the tree.
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
    top = _allowed_top(relative, (*STATIC_DIRS, *extra_dirs))
    if top is None:
        return None
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to((root / top).resolve()) or not candidate.is_file():
        return None
    return candidate


def _allowed_top(relative: str, dirs: tuple[str, ...]) -> str | None:
    """The allowlisted file or folder that `relative` lives in, or None."""
    if relative in STATIC_FILES:
        return "."
    if relative.startswith("app/") and not relative.endswith(".py"):
        return None
    if relative.startswith(SERVER_ONLY_DIRS):
        return None
    return next((d for d in dirs if relative.startswith(d + "/")), None)


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
    """Serves the allowlist and routes /api/*. `config` is set on the class by `make_server`."""

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
            self._check_host()
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
        host = self.headers.get("Host")
        if not host:
            raise RequestRefused(403, "forbidden_host", "A Host header is required")
        if hostname_of(host) not in self.config.allowed_hosts:
            raise RequestRefused(403, "forbidden_host",
                                 f"Host {host!r} is not served here; use http://127.0.0.1 or "
                                 "localhost, or start the server with --allow-host")

    def _check_origin(self):
        origin = self.headers.get("Origin")
        served = f"http://{self.headers.get('Host', '')}".lower()
        if origin is not None and origin.lower() != served:
            raise RequestRefused(403, "forbidden_origin",
                                 f"Origin {origin!r} may not call this API; only {served} may")

    def read_json_body(self) -> dict:
        """The request's JSON object, after the size and Content-Type checks."""
        if "Transfer-Encoding" in self.headers:
            raise RequestRefused(411, "length_required", "Send a Content-Length, not chunks")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise RequestRefused(411, "length_required", "A Content-Length is required") from None
        if length > self.config.max_body_bytes or length < 0:
            self.close_connection = True
            raise RequestRefused(413, "body_too_large",
                                 f"Body of {length} bytes exceeds the {self.config.max_body_bytes}"
                                 "-byte limit")
        media_type, _, params = self.headers.get("Content-Type", "").partition(";")
        if media_type.strip().lower() != "application/json" or _bad_charset(params):
            self.close_connection = True
            raise RequestRefused(415, "unsupported_media_type",
                                 "Send the body as Content-Type: application/json (UTF-8)")
        return _parse_json_object(self.rfile.read(length))

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
        """The single way errors leave the server: {"error": {"code", "message"}}."""
        self._cache_control = API_CACHE
        self.send_json(status, {"error": {"code": code, "message": message}},
                       head_only=self.command == "HEAD")

    def send_error(self, code, message=None, explain=None):
        """Route http.server's own errors (bad request line, 404 ...) through the JSON shape."""
        self.close_connection = True
        status = int(code)
        text = message or HTTPStatus(status).phrase
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":  # unparsable request line
            self.request_version = "HTTP/1.0"  # answer with a status line, never bare HTTP/0.9
        self.command = getattr(self, "command", None) or "GET"
        self.send_json_error(status, ERROR_CODES.get(status, "error"), text)

    # --- static files ---------------------------------------------------------------------------
    def _serve_static(self, method: str):
        route = self.path.split("?", 1)[0]
        extra = self.config.extra_static_dirs
        target = resolve_static_path(self.config.root, self.path, extra)
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
        super().end_headers()

    def log_message(self, format, *args):
        if not self.config.quiet:
            super().log_message(format, *args)


def _bad_charset(params: str) -> bool:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            return True
    return False


def _parse_json_object(raw: bytes) -> dict:
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
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


class SceneVaultServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64  # bursts of parallel generations queue instead of being dropped

    def __init__(self, config: ServerConfig):
        self.address_family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        self.generation = GenerationService(config.providers)
        handler = type("ConfiguredHandler", (SceneVaultHandler,), {"config": config})
        super().__init__((config.host, config.port), handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"


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
