"""Shared helpers: field paths, short descriptions of values, and jsonschema errors as Problems."""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jsonschema

from ..errors import Problem

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

#: Go's time.ParseDuration grammar, which Kubernetes CEL ``duration()`` and Istio both accept: "3s", "1m30s".
_DURATION = re.compile(r"^[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def format_path(parts: Iterable[Any]) -> str:
    """``("spec", "tls", 0, "match", 0, "sniHosts", 0)`` -> ``spec.tls[0].match[0].sniHosts[0]``.

    Keys that are not plain words (label keys such as ``app.kubernetes.io/name``) are quoted:
    ``metadata.labels["app.kubernetes.io/name"]``.
    """
    out = ""
    for part in parts:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


def _short_repr() -> reprlib.Repr:
    # reprlib looks at a few items, two levels deep: the cost is bounded however large (or, through
    # YAML aliases, however self-multiplied) the value is. repr() would walk all of it.
    short = reprlib.Repr()
    short.maxlevel, short.maxdict, short.maxlist, short.maxtuple, short.maxset = 2, 4, 4, 4, 4
    short.maxstring, short.maxother, short.maxlong = 60, 60, 40
    return short


_SHORT = _short_repr()


def describe_value(value: Any, hide: bool = False) -> str:
    """A short, human name for what was found: ``the number 80``, ``a mapping {'a': None}``.

    ``hide``: name the type only (a Secret's values never appear in a message).
    """
    if hide:
        return "null" if value is None else f"{_kind_of(value)} (value not shown)"
    text = _SHORT.repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {text}"
    if isinstance(value, str):
        return f"the string {text}"
    if isinstance(value, Mapping):
        return f"a mapping {text}"
    if isinstance(value, (list, tuple)):
        return f"a list {text}"
    return f"a {type(value).__name__} {text}"


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def expected_message(expected: str, value: Any, hide: bool = False) -> str:
    """``expected a string, got a mapping {...}`` plus a hint for the usual YAML slips."""
    message = f"expected {expected}, got {describe_value(value, hide)}"
    if expected in ("a string", 'a duration string like "3s"') and isinstance(value, Mapping):
        if len(value) == 1 and next(iter(value.values())) is None:
            return message + " (a ':' at the end of the line makes YAML read a mapping; remove it)"
        return message
    if expected == "a string" and isinstance(value, (bool, int, float)):
        hint = " (YAML reads yes/no/true/false/on/off as booleans)" if isinstance(value, bool) else ""
        return message + f"{hint}; put it in quotes"
    if expected in ("an integer", "a number") and isinstance(value, str):
        return message + "; remove the quotes"
    return message


def is_duration(value: str) -> bool:
    return bool(_DURATION.match(value)) or value in ("0", "+0", "-0")


def duration_seconds(value: str) -> float:
    """Seconds in a Go duration string (call ``is_duration`` first)."""
    total = sum(float(num) * _UNIT_SECONDS[unit] for num, unit in _DURATION_PART.findall(value))
    return -total if value.startswith("-") else total


def at_most_one_message(names: Sequence[str], present: Sequence[str]) -> str:
    return f"set only one of {', '.join(names)} (found {', '.join(present)})"


# --------------------------------------------------------------------------- jsonschema -> Problem

_JSON_TYPES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
}


def _sort_key(path: Sequence[Any]) -> tuple[tuple[int, Any], ...]:
    return tuple((0, p) if isinstance(p, int) else (1, str(p)) for p in path)


def _type_names(types: Any) -> list[str]:
    types = [types] if isinstance(types, str) else list(types or [])
    return [_JSON_TYPES.get(t, t) for t in types if t != "null"]


def _at_most_one(schema: Any) -> list[str] | None:
    """Field names when ``schema`` is the "not anyOf required / required x / required y" pattern."""
    if not isinstance(schema, list) or not schema:
        return None
    first = schema[0]
    if not (isinstance(first, dict) and set(first) == {"not"} and "anyOf" in first["not"]):
        return None
    names = []
    for branch in first["not"]["anyOf"]:
        required = branch.get("required") if isinstance(branch, dict) else None
        if not required or len(required) != 1:
            return None
        names.append(required[0])
    return names


