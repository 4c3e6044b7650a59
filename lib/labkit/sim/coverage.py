"""Which Istio fields the offline simulator models, and the check that refuses documents using the rest.

``coverage.yaml`` beside this module lists every ``spec`` field path of the networking kinds (and of the
Gateway API kinds) the simulator reads (``spec.http[].fault.abort.httpStatus``; ``[]`` is a list item,
``{}`` a map value), each marked
``modelled`` (with the test that proves it), ``no-effect-offline`` (with the reason) or ``not-modelled``;
``values``, ``max_items`` or ``pattern`` can narrow an entry to what the simulator really handles.
A document that sets a ``not-modelled`` field (or a value outside its entry), or is of an Istio kind the
simulator does not model, is refused by name: a silently ignored field would give a confident wrong answer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import ManifestError, Problem
from ..meshconfig import ISTIO_NETWORKING_GROUP

TABLE_FILE = Path(__file__).with_name("coverage.yaml")

#: The kinds whose fields the table classifies one by one (the other Istio kinds are refused whole).
KINDS = ("ServiceEntry", "VirtualService", "DestinationRule", "Gateway", "Sidecar")
#: The API groups whose kinds are either in KINDS or refused.
ISTIO_GROUPS = (ISTIO_NETWORKING_GROUP, "security.istio.io", "telemetry.istio.io", "extensions.istio.io")
#: The served version whose schema the table follows.
VERSION = "v1"
#: The Gateway API kinds classified field by field; the table names them ``group/Kind``, since the
#: Gateway API has a Gateway of its own.
GATEWAY_API_GROUP = "gateway.networking.k8s.io"
GATEWAY_API_KINDS = ("Gateway", "HTTPRoute", "TLSRoute", "ReferenceGrant")
#: The Gateway API groups whose kinds are either in GATEWAY_API_KINDS or refused.
GATEWAY_API_GROUPS = (GATEWAY_API_GROUP, "gateway.networking.x-k8s.io")

MODELLED = "modelled"
NO_EFFECT_OFFLINE = "no-effect-offline"
NOT_MODELLED = "not-modelled"
STATUSES = (MODELLED, NO_EFFECT_OFFLINE, NOT_MODELLED)

WHAT_TO_DO = "run this on a kind cluster (scripts/cluster-up.sh)"


@dataclass(frozen=True)
class Entry:
    status: str
    test: str = ""  # for modelled: the pytest node, ``tests/sim/file.py::test_name``
    reason: str = ""  # for no-effect-offline: why a single client can't observe it here
    values: tuple[Any, ...] = ()  # when set, the classification holds only for these values
    max_items: int | None = None  # when set, the classification holds only for lists this long at most
    pattern: str = ""  # when set, the classification holds only for strings (or list items) matching it

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))

    def outside(self, value: Any, at: str) -> str:
        """What of ``value`` (set at path ``at``) falls outside this classification; empty when none does."""
        if self.values and not isinstance(value, (list, dict)) and value not in self.values:
            allowed = ", ".join(map(str, self.values))
            return f"{at} {value!r} (only {allowed} {'is' if len(self.values) == 1 else 'are'})"
        if self.max_items is not None and isinstance(value, list) and len(value) > self.max_items:
            return f"{at} with {len(value)} items (only {self.max_items} {'is' if self.max_items == 1 else 'are'})"
        if self.pattern:
            items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            for i, item in items:
                if isinstance(item, str) and not re.fullmatch(self.pattern, item):
                    where = at if i is None else f"{at}[{i}]"
                    return f"{where} {item!r} (only values matching {self.pattern} are)"
        return ""


@dataclass(frozen=True)
class Table:
    fields: Mapping[str, Mapping[str, Entry]]  # kind -> field path -> entry
    refused_kinds: tuple[str, ...]  # "group/Kind" for every other Istio kind

    @functools.cached_property
    def _parents(self) -> frozenset[tuple[str, str]]:
        """(kind, path) of every field with fields below it, as written (``headers{}`` for a map of objects)."""
        return frozenset((kind, path.rpartition(".")[0]) for kind, paths in self.fields.items() for path in paths)

    def has_fields_below(self, kind: str, path: str) -> bool:
        """True for an object, a list of objects or a map of objects; false for a leaf."""
        return (kind, _base(path)) in self._containers

    @functools.cached_property
    def _containers(self) -> frozenset[tuple[str, str]]:
        return frozenset((kind, _base(path)) for kind, path in self._parents)

    def is_map(self, kind: str, path: str) -> bool:
        """True for a map whose values are objects (``headers{}.exact``)."""
        return (kind, _base(path) + "{}") in self._parents


def table_key(group: str, kind: str) -> str:
    """How the table names a kind: ``VirtualService`` for Istio networking, ``group/Kind`` otherwise."""
    return kind if group == ISTIO_NETWORKING_GROUP else f"{group}/{kind}"


def _base(path: str) -> str:
    """``spec.http[]`` -> ``spec.http``; ``...headers{}`` -> ``...headers``: the field a list or map item is in."""
    while path.endswith(("[]", "{}")):
        path = path[:-2]
    return path


# --------------------------------------------------------------------------- field paths in a CRD schema


def schema_paths(spec_schema: Mapping[str, Any], prefix: str = "spec") -> list[str]:
    """Every field path below ``spec`` in a CRD's structural schema, sorted."""
    out: list[str] = []

    def walk(node: Mapping[str, Any], path: str) -> None:
        for name, child in (node.get("properties") or {}).items():
            field = f"{path}.{name}"
            out.append(field)
            inner(child, field)

    def inner(node: Mapping[str, Any], field: str) -> None:
        if node.get("properties"):
            walk(node, field)
        items = node.get("items")
        if isinstance(items, Mapping):
            inner(items, field + "[]")
        values = node.get("additionalProperties")
        if isinstance(values, Mapping):
            inner(values, field + "{}")

    walk(spec_schema, prefix)
    return sorted(out)


