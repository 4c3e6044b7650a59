"""The simulated API server's object store, and the delayed view that proxies see.

Kubernetes objects change at once. Istio config reaches the proxies a moment later (istiod pushes it),
so the store keeps a second, "pushed" view that catches up after ``push_delay`` virtual seconds.
That is why checks retry instead of sleeping: the same thing happens on a real mesh.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..manifests import Ref, selector_matches

Key = tuple[str, str, str, str]  # (group, kind, namespace or "", name)


def group_of(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def key_of(ref: Ref) -> Key:
    return (group_of(ref.api_version), ref.kind, ref.namespace or "", ref.name)


@dataclass
class _Pending:
    due: float
    key: Key
    obj: dict[str, Any] | None  # None: deletion
    written: float = 0.0


@dataclass(frozen=True)
class PendingChange:
    """A write the proxies have not seen yet (istiod's push is still on its way)."""

    kind: str
    namespace: str
    name: str
    deleted: bool
    written: float
    due: float

    def describe(self, now: float) -> str:
        what = f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"
        verb = "deleted" if self.deleted else "applied"
        return (
            f"{what} was {verb} {now - self.written:.1f} s before this request; "
            f"proxies see it about {self.due - self.written:g} s after it is written"
        )


class ObjectStore:
    def __init__(self, now: Callable[[], float], push_delay: float, pushed: Callable[[Key], bool]) -> None:
        self._now = now
        self._objects: dict[Key, dict[str, Any]] = {}
        # The same objects by (group, kind): controllers select one kind on every write, and scanning
        # every stored object for it made applying many objects quadratic.
        self._by_kind: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
        self._pushed: dict[Key, dict[str, Any]] = {}
        self._pending: list[_Pending] = []
        self._is_pushed = pushed
        self.push_delay = push_delay
        self._version = 0

    @property
    def version(self) -> int:
        """The resourceVersion of the latest write (what a list reports as its own resourceVersion)."""
        return self._version

    # -- the API view
    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._version += 1
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(self._version)
        meta.setdefault("uid", f"sim-{self._version:08d}")
        meta.setdefault("creationTimestamp", "2026-01-01T09:00:00Z")
        key = key_of(Ref.of(obj))
        self._objects[key] = obj
        self._by_kind.setdefault(key[:2], {})[key[2:]] = obj
        self._schedule(key, obj)
        return copy.deepcopy(obj)

    def remove(self, ref: Ref) -> dict[str, Any] | None:
        key = key_of(ref)
        obj = self._objects.pop(key, None)
        self._by_kind.get(key[:2], {}).pop(key[2:], None)
        if obj is not None:
            self._schedule(key, None)
        return obj

    def refs_in(self, namespace: str) -> list[Ref]:
        """Every object in one namespace (what namespace deletion removes)."""
        return [Ref(f"{g}/v1" if g else "v1", k, ns, name) for (g, k, ns, name) in self._objects if ns == namespace]

    def get(self, ref: Ref) -> dict[str, Any] | None:
        obj = self._objects.get(key_of(ref))
        return copy.deepcopy(obj) if obj is not None else None

    def raw(self, group: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The stored object itself (no copy), for the simulator's own reads."""
        return self._objects.get((group, kind, namespace or "", name))

    def count(self, group: str, kind: str) -> int:
        """How many objects of one kind are stored (no scan)."""
        return len(self._by_kind.get((group, kind), {}))

    def select(
        self, group: str, kind: str, namespace: str | None = None, selector: str | None = None
    ) -> list[dict[str, Any]]:
        """Stored objects (no copies) of one kind, sorted by namespace and name."""
        out = []
        for (ns, _name), obj in sorted(self._by_kind.get((group, kind), {}).items()):
            if (namespace is None or ns == namespace) and selector_matches(selector, obj["metadata"].get("labels")):
                out.append(obj)
        return out

    # -- the proxies' view
    def _schedule(self, key: Key, obj: dict[str, Any] | None) -> None:
        if self._is_pushed(key):
            now = self._now()
            self._pending.append(_Pending(now + self.push_delay, key, copy.deepcopy(obj), now))
        elif obj is None:
            self._pushed.pop(key, None)
        else:
            self._pushed[key] = obj

    def pushed(self, group: str, kind: str) -> Iterator[dict[str, Any]]:
        """What the proxies currently know of one kind."""
        self._catch_up()
        for (g, k, _ns, _name), obj in sorted(self._pushed.items()):
            if g == group and k == kind:
                yield obj

    def pushed_group(self, group: str, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
        """What the proxies currently know of several kinds of one API group, in one pass."""
        self._catch_up()
        return [obj for (g, k, _ns, _name), obj in sorted(self._pushed.items()) if g == group and k in kinds]

    def pushed_one(self, group: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        self._catch_up()
        return self._pushed.get((group, kind, namespace, name))

    def pending(self) -> list[PendingChange]:
        """Writes still on their way to the proxies, oldest first."""
        self._catch_up()
        return [PendingChange(p.key[1], p.key[2], p.key[3], p.obj is None, p.written, p.due) for p in self._pending]

    def _catch_up(self) -> None:
        now = self._now()
        due = [p for p in self._pending if p.due <= now]
        self._pending = [p for p in self._pending if p.due > now]
        for p in due:
            if p.obj is None:
                self._pushed.pop(p.key, None)
            else:
                self._pushed[p.key] = p.obj