def _extra_keys(error: jsonschema.ValidationError) -> list[str]:
    instance, schema = error.instance, error.schema
    if not isinstance(instance, Mapping) or not isinstance(schema, Mapping):
        return []
    known = set(schema.get("properties") or {})
    patterns = [re.compile(p) for p in (schema.get("patternProperties") or {})]
    return [k for k in instance if k not in known and not any(p.search(str(k)) for p in patterns)]


def _fallback(error: jsonschema.ValidationError, hide: bool) -> str:
    """jsonschema's own message (it quotes the value, so it is hidden or cut short)."""
    if hide:
        return f"is not valid ({error.validator}; value not shown)"
    text = error.message
    return text if len(text) <= 200 else text[:197] + "..."


def error_items(error: jsonschema.ValidationError, hide: bool = False) -> list[tuple[tuple[Any, ...], str]]:
    """One jsonschema error as (path, message) pairs; unknown and missing fields name the field itself.

    ``hide``: the value is secret; messages name its type at most.
    """
    path = tuple(error.absolute_path)
    kind = error.validator

    def shown(value: Any) -> str:
        return "a value (not shown)" if hide else _SHORT.repr(value)

    if kind == "additionalProperties":
        extras = _extra_keys(error)
        if extras:
            return [((*path, key), "unknown field") for key in extras]
        return [(path, _fallback(error, hide))]
    if kind == "required":
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        missing = [k for k in (error.validator_value or []) if k not in instance]
        return [((*path, key), "required field missing") for key in missing] or [(path, _fallback(error, hide))]
    if kind == "type":
        names = _type_names(error.validator_value)
        expected = " or ".join(names) if names else "a different type"
        return [(path, expected_message(expected, error.instance, hide))]
    if kind == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value if v is not None)
        return [(path, f"must be one of {allowed}; got {shown(error.instance)}")]
    if kind in ("oneOf", "anyOf"):
        fields = _at_most_one(error.validator_value)
        if fields is not None and isinstance(error.instance, Mapping):
            present = [n for n in fields if n in error.instance]
            return [(path, at_most_one_message(fields, present))]
        context = list(error.context or [])
        if context and all(c.validator == "type" and not c.relative_path for c in context):
            found = {n for c in context for n in _type_names(c.validator_value)}
            ordered = [n for n in _JSON_TYPES.values() if n in found] + sorted(found - set(_JSON_TYPES.values()))
            return [(path, expected_message(" or ".join(ordered), error.instance, hide))]
        if context:
            best = jsonschema.exceptions.best_match(context)
            return error_items(best, hide) if best is not None else [(path, _fallback(error, hide))]
        return [(path, _fallback(error, hide))]
    if kind == "minimum":
        return [(path, f"must be at least {error.validator_value}; got {shown(error.instance)}")]
    if kind == "maximum":
        return [(path, f"must be at most {error.validator_value}; got {shown(error.instance)}")]
    if kind == "minItems":
        return [(path, f"needs at least {error.validator_value} item(s)")]
    if kind == "maxItems":
        return [(path, f"allows at most {error.validator_value} item(s)")]
    if kind == "minLength":
        return [(path, "must not be empty" if error.validator_value == 1 else _fallback(error, hide))]
    if kind == "maxLength":
        return [(path, f"is longer than {error.validator_value} characters")]
    if kind == "pattern":
        return [(path, f"{shown(error.instance)} does not match {error.validator_value}")]
    if kind == "uniqueItems":
        return [(path, "items must be unique")]
    return [(path, _fallback(error, hide))]


def schema_problems(
    validator: jsonschema.protocols.Validator, instance: Any, document: str, base: Sequence[Any] = ()
) -> list[Problem]:
    """Every error ``validator`` finds in ``instance``, as Problems sorted by field path."""
    items: list[tuple[tuple[Any, ...], str]] = []
    secret = isinstance(instance, Mapping) and instance.get("kind") == "Secret"
    for error in validator.iter_errors(instance):
        path = tuple(error.absolute_path)
        items.extend(error_items(error, hide=secret and path[:1] in (("data",), ("stringData",))))
    items.sort(key=lambda item: _sort_key(item[0]))
    out: list[Problem] = []
    for path, message in items:
        problem = Problem(document, format_path((*base, *path)), message)
        if problem not in out:
            out.append(problem)
    return out
