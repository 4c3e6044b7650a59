"""``?watch=true``: the changes to the store, as ADDED/MODIFIED/DELETED events.

The simulator has no change feed, so the server makes one: ``observe`` wraps the store's ``put`` and
``remove`` so every write, by the API or by the simulator's own controllers (a Deployment's pods come
and go with it), is appended to a journal as it happens. Each write costs the same however many
objects the store holds. A watch sends the journal's entries that match it, as they come, so even a
create followed at once by a delete shows both events, as on a real cluster.

The journal is bounded in entries and in bytes: deleted objects' bodies are dropped with the oldest
entries, and a watch that falls further behind than the journal reaches gets 410 Gone (``Expired``),
as from the API server, and lists again.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..manifests import Ref
from ..sim.store import Key, ObjectStore, key_of
from .status import failure

#: Changes kept for watches that fall behind (a watch is usually only a few changes behind).
KEEP = 10000
#: Bytes of object bodies (as JSON) the journal keeps at most.
KEEP_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Change:
    seq: int
    type: str  # ADDED, MODIFIED or DELETED
    key: Key
    obj: dict[str, Any]  # the stored object after the change (before it, for DELETED)
    size: int = 0  # bytes of ``obj`` as JSON, for the journal's budget


def _rv(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class Journal:
    """The store's changes in order, the oldest dropped past ``keep`` entries or ``keep_bytes`` bytes."""

    def __init__(self, keep: int = KEEP, keep_bytes: int = KEEP_BYTES) -> None:
        self._changes: deque[Change] = deque()
        self._bytes = 0
        self._keep, self._keep_bytes = keep, keep_bytes
        self._seq = 0
        self._changed = threading.Condition()

    @property
    def position(self) -> int:
        return self._seq

    @property
    def retained_bytes(self) -> int:
        return self._bytes

    def append(self, type_: str, key: Key, obj: dict[str, Any]) -> None:
        """Record one change; ``obj`` must not change afterwards (the store hands over a copy)."""
        size = len(json.dumps(obj, default=str))
        with self._changed:
            self._seq += 1
            self._changes.append(Change(self._seq, type_, key, obj, size))
            self._bytes += size
            while len(self._changes) > self._keep or (self._bytes > self._keep_bytes and len(self._changes) > 1):
                self._bytes -= self._changes.popleft().size
            self._changed.notify_all()

    def since(self, seq: int) -> Iterator[Change]:
        """The changes after ``seq``; raises ``Expired`` when some of them are no longer kept."""
        with self._changed:
            if self._changes and self._changes[0].seq > seq + 1:
                raise Expired(seq, self._changes[0].seq)
            changes = [c for c in self._changes if c.seq > seq]
        yield from changes

    def recent(self, seq: int) -> list[Change]:
        """The changes after ``seq``, found from the newest end (cheap when ``seq`` is recent)."""
        with self._changed:
            found = []
            for change in reversed(self._changes):
                if change.seq <= seq:
                    break
                found.append(change)
        return found[::-1]

    def wait(self, seq: int, timeout: float) -> None:
        """Block until a change after ``seq`` is recorded, or ``timeout`` seconds pass."""
        with self._changed:
            self._changed.wait_for(lambda: self._seq > seq, timeout)


class Expired(Exception):
    def __init__(self, seq: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {seq} ({oldest - 1})")


def observe(store: ObjectStore, journal: Journal) -> None:
    """Append every write to ``store`` to ``journal``, whoever makes it (the API or the simulator)."""
    put, remove = store.put, store.remove

    def observed_put(obj: dict[str, Any]) -> dict[str, Any]:
        key = key_of(Ref.of(obj))
        existed = store.raw(key[0], key[1], key[2] or None, key[3]) is not None
        stored = put(obj)  # a copy of what was stored: the journal may keep it as it is
        journal.append("MODIFIED" if existed else "ADDED", key, stored)
        return stored

    def observed_remove(ref: Ref) -> dict[str, Any] | None:
        removed = remove(ref)
        if removed is not None:  # no longer in the store: the journal may keep it as it is
            journal.append("DELETED", key_of(ref), removed)
        return removed

    store.put = observed_put  # type: ignore[method-assign]
    store.remove = observed_remove  # type: ignore[method-assign]


def stream(
    journal: Journal,
    start: int,
    initial: list[dict[str, Any]],
    event: Callable[[Change], dict[str, Any] | None],
    send: Callable[[dict[str, Any]], None],
    *,
    since: str | None,
    timeout: float,
    stop: threading.Event,
) -> None:
    """Send events until ``timeout`` seconds pass, ``stop`` is set, or ``send`` raises (client gone).

    ``initial`` are the objects that matched when the watch began (journal position ``start``). A watch
    from resourceVersion "" or "0" gets them all as ADDED first; from a later version, only those
    written after it, as MODIFIED. ``event`` turns a journal change into the event to send, or None.
    """
    after = int(since) if since and since.isdigit() else 0
    for obj in initial:
        if not since or since == "0":
            send({"type": "ADDED", "object": obj})
        elif int(_rv(obj) or 0) > after:
            send({"type": "MODIFIED", "object": obj})
    position = start
    deadline = time.monotonic() + timeout
    while not stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
        journal.wait(position, min(remaining, 0.5))
        try:
            changes = list(journal.since(position))
        except Expired as gone:  # the client lists again and watches from there
            send({"type": "ERROR", "object": failure(410, "Expired", str(gone))})
            return
        for change in changes:
            position = change.seq
            shown = event(change)
            if shown is not None:
                send(shown)
