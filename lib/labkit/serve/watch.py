"""``?watch=true``: the changes to the store, as ADDED/MODIFIED/DELETED events.

The simulator has no change feed, so the server keeps one: every write through the API snapshots the
store before and after (a write may change more than its object: a Deployment's pods come and go with
it) and appends the differences to a journal. A watch sends the journal's entries that match it, as
they come, so even a create followed at once by a delete shows both events, as on a real cluster.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Key = tuple[str, str, str, str]  # (group, kind, namespace, name)
Snapshot = dict[Key, dict[str, Any]]
#: Changes kept for watches that fall behind (a watch is usually only a few changes behind).
KEEP = 10000


@dataclass(frozen=True)
class Change:
    seq: int
    type: str  # ADDED, MODIFIED or DELETED
    key: Key
    obj: dict[str, Any]  # the stored object after the change (before it, for DELETED)


def _rv(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class Journal:
    """The store's changes in order. ``snapshot`` lists every stored object by key (called with the sim locked)."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot
        self._changes: deque[Change] = deque(maxlen=KEEP)
        self._seq = 0
        self._changed = threading.Condition()

    @property
    def position(self) -> int:
        return self._seq

    def snapshot(self) -> Snapshot:
        """What to compare after a write. The objects are the store's own: a removed one keeps its last state."""
        return self._snapshot()

    def record(self, before: Snapshot) -> None:
        """Append what changed since ``before`` (taken with ``snapshot`` just before the write)."""
        versions = {key: _rv(obj) for key, obj in before.items()}
        after = self._snapshot()
        found = [(key, obj) for key, obj in after.items() if versions.get(key) != _rv(obj)]
        with self._changed:
            for key, obj in found:
                self._append("ADDED" if key not in before else "MODIFIED", key, obj)
            for key in before.keys() - after.keys():
                self._append("DELETED", key, before[key])
            self._changed.notify_all()

    def _append(self, type_: str, key: Key, obj: dict[str, Any]) -> None:
        self._seq += 1
        self._changes.append(Change(self._seq, type_, key, copy.deepcopy(obj)))

    def since(self, seq: int) -> Iterator[Change]:
        with self._changed:
            changes = [c for c in self._changes if c.seq > seq]
        yield from changes

    def wait(self, seq: int, timeout: float) -> None:
        """Block until a change after ``seq`` is recorded, or ``timeout`` seconds pass."""
        with self._changed:
            self._changed.wait_for(lambda: self._seq > seq, timeout)


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
        for change in journal.since(position):
            position = change.seq
            shown = event(change)
            if shown is not None:
                send(shown)