# --------------------------------------------------------------------------- the table


@functools.lru_cache(maxsize=4)
def load_table(path: Path = TABLE_FILE) -> Table:
    # libyaml's loader when PyYAML has it: the table is large and every lab kernel reads it once.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
    fields = {
        kind: {field: Entry(**(entry or {})) for field, entry in (paths or {}).items()}
        for kind, paths in (data.get("kinds") or {}).items()
    }
    return Table(fields, tuple(data.get("refused_kinds") or ()))


# --------------------------------------------------------------------------- the check


def document_fields(kind: str, spec: Any, table: Table) -> Iterator[tuple[str, str, Any]]:
    """(table path, concrete path, value) for every field a document's ``spec`` sets; ``null`` is unset.

    Concrete paths index lists and quote map keys: ``spec.http[0].match[1].headers["end-user"].exact``.
    """

    def walk(node: Mapping[str, Any], pattern: str, at: str) -> Iterator[tuple[str, str, Any]]:
        for key, value in node.items():
            if value is None:
                continue
            yield f"{pattern}.{key}", f"{at}.{key}", value
            yield from inner(value, f"{pattern}.{key}", f"{at}.{key}")

    def inner(value: Any, field: str, at: str) -> Iterator[tuple[str, str, Any]]:
        if not table.has_fields_below(kind, field):
            return  # a leaf: a scalar, a list of scalars, or a map of scalars
        if isinstance(value, Sequence) and not isinstance(value, str):
            for i, item in enumerate(value):
                yield from inner(item, field + "[]", f"{at}[{i}]")
        elif isinstance(value, Mapping) and table.is_map(kind, field):
            for key, item in value.items():
                if isinstance(item, Mapping):
                    yield from walk(item, field + "{}", f'{at}["{key}"]')
        elif isinstance(value, Mapping):
            yield from walk(value, field, at)

    if isinstance(spec, Mapping):
        yield from walk(spec, "spec", "spec")


def problems(doc: Mapping[str, Any], index: int, table: Table | None = None) -> list[Problem]:
    """Why the simulator can't apply this document faithfully; empty when it can (or it is not Istio's)."""
    table = table or load_table()
    api_version, kind = str(doc.get("apiVersion") or ""), str(doc.get("kind") or "")
    group = api_version.rpartition("/")[0]
    if group not in ISTIO_GROUPS + GATEWAY_API_GROUPS:
        return []
    document = _name(doc, index)
    key = table_key(group, kind)
    if key not in table.fields:
        return [Problem(document, "kind", f"{group} {kind} is not modelled by the offline simulator; {WHAT_TO_DO}")]
    fields = table.fields[key]
    found: list[Problem] = []
    refused: list[str] = []  # a refused field's own fields are not listed again
    for field, at, value in document_fields(key, doc.get("spec"), table):
        if any(at.startswith(r) and at[len(r) : len(r) + 1] in (".", "[") for r in refused):
            continue
        entry = fields.get(field)
        what = at if entry is None or entry.status == NOT_MODELLED else entry.outside(value, at)
        if what:
            refused.append(at)
            found.append(Problem(document, at, f"not modelled by the offline simulator: {what}; {WHAT_TO_DO}"))
    if group == GATEWAY_API_GROUP and not found:
        from .gatewayapi import check  # the combinations of values the translation follows

        found += check(doc, document)
    return found


def validate(docs: list[dict[str, Any]], source: str = "") -> None:
    """Refuse the whole apply when any document sets a field the simulator does not model."""
    found = [p for index, doc in enumerate(docs, 1) for p in problems(doc, index)]
    if found:
        raise ManifestError(found, source)


def _name(doc: Mapping[str, Any], index: int) -> str:
    found = doc.get("metadata")
    meta: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    namespace, name = meta.get("namespace"), meta.get("name", "?")
    return f"document {index} ({doc.get('kind', '?')} {f'{namespace}/' if namespace else ''}{name})"
