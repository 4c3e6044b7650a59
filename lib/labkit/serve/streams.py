"""The exec protocols' common part: which streams the client asked for, and the Status it gets at the end.

An exec answers on numbered channels (websocket) or typed streams (SPDY): stdout (1), stderr (2),
and the error channel (3), where the API server writes a ``Status`` when the command ends:
``Success``, or ``Failure`` with reason ``NonZeroExitCode`` and the exit code as an ``ExitCode`` cause.
"""

from __future__ import annotations

import json
import shlex
from typing import Any, Protocol

from .status import failure, success

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
#: Channel protocols the server speaks, best first. v5 adds a CLOSE signal; both carry a Status on
#: the error channel. The v1-v3 protocols (plain-text errors) are not offered.
CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")


class ExecStream(Protocol):
    """One side of an upgraded exec connection, as the handler drives it."""

    def send(self, channel: int, data: bytes) -> None: ...

    def finish(self) -> None: ...

    def abort(self) -> None: ...


def exit_status(argv: list[str], code: int) -> dict[str, Any]:
    if code == 0:
        return success()
    status = failure(
        500,
        "NonZeroExitCode",
        f"command terminated with non-zero exit code: command {shlex.join(argv)!r} exited with {code}",
        {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    )
    status.pop("code")  # the kubelet's exit Status carries no HTTP code
    return status


def status_bytes(argv: list[str], code: int) -> bytes:
    return json.dumps(exit_status(argv, code)).encode()
