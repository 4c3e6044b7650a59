"""Exec output over a websocket, with the Kubernetes channel protocol (``v5``/``v4.channel.k8s.io``).

``wsproto`` does the framing; this module only negotiates the subprotocol and prefixes each message
with its channel number. A reader thread answers pings (kubectl sends them while a command runs) and
the client's close frame, so a slow simulated curl does not look like a dead connection.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Sequence
from io import BufferedIOBase

from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Ping, RejectConnection, Request

from .streams import CHANNEL_PROTOCOLS

#: Seconds to wait for the client's close frame after ours.
CLOSE_WAIT = 2.0


class Refused(Exception):
    """The upgrade request is not a websocket handshake this server accepts."""


class ChannelWebSocket:
    """A server-side websocket on an HTTP connection whose request line and headers were already read."""

    def __init__(
        self, sock: socket.socket, rfile: BufferedIOBase, headers: Sequence[tuple[str, str]], path: str
    ) -> None:
        self.sock = sock
        self.rfile = rfile
        self.ws = WSConnection(ConnectionType.SERVER)
        self.ws.initiate_upgrade_connection([(k.encode(), v.encode()) for k, v in headers], path)
        self.subprotocol: str | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._closing = False  # our close frame is out; the client's is its answer
        self._reader: threading.Thread | None = None

    def accept(self) -> str:
        """Answer the handshake (101) with the first channel protocol the client offers that we speak."""
        request = next((e for e in self.ws.events() if isinstance(e, Request)), None)
        if request is None:
            raise Refused("not a websocket handshake")
        chosen = next((p for p in request.subprotocols if p in CHANNEL_PROTOCOLS), None)
        if chosen is None:
            self.sock.sendall(self.ws.send(RejectConnection(status_code=400)))
            raise Refused(
                f"none of the offered subprotocols {request.subprotocols} is one of {list(CHANNEL_PROTOCOLS)}"
            )
        self.sock.sendall(self.ws.send(AcceptConnection(subprotocol=chosen)))
        self.subprotocol = chosen
        self._reader = threading.Thread(target=self._read, name="exec-websocket-reader", daemon=True)
        self._reader.start()
        return chosen

    def _write(self, data: bytes) -> None:
        with self._lock:
            if data:
                self.sock.sendall(data)

    def _read(self) -> None:
        try:
            while not self._closed.is_set():
                chunk = self.rfile.read1(65536)  # type: ignore[attr-defined]
                if not chunk:
                    break
                self.ws.receive_data(chunk)
                for event in self.ws.events():
                    if isinstance(event, Ping):
                        self._write(self.ws.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        if not self._closing:
                            self._write(self.ws.send(event.response()))
                        self._closed.set()
                    # Input on stdin, resize and v5 CLOSE signals need no answer: nothing reads them.
        except (OSError, ValueError):
            pass
        finally:
            self._closed.set()

    def send(self, channel: int, data: bytes) -> None:
        """One binary message: the channel number, then the bytes."""
        if data and not self._closed.is_set():
            self._write(self.ws.send(BytesMessage(data=bytes([channel]) + data)))

    def finish(self) -> None:
        """Close the websocket (the client reads that as the command's end) and wait for its answer."""
        try:
            if not self._closed.is_set():
                self._closing = True
                self._write(self.ws.send(CloseConnection(code=1000)))
        except Exception:  # wsproto refuses when the client closed first; nothing left to do
            pass
        self._closed.wait(CLOSE_WAIT)
        if self._reader is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self._reader.join(CLOSE_WAIT)

    def abort(self) -> None:
        """Drop the connection as a dying server does: no close frame, no end of stream."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
