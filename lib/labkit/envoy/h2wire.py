"""HTTP/2 on a TLS socket, for the world's servers that negotiate it (``http2: true``, ALPN ``h2``).

Built on the sans-IO ``h2`` library: each complete request stream (headers, body, end of stream) is
handed to ``respond``, and its Reply is sent back on the same stream. Connection-specific headers,
which HTTP/2 forbids (RFC 9113 8.2.2), are dropped from replies.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from ..sim.messages import Reply, Request

_CONNECTION_SPECIFIC = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
_NO_BODY_STATUS = {204, 304}


def serve(sock: socket.socket, respond: Callable[[Request], Reply | None]) -> None:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    streams: dict[int, tuple[list[tuple[str, str]], bytearray]] = {}
    while True:
        data = sock.recv(65536)
        if not data:
            return
        try:
            events = conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            sock.sendall(conn.data_to_send())
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                streams[event.stream_id] = ([(str(k), str(v)) for k, v in event.headers], bytearray())
            elif isinstance(event, h2.events.DataReceived):
                streams[event.stream_id][1].extend(event.data)
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                headers, body = streams.pop(event.stream_id)
                _answer(conn, sock, event.stream_id, headers, bytes(body), respond)
            elif isinstance(event, h2.events.ConnectionTerminated):
                sock.sendall(conn.data_to_send())
                return
        sock.sendall(conn.data_to_send())


def _answer(
    conn: h2.connection.H2Connection,
    sock: socket.socket,
    stream_id: int,
    headers: list[tuple[str, str]],
    body: bytes,
    respond: Callable[[Request], Reply | None],
) -> None:
    pseudo = {k: v for k, v in headers if k.startswith(":")}
    request = Request(
        method=pseudo.get(":method", "GET"),
        authority=pseudo.get(":authority", ""),
        path=pseudo.get(":path", "/"),
        headers=tuple((k, v) for k, v in headers if not k.startswith(":")),
        scheme=pseudo.get(":scheme", "https"),
        body=body.decode("utf-8", "replace"),
    )
    reply = respond(request)
    if reply is None:
        conn.reset_stream(stream_id)
        return
    if reply.delay:
        time.sleep(reply.delay)  # real time, as on HTTP/1.1
    payload = b"" if request.method == "HEAD" or reply.status in _NO_BODY_STATUS else reply.body.encode("utf-8")
    given = reply.header("content-length")
    out = [(":status", str(reply.status))]
    out += [(k.lower(), v) for k, v in reply.headers if k.lower() not in _CONNECTION_SPECIFIC | {"content-length"}]
    if reply.status not in _NO_BODY_STATUS:
        length = given if request.method == "HEAD" and given is not None else str(len(payload))
        out.append(("content-length", length))
    conn.send_headers(stream_id, out, end_stream=not payload)
    sock.sendall(conn.data_to_send())
    view = memoryview(payload)
    while view:
        room = min(conn.local_flow_control_window(stream_id), conn.max_outbound_frame_size)
        if room <= 0:
            # Wait for the client's WINDOW_UPDATE before sending more.
            data = sock.recv(65536)
            if not data:
                return
            conn.receive_data(data)
            continue
        chunk, view = view[:room], view[room:]
        conn.send_data(stream_id, bytes(chunk), end_stream=not view)
        sock.sendall(conn.data_to_send())
