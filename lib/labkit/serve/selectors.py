"""``labelSelector`` and ``fieldSelector`` as list and watch requests take them.

Label selectors are labkit.selectors' (one implementation for the whole package); this module turns
them into predicates on stored objects and a bad one into the API server's 400.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..selectors import SelectorError, matches_all, parse, split_terms
from .status import bad_request

Matcher = Callable[[Mapping[str, Any]], bool]

_EQUALITY = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)\s*$")


def label_matcher(selector: str | None) -> Matcher:
    """A predicate on objects for ``labelSelector``; raises a 400 ApiError when it does not parse."""
    try:
        requirements = parse(selector)
    except SelectorError as exc:
        raise bad_request(str(exc).splitlines()[0]) from exc

    def matches(obj: Mapping[str, Any]) -> bool:
        return matches_all(requirements, (obj.get("metadata") or {}).get("labels"))

    return matches


def _field(obj: Mapping[str, Any], path: str) -> str | None:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return None if node is None else str(node)


def field_matcher(selector: str | None) -> Matcher:
    """A predicate for ``fieldSelector`` (``metadata.name=x,status.phase!=Failed``)."""
    checks: list[Callable[[Mapping[str, Any]], bool]] = []
    for term in split_terms(selector or ""):
        match = _EQUALITY.match(term)
        if not match:
            raise bad_request(f"invalid field selector: {term.strip()!r}")
        path, op, value = match.groups()
        if op == "!=":
            checks.append(functools.partial(_field_differs, path=path, value=value))
        else:
            checks.append(functools.partial(_field_equals, path=path, value=value))

    def matches(obj: Mapping[str, Any]) -> bool:
        return all(check(obj) for check in checks)

    return matches


def _field_equals(obj: Mapping[str, Any], *, path: str, value: str) -> bool:
    return (_field(obj, path) or "") == value


def _field_differs(obj: Mapping[str, Any], *, path: str, value: str) -> bool:
    return (_field(obj, path) or "") != value
