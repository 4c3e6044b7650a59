"""Reading Kubernetes API errors: their status code and the server's one-line message."""

from __future__ import annotations

import json

from kubernetes.client.exceptions import ApiException


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an API error (typed or dynamic client), None for anything else."""
    if isinstance(exc, ApiException):
        return exc.status
    return None


def is_not_found(exc: BaseException) -> bool:
    return status_of(exc) == 404


def message_of(exc: BaseException) -> str:
    """The ``message`` of the Status body the API server sent, else the HTTP reason, else str(exc)."""
    if isinstance(exc, ApiException):
        body = exc.body
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        if body:
            try:
                message = json.loads(body).get("message")
            except (ValueError, AttributeError):
                message = None
            if message:
                return str(message)
        if exc.reason:
            return f"{exc.status} {exc.reason}" if exc.status else str(exc.reason)
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
