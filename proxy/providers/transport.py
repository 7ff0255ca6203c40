"""HTTP for the provider clients (server-only): one request, one wall-clock deadline, a size cap.

Owns `Deadline` (the time a whole generation may take), `parse_target` (strict http(s) URLs),
`request` (http.client, no redirects followed, the body read in slices so a size cap holds
while streaming), and the helpers that turn a provider's answer into JSON or a `ProviderError`
whose message never contains a key (`redaction.quote_upstream`). Connections are opened and
closed here, one per request.

The deadline covers the whole exchange, not each socket read:
- the name lookup runs in a daemon thread and is waited for only until the deadline
  (`resolve`; getaddrinfo has no timeout of its own, a lookup still running is abandoned);
- connect, the TLS handshake, sending and every read get what is left as their timeout;
- a `Watchdog` timer shuts the socket down at the deadline, so a recv blocked on an upstream
  that drips one header byte a second returns at once. The exchange then raises
  ProviderTimeout naming the origin and the seconds, whatever http.client made of the cut.

    deadline = Deadline(60)
    reply = request("POST", "http://127.0.0.1:7860/sdapi/v1/txt2img", deadline=deadline,
                    max_bytes=50 << 20, json_body={"prompt": "a fox"})
    images = json_answer(reply, "a1111")["images"]
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import socket
import ssl
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from app.core.errors import ProviderError, ProviderTimeout
from proxy.providers.redaction import quote_upstream

READ_SLICE = 256 * 1024
DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"[a-z0-9_-]{1,63}")


class Deadline:
    """The moment a generation must be done by; `remaining()` raises ProviderTimeout after it."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expires = time.monotonic() + seconds

    @property
    def left(self) -> float:
        """Seconds until the deadline, never below zero."""
        return max(0.0, self.expires - time.monotonic())

    def remaining(self, who: str = "the provider") -> float:
        left = self.left
        if left <= 0:
            raise self.timeout(who)
        return left

    def timeout(self, who: str = "the provider") -> ProviderTimeout:
        return ProviderTimeout(f"{who} did not answer within {self.seconds:g} s")

    def sleep(self, seconds: float, who: str = "the provider") -> None:
        """Wait `seconds`, or until the deadline, then raise ProviderTimeout naming `who`."""
        time.sleep(min(seconds, self.remaining(who)))
        self.remaining(who)


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


# --- URLs -------------------------------------------------------------------------------------
def parse_target(url: str) -> Target:
    """Split an http(s) URL; any other scheme, userinfo, a bad host or port is a ProviderError."""
    if not url.isascii() or not url.isprintable() or " " in url:
        raise ProviderError("the provider gave a URL with a space, a control or a non-ASCII "
                            "character; refused")
    try:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS:
            raise ProviderError(f"the provider gave a {parts.scheme or 'schemeless'} URL; only "
                                "http and https are fetched")
        host, port = split_host_port(parts.netloc)
    except ValueError as exc:  # urlsplit's reasons name no part of the URL; ours name host or port
        raise ProviderError(f"the provider gave a URL that cannot be parsed: {exc}") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port or DEFAULT_PORTS[parts.scheme], path)


def split_host_port(text: str) -> tuple[str, int | None]:
    """'name', 'name:port', '[v6]' or '[v6]:port' -> (lower-case host, port or None). The port is
    ASCII digits, 1-65535; the host an IP address or a DNS name. Else a ValueError saying why."""
    if "@" in text:
        raise ValueError("it has user info, not a plain host name")
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r} is not '[IPv6 address]' or '[IPv6 address]:port'")
        _ipv6(host)
        port = rest[1:] if rest else None
    elif text.count(":") > 1:
        raise ValueError(f"{text!r} needs [brackets] around an IPv6 address")
    else:
        host, colon, port = text.partition(":")
        port = port if colon else None
        _host_name(host)
    return host.rstrip(".").lower(), _port(port)


def _ipv6(host: str) -> None:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        raise ValueError(f"{host!r} in brackets is not an IPv6 address") from None


