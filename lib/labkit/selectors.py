"""Kubernetes label selectors: the one place labkit decides whether labels match a selector.

Two spellings of the same thing (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/):
the string form ``kubectl -l`` and ``?labelSelector=`` take (``a=b``, ``a!=b``, ``a in (x,y)``,
``a notin (x)``, ``a``, ``!a``), and the ``LabelSelector`` object of specs (``matchLabels`` plus
``matchExpressions`` with ``In``, ``NotIn``, ``Exists``, ``DoesNotExist``). Both become requirements
that must all hold. A selector that does not parse raises SelectorError; it never matches by accident.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import LabkitError

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")

_KEY = r"[A-Za-z0-9_./-]+"
_VALUE = r"[A-Za-z0-9_.-]*"
_EQUALITY = re.compile(rf"^\s*({_KEY})\s*(==|=|!=)\s*({_VALUE})\s*$")
_SET = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s*\(([^)]*)\)\s*$")
_EXISTS = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")


class SelectorError(LabkitError, ValueError):
    """A label selector that is not valid Kubernetes syntax."""


@dataclass(frozen=True)
class Requirement:
    """One condition on one label key."""

    key: str
    operator: str  # one of OPERATORS
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        # NotIn (and !=) also select objects without the key, as the labels page says of `!=`.
        if self.operator == "In":
            return self.key in labels and labels[self.key] in self.values
        if self.operator == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels


Requirements = tuple[Requirement, ...]


def parse(text: str | None) -> Requirements:
    """The requirements of a string selector; an empty one selects everything."""
    return tuple(_requirement(term) for term in split_terms(text or ""))


def split_terms(text: str) -> list[str]:
    """A selector's terms: split on the commas that are not inside ``in (a,b)``."""
    terms, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t for t in terms if t.strip()]


def _requirement(term: str) -> Requirement:
    eq = _EQUALITY.match(term)
    if eq:
        key, op, value = eq.groups()
        return Requirement(key, "NotIn" if op == "!=" else "In", frozenset({value}))
    match = _SET.match(term)
    if match:
        key, op, listed = match.groups()
        values = frozenset(v.strip() for v in listed.split(",") if v.strip())
        if not values or not all(re.fullmatch(_VALUE, v) for v in values):
            raise SelectorError(f"unable to parse requirement: {term.strip()!r} (in and notin need values)")
        return Requirement(key, "In" if op == "in" else "NotIn", values)
    match = _EXISTS.match(term)
    if match:
        negate, key = match.groups()
        return Requirement(key, "DoesNotExist" if negate else "Exists")
    raise SelectorError(
        f"unable to parse requirement: {term.strip()!r}",
        hint="write key=value, key!=value, key in (a,b), key notin (a,b), key or !key",
    )


def from_label_selector(selector: Mapping[str, Any] | None) -> Requirements:
    """The requirements of a ``LabelSelector`` object; an empty or missing one selects everything."""
    selector = selector or {}
    unknown = set(selector) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise SelectorError(f"a LabelSelector has no field {', '.join(sorted(unknown))}")
    found = [Requirement(str(k), "In", frozenset({str(v)})) for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        found.append(_expression(expr))
    return tuple(found)


def _expression(expr: Mapping[str, Any]) -> Requirement:
    key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    if not key or op not in OPERATORS:
        raise SelectorError(
            f"matchExpressions entry {dict(expr)!r}: needs a key and an operator of {', '.join(OPERATORS)}"
        )
    # The API server rejects values with Exists/DoesNotExist and an empty list with In/NotIn.
    if op in ("In", "NotIn") and not values:
        raise SelectorError(f"matchExpressions {key} {op}: the values must be non-empty")
    if op in ("Exists", "DoesNotExist") and values:
        raise SelectorError(f"matchExpressions {key} {op}: the values must be empty")
    return Requirement(str(key), str(op), frozenset(str(v) for v in values))


def matches_all(requirements: Requirements, labels: Mapping[str, str] | None) -> bool:
    labels = labels or {}
    return all(r.matches(labels) for r in requirements)


def selector_matches(selector: str | Mapping[str, str] | None, labels: Mapping[str, str] | None) -> bool:
    """A string selector, or a plain label map (a Service's ``selector``, ``matchLabels``), against labels."""
    if not selector:
        return True
    if isinstance(selector, Mapping):
        return matches_all(from_label_selector({"matchLabels": selector}), labels)
    return matches_all(parse(selector), labels)


def label_selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """A ``LabelSelector`` object (``matchLabels`` and ``matchExpressions``) against labels."""
    return matches_all(from_label_selector(selector), labels)
