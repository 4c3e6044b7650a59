"""Label selectors (equality- and set-based, as ``kubectl -l`` takes them) and field selectors."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from .status import bad_request

Matcher = Callable[[Mapping[str, Any]], bool]

_SET = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQUALITY = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_.-]*)\s*$")


def _terms(text: str) -> list[str]:
    """Split on the commas that are not inside ``in (a,b)``."""
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t for t in terms if t.strip()]


def _label_term(term: str) -> Callable[[Mapping[str, str]], bool]:
    eq = _EQUALITY.match(term)
    if eq:
        key, op, value = eq.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    match = _SET.match(term)
    if not match:
        raise bad_request(f"unable to parse requirement: {term.strip()!r}")
    negate, key, op, values = match.groups()
    if op:
        if negate:
            raise bad_request(f"unable to parse requirement: {term.strip()!r}")
        allowed = {v.strip() for v in values.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in allowed
        return lambda labels: labels.get(key) not in allowed
    if negate:
        return lambda labels: key not in labels
    return lambda labels: key in labels


def label_matcher(selector: str | None) -> Matcher:
    """A predicate on objects for ``labelSelector``; raises a 400 ApiError when it does not parse."""
    checks = [_label_term(t) for t in _terms(selector or "")]

    def matches(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(check(labels) for check in checks)

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
    for term in _terms(selector or ""):
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
