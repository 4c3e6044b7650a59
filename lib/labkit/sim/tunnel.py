"""How a forward proxy reports a CONNECT it accepted.

A client sends ``CONNECT host:port`` (``Connection.request``) with the connection it wants inside the
tunnel (``Connection.tunnel``). A proxy that refuses answers the CONNECT with its own reply. A proxy
that accepts returns the outcome of the tunnelled connection, marked with the status line it sent
first (``200 Connection established``), so the client can tell the two apart and print both header
blocks as curl does. Proxies on the way (a sidecar passing TCP through) hand the outcome back as is.
"""

from __future__ import annotations

from .messages import Outcome

_MARK = "CONNECT answered: "


def mark_established(outcome: Outcome, status: int = 200, reason: str = "Connection established") -> Outcome:
    outcome.notes.append(f"{_MARK}{status} {reason}")
    return outcome


def connect_answer(outcome: Outcome) -> tuple[int, str] | None:
    """The status and reason the proxy accepted the CONNECT with, or None when it did not."""
    for note in outcome.notes:
        if note.startswith(_MARK):
            status, _, reason = note[len(_MARK) :].partition(" ")
            return int(status), reason
    return None