def _host_name(host: str) -> None:
    labels = host.lower().removesuffix(".").split(".")
    if not host or len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{host!r} is not a plain host name" if host else "it has no plain host name")


def _port(port: str | None) -> int | None:
    if port is None:
        return None
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"its port {port!r} is not a number from 1 to 65535")
    return int(port)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# --- one exchange -----------------------------------------------------------------------------
def request(method: str, url: str, *, deadline: Deadline, max_bytes: int,
            headers: dict[str, str] | None = None, json_body: Any = None,
            connect_ip: str | None = None, body: bytes | None = None) -> HttpReply:
    """One HTTP exchange within `deadline`. The body is `json_body` as JSON, or `body` as given
    (with its Content-Type in `headers`). `connect_ip` pins the address (the host name still
    goes in Host and TLS SNI), so a checked address cannot change between check and connection."""
    target = parse_target(url)
    sent, body = _outgoing(target, headers, json_body, body)
    watchdog = Watchdog(deadline)
    connection = _connection(target, connect_ip, deadline, watchdog)
    try:
        return _exchange(connection, method, target, sent, body, deadline, max_bytes)
    except (ProviderError, OSError, http.client.HTTPException) as exc:
        raise _mapped(exc, target, deadline, watchdog) from None
    finally:
        connection.close()
        watchdog.stop()


def _mapped(exc: Exception, target: Target, deadline: Deadline, watchdog: Watchdog) -> ProviderError:
    """What a failed exchange raises: past the deadline (or cut by the watchdog, whatever
    http.client made of the cut) a ProviderTimeout naming the origin; else a ProviderError."""
    if isinstance(exc, (ProviderTimeout, TimeoutError)) or watchdog.fired or deadline.left <= 0:
        return deadline.timeout(target.origin)
    if isinstance(exc, ProviderError):
        return exc
    return ProviderError(f"{target.origin} could not be reached or broke off: {type(exc).__name__}")


def _outgoing(target: Target, headers: dict[str, str] | None, json_body: Any,
              raw: bytes | None) -> tuple[dict, bytes | None]:
    sent = {"Accept": "*/*", "User-Agent": "SceneVault", **(headers or {})}
    for name, value in sent.items():
        if not value.isprintable():  # http.client would refuse it quoting the value: a key
            raise ProviderError(f"the {name} header for {target.origin} contains a line break "
                                "or control character; not sent")
    if json_body is None:
        return sent, raw
    return {**sent, "Content-Type": "application/json"}, json.dumps(json_body).encode()


def _exchange(connection: _GuardedHTTP, method: str, target: Target, sent: dict,
              body: bytes | None, deadline: Deadline, max_bytes: int) -> HttpReply:
    connection.connect()
    sock = connection.sock  # kept: http.client drops it from the connection on "close" answers
    sock.settimeout(deadline.remaining())
    connection.request(method, target.path, body=body, headers=sent)
    sock.settimeout(deadline.remaining())
    response = connection.getresponse()
    try:
        data = _read_capped(response, sock, target, deadline, max_bytes)
    finally:
        response.close()
    connection.watchdog.check()  # a cut socket can pass for a short, complete answer
    return HttpReply(response.status, {k.lower(): v for k, v in response.getheaders()}, data, target)


