"""Where connections arrive: accept, TLS on each connection's own thread, and a cap on connections."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .handler import Handler
from .status import failure

if TYPE_CHECKING:
    from .server import ApiServer

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


class Listener(ThreadingHTTPServer):
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

    def __init__(self, host: str, port: int, app: ApiServer, max_connections: int, idle_timeout: float) -> None:
        self.app = app
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self._active = 0
        self._count_lock = threading.Lock()
        super().__init__((host, port), Handler)

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
