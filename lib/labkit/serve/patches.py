"""The three PATCH formats: JSON merge patch, strategic merge patch, and JSON patch (RFC 6902).

Strategic merge is Kubernetes' own: like a merge patch, except that lists of built-in kinds with a
merge key (containers by name, ...) merge element by element instead of being replaced. Custom
resources (the Istio kinds) have no such keys, so the API server refuses strategic merge for them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonpatch
import jsonpointer

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
    """RFC 6902 (add, remove, replace, move, copy, test), by the ``jsonpatch`` library; ``target`` is
    left alone. A malformed patch is a 400, as the API server answers when it cannot decode one; a
    patch that does not apply (a missing path, an index outside the list, a failed test) a 422."""
    if not isinstance(operations, list):
        raise bad_request("a JSON patch must be a list of operations")
    try:
        return jsonpatch.JsonPatch(operations).apply(target)  # works on a deep copy
    except jsonpatch.InvalidJsonPatch as exc:
        raise bad_request(f"invalid JSON patch: {exc}") from None
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise ApiError(422, "Invalid", f"the JSON patch does not apply: {exc}") from None
