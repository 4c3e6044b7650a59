"""``ApiServer``: the HTTPS server on loopback, the simulator behind it, and its kubeconfig."""

from __future__ import annotations

import contextlib
import secrets
import ssl
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

from ..sim import SimBackend
from . import kubeconfig, tls
from .clock import WallClock
from .listener import HOST, IDLE_TIMEOUT, MAX_CONNECTIONS, Listener
from .objects import Objects


@dataclass(frozen=True)
class Request:
    """One request as the server saw it (kept for diagnosis and tests)."""

    method: str
    path: str  # with the query string
    accept: str
    content_type: str
    upgrade: str
    credentials: bool  # an Authorization header came with it


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
        gateway_api: bool = True,
    ) -> None:
        self.sim = sim or SimBackend()
        # gateway_api=False: a cluster without the Gateway API CRDs, until someone applies them.
        self.objects = Objects(self.sim, gateway_api=gateway_api)
        self.clock = WallClock(self.sim.mesh.clock)
        self.token = token or secrets.token_urlsafe(32)
        self.identity = tls.new_identity(HOST)
        self.stopping = threading.Event()
        self.requests: deque[Request] = deque(maxlen=5000)
        # One lock for the whole simulator: it is not thread-safe, and requests come on many threads.
        self._lock = threading.RLock()
        self._httpd = Listener(HOST, port, self, max_connections, idle_timeout)
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
