"""The three PATCH formats: JSON merge patch, strategic merge patch, and JSON patch.

Strategic merge is Kubernetes' own: like a merge patch, except that lists of built-in kinds with a
merge key (containers by name, ...) merge element by element instead of being replaced. Custom
resources (the Istio kinds) have no such keys, so the API server refuses strategic merge for them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..patch import merge_patch
from .status import ApiError, bad_request

__all__ = ["MERGE_KEYS", "json_patch", "merge_key", "merge_patch", "strategic_merge"]

#: Merge keys of built-in list fields, by field name (the labs' kinds only). ``ports`` is keyed by
#: ``containerPort`` in a container and by ``port`` in a Service; the element tells which.
MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "imagePullSecrets": ("name",),
    "ownerReferences": ("uid",),
    "conditions": ("type",),
    "containerStatuses": ("name",),
    "ports": ("containerPort", "port"),
}
_DIRECTIVE = "$patch"
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
_RETAIN = "$retainKeys"


def merge_key(field: str, items: list[Any]) -> str | None:
    """The key that identifies elements of list ``field`` (None: the list is atomic)."""
    for key in MERGE_KEYS.get(field, ()):
        if items and all(isinstance(i, Mapping) and key in i for i in items):
            return key
    return None


def strategic_merge(target: Any, patch: Any) -> Any:
    """Apply a strategic merge patch (the subset kubectl sends: maps, keyed lists, $patch, $retainKeys)."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    directive = patch.get(_DIRECTIVE)
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != _DIRECTIVE}
    if directive == "delete":
        return None
    result = copy.deepcopy(dict(target)) if isinstance(target, Mapping) else {}
    retain = patch.get(_RETAIN)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    for key, value in patch.items():
        if key in (_DIRECTIVE, _RETAIN) or key.startswith(_ORDER):
            continue  # ordering hints change nothing we store
        if key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE) :]
            result[field] = [v for v in result.get(field) or [] if v not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    return result


def _merge_list(field: str, current: Any, patch: list[Any]) -> list[Any]:
    current = current if isinstance(current, list) else []
    key = merge_key(field, [p for p in patch if isinstance(p, Mapping)] or current)
    if key is None or not all(isinstance(p, Mapping) for p in patch):
        return copy.deepcopy(patch)
    if any(p.get(_DIRECTIVE) == "replace" for p in patch):
        return [{k: v for k, v in p.items() if k != _DIRECTIVE} for p in patch if p.get(_DIRECTIVE) != "replace"]
    out = copy.deepcopy(current)
    for item in patch:
        index = next((i for i, c in enumerate(out) if isinstance(c, Mapping) and c.get(key) == item.get(key)), None)
        if item.get(_DIRECTIVE) == "delete":
            if index is not None:
                del out[index]
        elif index is None:
            out.append(strategic_merge({}, item))
        else:
            out[index] = strategic_merge(out[index], item)
    return out


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902: add, remove, replace, move, copy, test."""
    if not isinstance(operations, list):
        raise bad_request("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, Mapping) or "op" not in op or "path" not in op:
            raise bad_request(f"invalid JSON patch operation: {op!r}")
        name, path = op["op"], _pointer(op["path"])
        if name == "add":
            doc = _put(doc, path, copy.deepcopy(op.get("value")), insert=True)
        elif name == "remove":
            doc, _ = _take(doc, path)
        elif name == "replace":
            _take(doc, path)
            doc = _put(doc, path, copy.deepcopy(op.get("value")), insert=False)
        elif name in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = _get(doc, source)
            if name == "move":
                doc, value = _take(doc, source)
            doc = _put(doc, path, copy.deepcopy(value), insert=True)
        elif name == "test":
            if _get(doc, path) != op.get("value"):
                raise ApiError(422, "Invalid", f"the test operation at {op['path']} failed")
        else:
            raise bad_request(f"unknown JSON patch operation {name!r}")
    return doc


def _pointer(text: str) -> list[str]:
    if text == "":
        return []
    if not text.startswith("/"):
        raise bad_request(f"invalid JSON pointer {text!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in text[1:].split("/")]


def _parent(doc: Any, path: list[str]) -> Any:
    for part in path[:-1]:
        doc = _child(doc, part)
    return doc


def _child(doc: Any, part: str) -> Any:
    try:
        return doc[int(part)] if isinstance(doc, list) else doc[part]
    except (KeyError, IndexError, ValueError, TypeError):
        raise ApiError(422, "Invalid", f"the JSON patch path does not exist: {part!r} is missing") from None


def _get(doc: Any, path: list[str]) -> Any:
    for part in path:
        doc = _child(doc, part)
    return doc


def _put(doc: Any, path: list[str], value: Any, *, insert: bool) -> Any:
    if not path:
        return value
    parent, last = _parent(doc, path), path[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if insert:
            parent.insert(index, value)
        else:
            parent[index] = value
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise ApiError(422, "Invalid", f"cannot set {last!r} inside a {type(parent).__name__}")
    return doc


def _take(doc: Any, path: list[str]) -> tuple[Any, Any]:
    if not path:
        return None, doc
    parent, last = _parent(doc, path), path[-1]
    value = _child(parent, last)
    if isinstance(parent, list):
        del parent[int(last)]
    else:
        del parent[last]
    return doc, value
