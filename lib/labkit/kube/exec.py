"""Running a command in a container over the exec websocket, with a deadline and a real exit code.

``kubernetes.stream.stream`` swaps the request method of the ApiClient behind the API object it is
given while it connects, so the CoreV1Api passed here must sit on an ApiClient used for nothing else.
The exit code comes from the error channel (3), where the API server writes a ``Status`` when the
command ends: ``Success``, or ``Failure`` with reason ``NonZeroExitCode`` and the code as a cause.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from websocket import WebSocketException

from ..backend import ExecResult
from ..errors import LabkitError
from .apierror import message_of

ERROR_CHANNEL = 3
#: How long one ``update`` may block, so the deadline is checked at least this often.
POLL = 0.5
#: Exit code reported when the command was still running at the deadline (as GNU ``timeout`` does).
TIMEOUT_EXIT_CODE = 124
#: Exit codes a shell reports when a command could not run / was not found.
CANNOT_RUN, NOT_FOUND = 126, 127

_connect_lock = threading.Lock()


@dataclass(frozen=True)
class ExitStatus:
    """What the error channel said: the exit code (None when it said nothing) and any failure message."""

    code: int | None
    message: str = ""


def parse_status(text: str) -> ExitStatus:
    """Read the ``Status`` document (JSON, or YAML) from the exec error channel."""
    if not text or not text.strip():
        return ExitStatus(None)
    try:
        status = yaml.safe_load(text)
    except yaml.YAMLError:
        return ExitStatus(CANNOT_RUN, text.strip())
    if not isinstance(status, dict):
        return ExitStatus(CANNOT_RUN, text.strip())
    if status.get("status") == "Success":
        return ExitStatus(0)
    message = str(status.get("message") or text.strip())
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                try:
                    return ExitStatus(int(cause.get("message")))
                except (TypeError, ValueError):
                    break
    # The command never ran (no such executable, container gone, ...): say why, as a shell would.
    code = NOT_FOUND if "not found" in message.lower() else CANNOT_RUN
    return ExitStatus(code, message)


def _read(ws: Any, channel: int) -> str:
    data = ws.read_channel(channel, timeout=0)
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data or ""


def run(
    core: Any,
    namespace: str,
    pod: str,
    container: str,
    argv: list[str],
    timeout: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    timeout_exit_code: int = TIMEOUT_EXIT_CODE,
    kubectl: str = "kubectl",
) -> tuple[ExecResult, bool]:
    """Run ``argv`` in ``namespace/pod`` ``container``; return the result and whether the deadline hit.

    ``core`` is a CoreV1Api on a dedicated ApiClient (see the module docstring).
    """
    start = clock()
    deadline = start + timeout
    try:
        with _connect_lock:
            ws = stream(
                core.connect_get_namespaced_pod_exec,
                pod,
                namespace,
                command=list(argv),
                container=container,
                stderr=True,
                stdin=False,
                stdout=True,
                tty=False,
                _preload_content=False,
            )
    except ApiException as exc:
        raise LabkitError(
            f"cannot exec in {namespace}/{pod} container {container}: {message_of(exc)}",
            hint=f"Check the pod and container: {kubectl} -n {namespace} get pod {pod} "
            "-o jsonpath='{.spec.containers[*].name}'",
        ) from None

    stdout: list[str] = []
    stderr: list[str] = []
    status_text = ""
    timed_out = False
    lost = ""
    try:
        try:
            while ws.is_open() and not status_text:
                remaining = deadline - clock()
                if remaining <= 0:
                    timed_out = True
                    break
                ws.update(timeout=min(POLL, remaining))
                stdout.append(_read(ws, 1))
                stderr.append(_read(ws, 2))
                status_text += _read(ws, ERROR_CHANNEL)
        except (WebSocketException, OSError) as exc:
            # WSClient.update() lets websocket-client's errors escape when the connection drops without a
            # close frame (API server restart, node gone). Closing it first makes the reads below return
            # what was buffered instead of touching the dead socket again.
            ws.close()
            lost = f"labkit: the exec stream broke before the exit status arrived ({exc or type(exc).__name__})"
        # Whatever arrived with (or just before) the close.
        stdout.append(_read(ws, 1))
        stderr.append(_read(ws, 2))
        status_text += _read(ws, ERROR_CHANNEL)
    finally:
        ws.close()

    status = parse_status(status_text)
    err = "".join(stderr)
    if status.message:
        err = _append(err, status.message)
    code = status.code
    timed_out = timed_out and code is None  # an exit status that made it in time wins
    if timed_out:
        code = timeout_exit_code
        err = _append(
            err,
            f"labkit: no exit status after {timeout:g}s; the command was still running and was "
            f"abandoned (reported as exit code {code}, a timeout)",
        )
    elif code is None:
        code = CANNOT_RUN
        err = _append(err, lost or "labkit: the exec stream closed without an exit status")
    result = ExecResult(stdout="".join(stdout), stderr=err, exit_code=code, elapsed=clock() - start)
    return result, timed_out


def _append(text: str, line: str) -> str:
    if text and not text.endswith("\n"):
        text += "\n"
    return text + line + "\n"
