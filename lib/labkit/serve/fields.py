"""Managed fields and server-side apply, the way the API server tracks who set what.

Every write records which fields its manager set, in ``metadata.managedFields`` (``FieldsV1``). A
server-side apply then owns exactly the fields of its configuration: applying again without a field
removes it (unless another manager owns it too), and a field another manager set to a different value
is a conflict unless the apply is forced. Lists of built-in kinds with a merge key (containers by
name, ...) are tracked element by element; every other list, and every list of a custom resource, is
atomic.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from .patches import merge_key

Path = tuple[str, ...]
MISSING = object()
#: Fields that name the object; they are never owned.
IDENTITY: frozenset[Path] = frozenset(
    {("f:apiVersion",), ("f:kind",), ("f:metadata", "f:name"), ("f:metadata", "f:namespace")}
)
#: Metadata the server sets itself.
SERVER_METADATA = frozenset(
    {"resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "deletionTimestamp", "selfLink"}
)
APPLY, UPDATE = "Apply", "Update"


def _key_segment(key: str, value: Any) -> str:
    return "k:" + json.dumps({key: value}, separators=(",", ":"), sort_keys=True)


def field_set(obj: Mapping[str, Any] | None, associative: bool = True) -> set[Path]:
    """The leaf fields ``obj`` sets, as FieldsV1 paths (``("f:metadata", "f:labels", "f:app")``)."""
    out: set[Path] = set()

    def walk(value: Any, path: Path, name: str) -> None:
        if isinstance(value, Mapping) and value:
            for k, v in value.items():
                if path == () and k == "status":
                    continue  # written through the status subresource, never by these requests
                if path == ("f:metadata",) and k in SERVER_METADATA:
                    continue
                walk(v, (*path, f"f:{k}"), k)
            return
        key = merge_key(name, value) if associative and isinstance(value, list) else None
        if key is None:
            out.add(path)
            return
        for item in value:
            element = (*path, _key_segment(key, item[key]))
            out.add((*element, "."))
            for k, v in item.items():
                walk(v, (*element, f"f:{k}"), k)

    walk(dict(obj or {}), (), "")
    out.discard(())
    return out - IDENTITY


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for segment in path:
            node = node.setdefault(segment, {})
    return tree


def from_fields_v1(tree: Mapping[str, Any] | None) -> set[Path]:
    out: set[Path] = set()

    def walk(node: Mapping[str, Any], path: Path) -> None:
        if not node:
            if path:
                out.add(path)
            return
        for segment, child in node.items():
            walk(child if isinstance(child, Mapping) else {}, (*path, segment))

    walk(tree or {}, ())
    return out


def lookup(obj: Any, path: Path) -> Any:
    """The value at ``path`` in ``obj``, or MISSING."""
    node = obj
    for segment in path:
        if segment == ".":
            continue
        if segment.startswith("f:") and isinstance(node, Mapping):
            node = node.get(segment[2:], MISSING)
        elif segment.startswith("k:") and isinstance(node, list):
            wanted = json.loads(segment[2:])
            node = next((i for i in node if isinstance(i, Mapping) and _matches(i, wanted)), MISSING)
        else:
            return MISSING
        if node is MISSING:
            return MISSING
    return node


def _matches(item: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return all(item.get(k) == v for k, v in wanted.items())


def remove(obj: Any, path: Path) -> None:
    """Delete the field (or, for ``k:.../.``, the list element) at ``path``; a missing path is fine."""
    if path and path[-1] == ".":
        path = path[:-1]
    if not path:
        return
    parent = lookup(obj, path[:-1])
    last = path[-1]
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(parent, list):
        wanted = json.loads(last[2:])
        parent[:] = [i for i in parent if not (isinstance(i, Mapping) and _matches(i, wanted))]


def _is_key_field(path: Path) -> bool:
    """``(..., 'k:{"name":"a"}', 'f:name')``: the field that identifies its list element."""
    return len(path) >= 2 and path[-2].startswith("k:") and path[-1][2:] in json.loads(path[-2][2:])


def dotted(path: Path) -> str:
    """How conflicts name a field: ``.spec.containers[name="sleep"].image``."""
    out = ""
    for segment in path:
        if segment.startswith("f:"):
            out += "." + segment[2:]
        elif segment.startswith("k:"):
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(segment[2:]).items()) + "]"
    return out


def apply_merge(live: Any, config: Any, field: str = "", associative: bool = True) -> Any:
    """Merge an applied configuration into the live object: maps and keyed lists merge, the rest replaces."""
    if isinstance(config, Mapping) and isinstance(live, Mapping):
        result = copy.deepcopy(dict(live))
        for k, v in config.items():
            result[k] = apply_merge(result.get(k), v, k, associative)
        return result
    if isinstance(config, list) and isinstance(live, list) and associative:
        key = merge_key(field, config)
        if key is not None and merge_key(field, live) == key:
            merged: list[Any] = []
            for item in config:
                current = next((i for i in live if i.get(key) == item.get(key)), None)
                merged.append(apply_merge(current, item, field, associative) if current else copy.deepcopy(item))
            # Elements another manager added stay, after the applied ones.
            merged += [copy.deepcopy(i) for i in live if not any(i.get(key) == c.get(key) for c in config)]
            return merged
    return copy.deepcopy(config)


def _entries(obj: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [dict(e) for e in ((obj or {}).get("metadata") or {}).get("managedFields") or [] if isinstance(e, Mapping)]


def _entry(manager: str, operation: str, api_version: str, now: str, paths: set[Path]) -> dict[str, Any]:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(paths),
    }


def _owned(entry: Mapping[str, Any]) -> set[Path]:
    return from_fields_v1(entry.get("fieldsV1"))


def server_side_apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str,
    *,
    force: bool,
    api_version: str,
    now: str,
    associative: bool = True,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The object after ``manager`` applies ``config``, and the conflicts (when not forced, nothing changed)."""
    applied = field_set(config, associative)
    entries = _entries(live)
    mine = next((e for e in entries if e["manager"] == manager and e["operation"] == APPLY), None)
    others = [e for e in entries if e is not mine]
    conflicts: list[tuple[str, str]] = []
    clashes: dict[int, set[Path]] = {}
    for index, entry in enumerate(others):
        clash = {p for p in applied & _owned(entry) if p[-1] != "." and lookup(live, p) != lookup(config, p)}
        if clash:
            clashes[index] = clash
            conflicts += [(entry["manager"], dotted(p)) for p in sorted(clash)]
    if conflicts and not force:
        return copy.deepcopy(live or {}), conflicts

    kept: list[dict[str, Any]] = []
    for index, entry in enumerate(others):
        owned = _owned(entry) - clashes.get(index, set())
        if owned:
            kept.append({**entry, "fieldsV1": to_fields_v1(owned)})
    owned_by_others = set().union(*(_owned(e) for e in kept)) if kept else set()

    result = copy.deepcopy(live) if live else {}
    dropped = (_owned(mine) if mine else set()) - applied
    # Whole list elements first, then single fields; an element's key field goes only with the element.
    for path in sorted(dropped, key=lambda p: (p[-1] != ".", -len(p))):
        prefix = path[:-1] if path[-1] == "." else path
        if not _is_key_field(path) and not any(o[: len(prefix)] == prefix for o in owned_by_others):
            remove(result, path)
    result = apply_merge(result, config, associative=associative)
    result.setdefault("metadata", {})["managedFields"] = [
        *kept,
        _entry(manager, APPLY, api_version, now, applied),
    ]
    return result, conflicts


def record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    *,
    api_version: str,
    now: str,
    associative: bool = True,
) -> None:
    """After a create, update or patch: ``manager`` owns what it changed; nobody owns what it removed."""
    before, after = field_set(old, associative), field_set(new, associative)
    changed = {p for p in after if p not in before or lookup(old, p) != lookup(new, p)}
    removed = before - after
    entries = []
    mine: set[Path] = set()
    for entry in _entries(old):
        owned = _owned(entry)
        if entry["manager"] == manager and entry["operation"] == UPDATE:
            mine = owned - removed
            continue
        owned -= changed | removed
        if owned:
            entries.append({**entry, "fieldsV1": to_fields_v1(owned)})
    mine |= changed
    if mine:
        entries.append(_entry(manager, UPDATE, api_version, now, mine))
    new.setdefault("metadata", {})["managedFields"] = entries
