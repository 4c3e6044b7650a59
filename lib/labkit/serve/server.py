"""``ApiServer``: the HTTP server on loopback, the simulator behind it, and its kubeconfig."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import ssl
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ..sim import SimBackend
from . import kubeconfig, tls
from .clock import WallClock
from .handler import Handler
from .objects import Objects
from .status import failure

HOST = "127.0.0.1"
#: Pending connections the kernel queues for accept (Python's default is 5).
BACKLOG = 512
#: Connections served at once; more are answered 429.
MAX_CONNECTIONS = 1024
#: Seconds a client gets to finish the TLS handshake, and to send its next request on a kept-alive connection.
HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 60.0
#: Seconds spent on a connection that is refused with 429.
REFUSE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Request:
    """One request as the server saw it (kept for diagnosis and tests)."""

    method: str
    path: str  # with the query string
    accept: str
    content_type: str
    upgrade: str
    credentials: bool  # an Authorization header came with it


class _HTTPServer(ThreadingHTTPServer):
    """One thread per connection, TLS on that thread, and a cap on how many connections are served at once.

    The accept loop only accepts: the TLS handshake happens on the connection's own thread, so a client
    that connects and says nothing holds up nobody. Past ``max_connections`` a connection is answered
    429 (the API server's answer when it is overloaded) on a short-lived thread; past twice that, it is
    closed at once, so a flood cannot make the server start threads without bound.
    """

    daemon_threads = True  # a client that never hangs up (a watch) must not block shutdown
    allow_reuse_address = True
    block_on_close = False
    #: The listen backlog: bursts of new connections (500 concurrent kubectl calls) wait here, not time out.
    request_queue_size = BACKLOG

    def __init__(self, port: int, app: ApiServer, max_connections: int, idle_timeout: float) -> None:
        self.app = app
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self._active = 0
        self._count_lock = threading.Lock()
        super().__init__((HOST, port), Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small replies go out at once, no Nagle wait
        return sock, address

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._count_lock:
            self._active += 1
            active = self._active
        if active > 2 * self.max_connections:
            self._release(request)
            return
        target = self._serve_one if active <= self.max_connections else self._refuse_one
        threading.Thread(target=target, args=(request, client_address), daemon=True).start()

    def _release(self, request: socket.socket) -> None:
        with self._count_lock:
            self._active -= 1
        self.shutdown_request(request)

    def _handshake(self, request: socket.socket, timeout: float) -> ssl.SSLSocket | None:
        request.settimeout(timeout)
        try:
            return self.app.identity.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):  # not TLS, a bad handshake, or too slow: drop it
            return None

    def _serve_one(self, request: socket.socket, client_address: Any) -> None:
        tls = None
        try:
            tls = self._handshake(request, HANDSHAKE_TIMEOUT)
            if tls is not None:
                tls.settimeout(self.idle_timeout)  # a connection idle this long is closed
                self.finish_request(tls, client_address)
        except Exception:  # a handler bug must not kill the thread silently
            self.handle_error(request, client_address)
        finally:
            self._release(tls or request)

    def _refuse_one(self, request: socket.socket, client_address: Any) -> None:
        tls = None
        try:
            tls = self._handshake(request, REFUSE_TIMEOUT)
            if tls is not None:
                body = json.dumps(failure(429, "TooManyRequests", "Too many requests, please try again later."))
                tls.sendall(
                    b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
                    + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}".encode()
                )
        except OSError:
            pass
        finally:
            self._release(tls or request)


class ApiServer:
    """A SimBackend's state behind the Kubernetes REST API on ``https://127.0.0.1:PORT``.

    ``port=0`` picks a free port. Use as a context manager, or ``start()``/``stop()``.
    """

    def __init__(
        self,
        sim: SimBackend | None = None,
        *,
        port: int = 0,
        token: str | None = None,
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self.sim = sim or SimBackend()
        self.objects = Objects(self.sim)
        self.clock = WallClock(self.sim.mesh.clock)
        self.token = token or secrets.token_urlsafe(32)
        self.identity = tls.new_identity(HOST)
        self.stopping = threading.Event()
        self.requests: deque[Request] = deque(maxlen=5000)
        # One lock for the whole simulator: it is not thread-safe, and requests come on many threads.
        self._lock = threading.RLock()
        self._httpd = _HTTPServer(port, self, max_connections, idle_timeout)
        self._thread: threading.Thread | None = None
        self._stop_lock = threading.Lock()
        self._closed = False

    # -- where it listens
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.address}"

    def write_kubeconfig(self, path: Path, context: str = kubeconfig.CONTEXT) -> Path:
        return kubeconfig.write(path, self.url, self.token, self.identity.ca_data, context)

    def client_context(self) -> ssl.SSLContext:
        """A TLS client context that trusts this server (what the kubeconfig's CA gives kubectl)."""
        return tls.client_context(self.identity.ca_pem)

    # -- running
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the simulator for one request; its clock first catches up with the wall clock."""
        with self._lock:
            self.clock.sync()
            yield

    def record(self, method: str, path: str, headers: Message) -> None:
        self.requests.append(
            Request(
                method,
                path,
                headers.get("Accept", ""),
                headers.get("Content-Type", ""),
                headers.get("Upgrade", ""),
                "Authorization" in headers,
            )
        )

    def start(self) -> ApiServer:
        """Serve on a background thread; returns at once."""
        self._thread = threading.Thread(target=self.serve_forever, name="labkit-serve", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self.stopping.set()  # ends watches and pending exec waits
        with self._stop_lock:  # stop() may race with itself (a timer and a finally block)
            thread, self._thread = self._thread, None
            if thread is not None:  # serving on our thread: stop its loop (never call this on it)
                self._httpd.shutdown()
                thread.join(timeout=5)
            if not self._closed:
                self._httpd.server_close()
                self._closed = True

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
