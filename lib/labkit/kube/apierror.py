"""Reading Kubernetes API errors: their status code and the server's one-line message."""

from __future__ import annotations

import json
import re

from kubernetes.client.exceptions import ApiException

#: How websocket-client reports a refused upgrade: "Handshake status 404 Not Found -+-+- {headers} -+-+- body".
_HANDSHAKE = re.compile(r"^Handshake status (\d{3})\b")
_SEPARATOR = " -+-+- "


def _handshake(exc: ApiException) -> tuple[int, str] | None:
    """(HTTP status, body) of an exec upgrade the API server refused, else None.

    ``kubernetes.stream`` turns every websocket failure into ``ApiException(status=0)`` whose reason
    is websocket-client's handshake dump, so the API server's Status (pod not found, no such
    container) is buried in that text instead of being the exception's status and body.
    """
    if exc.status or not exc.reason:
        return None
    match = _HANDSHAKE.match(str(exc.reason))
    if match is None:
        return None
    body = str(exc.reason).split(_SEPARATOR)[-1] if _SEPARATOR in str(exc.reason) else ""
    if body[:2] in ("b'", 'b"') and body[-1:] == body[1:2]:  # older websocket-client printed the bytes
        body = body[2:-1]
    return int(match.group(1)), body


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an API error (typed or dynamic client), None for anything else."""
    if isinstance(exc, ApiException):
        refused = _handshake(exc)
        return refused[0] if refused else exc.status
    return None


def is_not_found(exc: BaseException) -> bool:
    return status_of(exc) == 404


def message_of(exc: BaseException) -> str:
    """The ``message`` of the Status body the API server sent, else the HTTP reason, else str(exc)."""
    if isinstance(exc, ApiException):
        refused = _handshake(exc)
        body = refused[1] if refused else exc.body
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        if body:
            try:
                message = json.loads(body).get("message")
            except (ValueError, AttributeError):
                message = None
            if message:
                return str(message)
        if refused:
            return str(exc.reason).split(_SEPARATOR)[0]
        if exc.reason:
            return f"{exc.status} {exc.reason}" if exc.status else str(exc.reason)
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
