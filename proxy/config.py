"""The server's configuration (server-only): every flag and SCENEVAULT_* setting, read once at
start-up into one frozen `ServerConfig`.

    config = config_from(["--port", "8001"], dict(os.environ))
    config.port, config.max_connections                  # 8001, 64
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from proxy.guards import normalize_hostname
from proxy.providers import ProviderSettings, settings_from_env

APP_ROOT = Path(__file__).resolve().parents[1]  # the repository: what the server serves from
LOCAL_HOSTNAMES = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_MAX_JOB_BODY_BYTES = 12 * 1024 * 1024  # POST /api/jobs carries the frame (8 MiB at most)
# Connections (see the module docstring).
DEFAULT_MAX_CONNECTIONS = 64  # worker threads: requests served at once
DEFAULT_MAX_OPEN_CONNECTIONS = 512  # sockets held at once, idle ones included; then 503
DEFAULT_HEADER_TIMEOUT_S = 10.0  # a whole request head (and then its body) must arrive in this
DEFAULT_IDLE_TIMEOUT_S = 15.0  # a keep-alive connection may wait this long for its next request


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server is told at start-up, from flags and environment."""

    host: str = "127.0.0.1"
    port: int = 8000
    root: Path = APP_ROOT
    allowed_hosts: frozenset[str] = LOCAL_HOSTNAMES
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_job_body_bytes: int = DEFAULT_MAX_JOB_BODY_BYTES
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
        max_job_body_bytes=_int_env(environ, "SCENEVAULT_MAX_JOB_BODY_BYTES",
                                    DEFAULT_MAX_JOB_BODY_BYTES),
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
