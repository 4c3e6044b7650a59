"""``pods/exec``: upgrade the connection (websocket, or SPDY for older kubectl), run, answer on the channels."""

from __future__ import annotations

import json
import logging
import traceback
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

from . import execute, spdy, streams
from .status import bad_request, failure
from .websocket import ChannelWebSocket, Refused

if TYPE_CHECKING:
    from .server import ApiServer

log = logging.getLogger("labkit.serve")
#: The query flags that say which streams the client wants.
FLAGS = ("stdin", "stdout", "stderr", "tty")
V4 = "v4.channel.k8s.io"


def _websocket(handler: BaseHTTPRequestHandler) -> streams.ExecStream | None:
    ws = ChannelWebSocket(handler.connection, handler.rfile, list(handler.headers.items()), handler.path)
    try:
        ws.accept()
    except Refused as exc:  # the 400 has been sent
        log.info("exec upgrade refused: %s", exc)
        return None
    return ws


def _spdy(handler: BaseHTTPRequestHandler, flags: dict[str, bool]) -> streams.ExecStream | None:
    offered = [p.strip() for v in handler.headers.get_all(spdy.PROTOCOL_HEADER) or [] for p in v.split(",")]
    if V4 not in offered:
        raise bad_request(f"unable to upgrade: none of the protocols {offered} is {V4}")
    handler.send_response(101, "Switching Protocols")
    handler.send_header("Connection", "Upgrade")
    handler.send_header("Upgrade", spdy.UPGRADE)
    handler.send_header(spdy.PROTOCOL_HEADER, V4)
    handler.end_headers()
    # The streams the client opens: always error; stdin/stdout as asked; stderr unless a tty merges it.
    wanted = {"error"} | {name for name in ("stdin", "stdout") if flags[name]}
    wanted |= {"stderr"} if flags["stderr"] and not flags["tty"] else set()
    wanted |= {"resize"} if flags["tty"] else set()
    session = spdy.SpdyExec(handler.connection, handler.rfile, wanted)
    session.start()
    if not session.wait_for_streams():
        session.finish()
        return None
    return session


def serve(
    handler: BaseHTTPRequestHandler,
    app: ApiServer,
    namespace: str,
    pod: str,
    container: str,
    argv: list[str],
    flags: dict[str, bool],
) -> None:
    """Answer one exec request whose pod and container exist."""
    upgrade = (handler.headers.get("Upgrade") or "").lower()
    if upgrade == "websocket":
        stream = _websocket(handler)
    elif upgrade.startswith("spdy/"):
        stream = _spdy(handler, flags)
    else:
        raise bad_request("Upgrade request required")
    if stream is None:
        return
    try:
        with app.locked():
            result = execute.run(app.sim, namespace, pod, container, argv)
    except Exception as exc:  # past the upgrade, errors go on the error channel, not as HTTP
        log.error("exec of %s failed\n%s", argv, traceback.format_exc())
        stream.send(
            streams.ERROR, json.dumps(failure(500, "InternalError", f"Internal error occurred: {exc}")).encode()
        )
        stream.finish()
        return
    app.clock.hold(result.elapsed, app.stopping)  # see clock.py: real time for virtual time
    if app.stopping.is_set():
        stream.abort()  # a server going away drops its streams: no output, no exit status
        return
    try:
        stream.send(streams.STDOUT, result.stdout.encode())
        stream.send(streams.STDERR, result.stderr.encode())
        stream.send(streams.ERROR, streams.status_bytes(argv, result.exit_code))
    except OSError:
        pass  # the client gave up (its own deadline); the output has nowhere to go
    stream.finish()
