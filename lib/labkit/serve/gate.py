"""Who may talk to the server: the bearer token, the Host it serves, and the media types kubectl sends.

The token is the one in the kubeconfig the server wrote (mode 0600), so only its owner can read it.
Checking Host refuses requests meant for another name (a web page that rebinds its own host name
to 127.0.0.1), and refusing the media types a browser form can send without asking (``text/plain``,
``application/x-www-form-urlencoded``, ``multipart/form-data``) keeps pages from posting to it at all.
"""

from __future__ import annotations

import hmac
from email.message import Message

from .status import ApiError

#: Media types of request bodies that kubectl and the Kubernetes clients send.
BODY_TYPES = frozenset(
    {
        "application/json",
        "application/yaml",
        "application/vnd.kubernetes.protobuf",
        "application/apply-patch+yaml",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/json-patch+json",
    }
)


def media_type(headers: Message) -> str:
    return (headers.get("Content-Type") or "").split(";")[0].strip().lower()


def check(headers: Message, token: str, address: str) -> None:
    """Raise the error to answer, or return when the request may go on."""
    hosts = headers.get_all("Host") or []
    if len(hosts) != 1 or hosts[0].strip().lower() != address:
        raise ApiError(400, "BadRequest", f"the Host header must be {address}")
    sent = headers.get("Authorization") or ""
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        raise ApiError(401, "Unauthorized", "Unauthorized")
    kind = media_type(headers)
    if kind and kind not in BODY_TYPES:  # no type at all is read as JSON, as the API server does
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{', '.join(sorted(BODY_TYPES))}",
        )
