"""The JSONPath of CRD printer columns: ``.a.b``, ``[*]``, ``[0]`` and ``[?(@.type=="Ready")]``.

That is the subset CRDs use (apiextensions validates columns as "simple" JSONPath); anything else
finds nothing, and the cell is empty, as when the field is absent.
"""

from __future__ import annotations

import json
import re
from typing import Any

MISSING = object()
_STEP = re.compile(r"""\.([A-Za-z0-9_-]+)|\[\*\]|\[(\d+)\]|\[\?\(@\.([A-Za-z0-9_.-]+)\s*==\s*["']([^"']*)["']\)\]""")


def _steps(path: str) -> list[re.Match[str]] | None:
    steps, at = [], 0
    while at < len(path):
        match = _STEP.match(path, at)
        if match is None:
            return None
        steps.append(match)
        at = match.end()
    return steps


def _field(value: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return MISSING
        value = value[key]
    return value


def results(obj: Any, path: str) -> list[Any]:
    """Every value ``path`` finds in ``obj``, in order."""
    steps = _steps(path)
    if steps is None:
        return []
    found = [obj]
    for step in steps:
        key, index, filter_key, filter_value = step.groups()
        after: list[Any] = []
        for value in found:
            if key is not None:
                if isinstance(value, dict) and key in value:
                    after.append(value[key])
            elif index is not None:
                if isinstance(value, list) and int(index) < len(value):
                    after.append(value[int(index)])
            elif isinstance(value, list):
                if filter_key is None:
                    after.extend(value)
                else:
                    after.extend(v for v in value if _field(v, filter_key) == filter_value)
        found = after
    return found


def first(obj: Any, path: str) -> Any:
    """The first value found, or ``MISSING``."""
    found = results(obj, path)
    return found[0] if found else MISSING


def text(value: Any) -> str:
    """How Kubernetes' JSONPath printer writes a value: lists and objects as compact JSON, the rest as Go
    prints them."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