class Watchdog:
    """Shuts a connection's socket down when the deadline passes, so a blocked recv, send or TLS
    handshake returns at once. It holds its own duplicate of the socket's descriptor: shutdown(2)
    acts on the connection whichever descriptor names it, and the duplicate survives the TLS wrap
    (which detaches the original socket object). It never closes the connection's descriptor, so
    it cannot race that number's reuse; `stop` cancels the timer and closes the duplicate."""

    def __init__(self, deadline: Deadline):
        self.fired = False
        self._lock = threading.Lock()
        self._copy: socket.socket | None = None
        self._timer = threading.Timer(deadline.left, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def guard(self, sock: socket.socket) -> None:
        with self._lock:
            self._drop()
            self._copy = sock.dup()
            if self.fired:
                self._shut()

    def check(self) -> None:
        if self.fired:
            raise TimeoutError("the watchdog cut the connection at the deadline")

    def stop(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._drop()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            self._shut()

    def _shut(self) -> None:
        if self._copy is not None:
            try:
                self._copy.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # not connected yet (connect has its own timeout) or already gone

    def _drop(self) -> None:
        if self._copy is not None:
            self._copy.close()
            self._copy = None


def resolve(host: str, port: int, deadline: Deadline) -> list[tuple]:
    """getaddrinfo for a TCP connection, waited for only until the deadline. The lookup runs in a
    daemon thread (it has no timeout of its own); one still running then is left to finish there,
    its answer dropped, and the caller gets ProviderTimeout."""
    if is_ip(host):
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    answer: Future = Future()
    threading.Thread(target=_lookup, args=(host, port, answer), daemon=True,
                     name=f"resolve-{host}").start()
    try:
        return answer.result(timeout=deadline.left)
    except TimeoutError:
        raise deadline.timeout(f"the name lookup of {host}") from None


def _lookup(host: str, port: int, answer: Future) -> None:
    try:
        answer.set_result(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    except (OSError, UnicodeError) as exc:
        answer.set_exception(socket.gaierror(f"{host} does not resolve ({type(exc).__name__})"))


def _connection(target: Target, connect_ip: str | None, deadline: Deadline,
                watchdog: Watchdog) -> _GuardedHTTP:
    kind = _GuardedHTTPS if target.scheme == "https" else _GuardedHTTP
    return kind(target.host, target.port, connect_ip, deadline, watchdog)


class _GuardedHTTP(http.client.HTTPConnection):
    """An HTTPConnection whose lookup and connect stay within the deadline, its socket guarded."""

    def __init__(self, host: str, port: int, connect_ip: str | None, deadline: Deadline,
                 watchdog: Watchdog):
        super().__init__(host, port, timeout=deadline.left)
        self._connect_ip = connect_ip
        self._deadline = deadline
        self.watchdog = watchdog

    def connect(self):
        addresses = resolve(self._connect_ip or self.host, self.port, self._deadline)
        self.sock = self._open(addresses)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _open(self, addresses: list[tuple]) -> socket.socket:
        """The first address that accepts a connection (as socket.create_connection tries them)."""
        failure: OSError = OSError("no address to connect to")
        for family, kind, proto, _, address in addresses:
            sock = socket.socket(family, kind, proto)
            try:
                self.watchdog.guard(sock)
                sock.settimeout(self._deadline.remaining())
                sock.connect(address)
                return sock
            except OSError as exc:
                sock.close()
                failure = exc
        raise failure


class _GuardedHTTPS(_GuardedHTTP):
    default_port = 443

    def connect(self):
        super().connect()
        self.sock.settimeout(self._deadline.remaining())
        self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)


def _read_capped(response: http.client.HTTPResponse, sock: socket.socket, target: Target,
                 deadline: Deadline, max_bytes: int) -> bytes:
    declared = response.getheader("Content-Length", "")
    declared = int(declared) if declared.isascii() and declared.isdigit() else None
    if declared is not None and declared > max_bytes:
        raise ProviderError(f"{target.origin} answered {declared} bytes, over the "
                            f"{max_bytes}-byte cap")
    parts, total = [], 0
    while True:
        sock.settimeout(deadline.remaining())
        part = response.read1(READ_SLICE)
        if not part:
            if declared is not None and total < declared:
                raise ProviderError(f"{target.origin} broke off after {total} of {declared} bytes")
            return b"".join(parts)
        total += len(part)
        if total > max_bytes:
            raise ProviderError(f"{target.origin} sent more than the {max_bytes}-byte cap")
        parts.append(part)


# --- answers ----------------------------------------------------------------------------------
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
    """A ProviderError for a non-2xx answer, quoting the start of its body, secrets masked first."""
    return ProviderError(f"{what} answered HTTP {reply.status}: {quote_upstream(reply.body, hide)}".strip())
