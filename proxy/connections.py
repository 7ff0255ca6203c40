"""Connections (server-only): sockets, the waiting room, the worker pool and the server.

The accepting thread (`serve_forever`) never serves anyone: it hands each new socket to the
waiting room, one thread with one selector that holds every connection not being served (new
ones, idle keep-alive ones, lingering closes). A connection leaves it for a worker only once a
whole request head is buffered, so idle or slow clients cost a file descriptor, never a thread.
The head has one deadline (`header_timeout_s` from the connection's start, or from the first
byte after a keep-alive pause), so dripping bytes gains nothing; a late head gets 408, an idle
keep-alive connection is closed after `idle_timeout_s`. At most `max_connections` workers
serve one request at a time and then hand the connection back; past that, ready connections
queue. Past `max_open_connections` open sockets a new one gets 503 server_busy and is closed.
Every refusal ends in a lingering close: the write side is shut, then unread bytes are drained
for at most LINGER_S / LINGER_BYTES, so a client still reads the error instead of a reset.

    with SceneVaultServer(config) as server:
        server.serve_forever()
"""

from __future__ import annotations

import collections
import selectors
import socket
import threading
import time
from http.server import HTTPServer

from proxy.config import ServerConfig
from proxy.guards import MAX_HEAD_BYTES
from proxy.handler import SceneVaultHandler
from proxy.jobs import JobService
from proxy.providers.runner import ProviderRunner
from proxy.static import StaticAllowlist
from proxy.workers import WorkerPool

SEND_TIMEOUT_S = 30.0  # one blocked write to a client that stopped reading
LINGER_S = 2.0  # a lingering close drains the client's unread bytes this long at most ...
LINGER_BYTES = 8 * 1024 * 1024  # ... and this much at most
RECV_BYTES = 64 * 1024


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
        self.generation = ProviderRunner(config.providers)
        self.jobs = JobService(self.generation)
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
        self.jobs.stop()

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
