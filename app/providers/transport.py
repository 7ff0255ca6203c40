"""HTTP for the provider clients (server-only): one request, a deadline and a size cap.

Owns `Deadline` (the time a whole generation may take; every socket operation gets what is
left of it), `request` (http.client, no redirects followed, the body read in slices so a size
cap holds while streaming), and the helpers that turn a provider's answer into JSON or a
`ProviderError` whose message never contains a key. Connections are opened and closed here,
one per request.

    deadline = Deadline(60)
    reply = request("POST", "http://127.0.0.1:7860/sdapi/v1/txt2img", deadline=deadline,
                    max_bytes=50 << 20, json_body={"prompt": "a fox"})
    images = json_answer(reply, "a1111")["images"]
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from app.errors import ProviderError, ProviderTimeout

READ_SLICE = 256 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}


class Deadline:
    """The moment a generation must be done by; `remaining()` raises ProviderTimeout after it."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expires = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.expires - time.monotonic()
        if left <= 0:
            raise ProviderTimeout(f"the provider did not answer within {self.seconds:g} s")
        return left

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, self.remaining()))
        self.remaining()


@dataclass(frozen=True)
class Target:
    """Where a URL points: scheme, lower-case host, port, and the path with its query."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def origin(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{shown}:{self.port}"


@dataclass(frozen=True)
class HttpReply:
    """A provider's answer: status, headers (lower-case names) and the whole body."""

    status: int
    headers: dict[str, str]
    body: bytes
    target: Target

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def parse_target(url: str) -> Target:
    """Split an http(s) URL; any other scheme, userinfo or a bad port is a ProviderError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ProviderError("the provider gave a URL that cannot be parsed") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise ProviderError(f"the provider gave a {parts.scheme or 'schemeless'} URL; only http "
                            "and https are fetched")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise ProviderError("the provider gave a URL without a plain host name")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname.rstrip(".").lower(),
                  port or DEFAULT_PORTS[parts.scheme], path)


def request(method: str, url: str, *, deadline: Deadline, max_bytes: int,
            headers: dict[str, str] | None = None, json_body: Any = None,
            connect_ip: str | None = None) -> HttpReply:
    """One HTTP exchange. `connect_ip` pins the address (the host name still goes in Host and
    TLS SNI), so a checked address cannot change between the check and the connection."""
    target = parse_target(url)
    sent = {"Accept": "*/*", "User-Agent": "SceneVault", **(headers or {})}
    body = None
    if json_body is not None:
        body = json.dumps(json_body).encode()
        sent["Content-Type"] = "application/json"
    connection = _connection(target, connect_ip, deadline.remaining())
    try:
        connection.request(method, target.path, body=body, headers=sent)
        sock = connection.sock
        response = connection.getresponse()
        data = _read_capped(response, sock, target, deadline, max_bytes)
        return HttpReply(response.status, {k.lower(): v for k, v in response.getheaders()},
                         data, target)
    except TimeoutError:
        raise ProviderTimeout(f"{target.origin} did not answer within {deadline.seconds:g} s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise ProviderError(f"{target.origin} could not be reached or broke off: "
                            f"{type(exc).__name__}") from None
    finally:
        connection.close()


def _connection(target: Target, connect_ip: str | None, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPS(target.host, target.port, connect_ip, timeout)
    return _PinnedHTTP(target.host, target.port, connect_ip, timeout)


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, connect_ip: str | None, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._connect_ip = connect_ip or host

    def connect(self):
        self.sock = socket.create_connection((self._connect_ip, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(_PinnedHTTP):
    default_port = 443

    def connect(self):
        super().connect()
        self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)


def _read_capped(response: http.client.HTTPResponse, sock: socket.socket | None, target: Target,
                 deadline: Deadline, max_bytes: int) -> bytes:
    declared = response.getheader("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ProviderError(f"{target.origin} answered {int(declared)} bytes, over the "
                            f"{max_bytes}-byte cap")
    parts, total = [], 0
    while True:
        if sock is not None:
            sock.settimeout(deadline.remaining())
        part = response.read1(READ_SLICE)
        if not part:
            if declared.isdigit() and total < int(declared):
                raise ProviderError(f"{target.origin} broke off after {total} of {declared} bytes")
            return b"".join(parts)
        total += len(part)
        if total > max_bytes:
            raise ProviderError(f"{target.origin} sent more than the {max_bytes}-byte cap")
        parts.append(part)


def json_answer(reply: HttpReply, what: str, hide: tuple[str, ...] = ()) -> Any:
    """The reply's JSON, or a ProviderError saying what went wrong (with `hide` values masked)."""
    if not reply.ok:
        raise failure(reply, what, hide)
    try:
        return json.loads(reply.body)
    except ValueError:
        raise ProviderError(f"{what} answered something that is not JSON "
                            f"({len(reply.body)} bytes)") from None


def failure(reply: HttpReply, what: str, hide: tuple[str, ...] = ()) -> ProviderError:
    """A ProviderError for a non-2xx answer, quoting the start of its body with secrets masked."""
    text = reply.body[:300].decode("utf-8", "replace")
    return ProviderError(f"{what} answered HTTP {reply.status}: {redact(text, hide)}".strip())


def redact(text: str, hide: tuple[str, ...]) -> str:
    """`text` with every secret in `hide` (and any long piece of it) replaced by ***."""
    for secret in hide:
        if secret:
            text = text.replace(secret, "***")
            if len(secret) >= 12:
                text = text.replace(secret[:8], "***").replace(secret[-8:], "***")
    return text
