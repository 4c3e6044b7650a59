"""``ApiServer``: the HTTP server on loopback, the simulator behind it, and its kubeconfig."""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ..sim import SimBackend
from . import kubeconfig
from .clock import WallClock
from .handler import Handler
from .objects import Objects

HOST = "127.0.0.1"


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
    daemon_threads = True  # a client that never hangs up (a watch) must not block shutdown
    allow_reuse_address = True

    def __init__(self, port: int, app: ApiServer) -> None:
        super().__init__((HOST, port), Handler)
        self.app = app


class ApiServer:
    """A SimBackend's state behind the Kubernetes REST API on ``http://127.0.0.1:PORT``.

    ``port=0`` picks a free port. Use as a context manager, or ``start()``/``stop()``.
    """

    def __init__(self, sim: SimBackend | None = None, *, port: int = 0, token: str | None = None) -> None:
        self.sim = sim or SimBackend()
        self.objects = Objects(self.sim)
        self.clock = WallClock(self.sim.mesh.clock)
        self.token = token or secrets.token_urlsafe(24)
        self.stopping = threading.Event()
        self.requests: deque[Request] = deque(maxlen=5000)
        # One lock for the whole simulator: it is not thread-safe, and requests come on many threads.
        self._lock = threading.RLock()
        self._httpd = _HTTPServer(port, self)
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
        return f"http://{self.address}"

    def write_kubeconfig(self, path: Path, context: str = kubeconfig.CONTEXT) -> Path:
        return kubeconfig.write(path, self.url, self.token, context)

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
