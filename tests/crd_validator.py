"""Validate a document against a published CustomResourceDefinition file, as the API server would.

Test code: it checks that the labs' manifests and labkit's schema models agree with Istio's CRDs
(and scripts/update-field-coverage.py reads the CRDs' fields with it); labkit itself never loads a CRD.

The CRD's ``openAPIV3Schema`` is turned into a JSON schema: fields not listed are rejected (unless the
schema says ``x-kubernetes-preserve-unknown-fields``), ``nullable`` and ``x-kubernetes-int-or-string`` are
honoured, list types are checked, and the CEL rules (``x-kubernetes-validations``) that the Istio
networking CRDs use are evaluated. CEL rules this module does not recognise are skipped; see
``unknown_rules``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from labkit.errors import Problem
from labkit.schema._common import duration_seconds, format_path, is_duration, schema_problems

_META_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

#: What the API server accepts under ``metadata`` of a custom resource.
OBJECT_META_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": _META_STRING_MAP,
        "annotations": _META_STRING_MAP,
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "generation": {"type": "integer"},
        "creationTimestamp": {"type": ["string", "null"]},
        "deletionTimestamp": {"type": ["string", "null"]},
        "deletionGracePeriodSeconds": {"type": "integer"},
        "ownerReferences": {"type": "array", "items": {"type": "object"}},
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "managedFields": {"type": "array", "items": {"type": "object"}},
        "selfLink": {"type": "string"},
    },
    "additionalProperties": False,
}


# --------------------------------------------------------------------------- CEL rules we can evaluate


def _get(obj: Any, key: str, default: Any = None) -> Any:
    return obj.get(key, default) if isinstance(obj, Mapping) else default


def _duration_at_least_1ms(value: Any) -> bool:
    return not isinstance(value, str) or (is_duration(value) and duration_seconds(value) >= 0.001)


def _port_range(value: Any) -> bool:
    return not isinstance(value, int) or 0 < value <= 65535


def _uds_path(value: Any) -> bool:
    return not isinstance(value, str) or not value.startswith("unix://") or value[7:8] in ("/", "@")


def _count(obj: Any, *keys: str) -> int:
    return sum(1 for k in keys if _get(obj, k) is not None)


def _unique_numbers(ports: Any) -> bool:
    numbers = [_get(p, "number") for p in ports or [] if isinstance(p, Mapping)]
    return len(numbers) == len(set(map(repr, numbers)))


_PORT_NAME = re.compile(r"^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$")


def _port_names(ports: Any) -> bool:
    return not isinstance(ports, Mapping) or all(
        isinstance(k, str) and len(k) < 63 and _PORT_NAME.match(k) for k in ports
    )


#: CEL rule text -> a Python check of ``self``. Exact text as published in the Istio CRDs.
CEL_RULES: dict[str, Callable[[Any], bool]] = {
    "duration(self) >= duration('1ms')": _duration_at_least_1ms,
    "0 < self && self <= 65535": _port_range,
    'self != "*"': lambda v: v != "*",
    '!self.contains("*")': lambda v: not isinstance(v, str) or "*" not in v,
    'self.all(key, !key.contains("*"))': lambda v: not isinstance(v, Mapping) or all("*" not in k for k in v),
    "self.all(key, key.size() != 0)": lambda v: not isinstance(v, Mapping) or all(len(k) != 0 for k in v),
    "(has(self.workloadSelector) ? 1 : 0) + (has(self.endpoints) ? 1 : 0) <= 1": lambda v: (
        _count(v, "workloadSelector", "endpoints") <= 1
    ),
    '!((has(self.addresses) ? self.addresses : []).exists(k, k.contains("/")) && '
    '!((has(self.resolution) ? self.resolution : "NONE") in ["STATIC", "NONE"]))': lambda v: (
        not (
            any("/" in str(a) for a in _get(v, "addresses") or [])
            and (_get(v, "resolution") or "NONE") not in ("STATIC", "NONE")
        )
    ),
    '((has(self.resolution) ? self.resolution : "NONE") == "NONE") ? !has(self.endpoints) : true': lambda v: (
        (_get(v, "resolution") or "NONE") != "NONE" or _get(v, "endpoints") is None
    ),
    '((has(self.resolution) ? self.resolution : "") == "DNS_ROUND_ROBIN") ? '
    "((has(self.endpoints) ? self.endpoints : []).size() <= 1) : true": lambda v: (
        _get(v, "resolution") != "DNS_ROUND_ROBIN" or len(_get(v, "endpoints") or []) <= 1
    ),
    "has(self.address) || has(self.network)": lambda v: _count(v, "address", "network") >= 1,
    '(has(self.address) ? self.address : "").startsWith("unix://") ? !has(self.ports) : true': lambda v: (
        not str(_get(v, "address") or "").startswith("unix://") or _get(v, "ports") is None
    ),
    'self.startsWith("unix://") ? (self.substring(7, 8) == "/" || self.substring(7, 8) == "@") : true': _uds_path,
    'self.startsWith("unix://") ? !self.endsWith("/") : true': lambda v: (
        not isinstance(v, str) or not v.startswith("unix://") or not v.endswith("/")
    ),
    'self.all(key, size(key) < 63 && key.matches("^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$"))': _port_names,
    "self.all(l1, self.exists_one(l2, l1.number == l2.number))": _unique_numbers,
    "(has(self.tlsCertificates) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1": lambda v: (
        _count(v, "tlsCertificates", "credentialNames") <= 1
    ),
    "(has(self.credentialName) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1": lambda v: (
        _count(v, "credentialName", "credentialNames") <= 1
    ),
    "(has(self.credentialNames) ? 1 : 0) + (has(self.tlsCertificates) ? 1 : 0) <= 1": lambda v: (
        _count(v, "credentialNames", "tlsCertificates") <= 1
    ),
}


def _x_validations(validator: Any, rules: Any, instance: Any, schema: Any) -> Iterator[jsonschema.ValidationError]:
    for rule in rules or []:
        check = CEL_RULES.get(rule.get("rule", ""))
        if check is None:
            continue
        try:
            ok = check(instance)
        except (TypeError, ValueError, AttributeError):
            continue  # a wrong type is reported by the "type" keyword
        if not ok:
            yield jsonschema.ValidationError(rule.get("message") or f"fails the rule {rule['rule']}")


def _x_list_type(validator: Any, list_type: Any, instance: Any, schema: Any) -> Iterator[jsonschema.ValidationError]:
    if not isinstance(instance, list):
        return
    if list_type == "set":
        seen: list[Any] = []
        for item in instance:
            if item in seen:
                yield jsonschema.ValidationError(f"duplicate item {item!r} in a set")
            seen.append(item)
    elif list_type == "map":
        keys = schema.get("x-kubernetes-list-map-keys") or []
        seen_keys: list[tuple[Any, ...]] = []
        for item in instance:
            if not isinstance(item, Mapping):
                continue
            key = tuple(item.get(k) for k in keys)
            if key in seen_keys:
                named = ", ".join(f"{k}={v!r}" for k, v in zip(keys, key, strict=True))
                yield jsonschema.ValidationError(f"duplicate entry with {named}")
            seen_keys.append(key)


_FORMATS = jsonschema.FormatChecker()


@_FORMATS.checks("int32")
def _int32(value: Any) -> bool:
    return not isinstance(value, int) or -(2**31) <= value < 2**31


@_FORMATS.checks("byte", raises=(binascii.Error, ValueError))
def _byte(value: Any) -> bool:
    if isinstance(value, str):
        base64.b64decode(value, validate=True)
    return True


_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    validators={"x-kubernetes-validations": _x_validations, "x-kubernetes-list-type": _x_list_type},
)


# --------------------------------------------------------------------------- schema conversion


def structural_to_jsonschema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a CRD ``openAPIV3Schema`` that rejects what the API server rejects."""
    out = _convert(copy.deepcopy(dict(schema)))
    props = out.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props["metadata"] = copy.deepcopy(OBJECT_META_SCHEMA)
    out["required"] = sorted({*out.get("required", []), "apiVersion", "kind", "metadata"})
    out["additionalProperties"] = False
    return out


def _convert(node: dict[str, Any]) -> dict[str, Any]:
    node.pop("description", None)
    if node.get("nullable"):
        types = node.get("type")
        if isinstance(types, str):
            node["type"] = [types, "null"]
    if node.get("x-kubernetes-int-or-string") and "type" not in node and "anyOf" not in node:
        node["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    preserve = bool(node.get("x-kubernetes-preserve-unknown-fields"))
    if isinstance(node.get("properties"), dict):
        for child in node["properties"].values():
            _convert(child)
        if not preserve and "additionalProperties" not in node:
            node["additionalProperties"] = False
    if isinstance(node.get("items"), dict):
        _convert(node["items"])
    if isinstance(node.get("additionalProperties"), dict):
        _convert(node["additionalProperties"])
    if node.get("x-kubernetes-embedded-resource"):
        props = node.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    return node


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class CRDSet:
    """The CRDs in one file: (group, kind) -> version -> converted schema."""

    path: Path
    schemas: Mapping[tuple[str, str], Mapping[str, Mapping[str, Any]]]
    raw: Mapping[tuple[str, str], Mapping[str, Mapping[str, Any]]]

    def kinds(self, group: str) -> list[str]:
        return sorted(kind for g, kind in self.schemas if g == group)

    def openapi_schema(self, group: str, kind: str, version: str) -> Mapping[str, Any] | None:
        """The CRD's ``openAPIV3Schema`` as published (not converted)."""
        return self.raw.get((group, kind), {}).get(version)


def load_crds(path: str | Path) -> CRDSet:
    """Every CRD in ``path``, cached per file (reloaded when the file changes)."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return _load(str(resolved), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, size: int) -> CRDSet:
    schemas: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    raw: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    with open(path, encoding="utf-8") as handle:
        for doc in yaml.safe_load_all(handle):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc.get("spec") or {}
            key = (spec.get("group", ""), (spec.get("names") or {}).get("kind", ""))
            for version in spec.get("versions") or []:
                if not version.get("served", True):
                    continue
                openapi = ((version.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object"}
                raw.setdefault(key, {})[version["name"]] = openapi
                schemas.setdefault(key, {})[version["name"]] = structural_to_jsonschema(openapi)
    return CRDSet(Path(path), schemas, raw)


@functools.lru_cache(maxsize=256)
def _validator(path: str, mtime_ns: int, size: int, group: str, kind: str, version: str) -> Any:
    schema = _load(path, mtime_ns, size).schemas[(group, kind)][version]
    return _Validator(schema, format_checker=_FORMATS)


def _split(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def knows(crd_path: str | Path, api_version: str, kind: str) -> bool:
    """True when the CRD file defines ``kind`` at ``api_version`` (and serves it)."""
    group, version = _split(str(api_version))
    return version in load_crds(crd_path).schemas.get((group, str(kind)), {})


def problems(doc: Mapping[str, Any], document: str, crd_path: str | Path) -> list[Problem]:
    """Every way ``doc`` breaks the schema its CRD in ``crd_path`` publishes."""
    crds = load_crds(crd_path)
    api_version, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
    group, version = _split(api_version)
    versions = crds.schemas.get((group, kind))
    if versions is None:
        known = ", ".join(crds.kinds(group)) or "none"
        return [Problem(document, "kind", f"no CRD for {kind} in {group or 'the core group'} (known: {known})")]
    if version not in versions:
        return [
            Problem(
                document,
                "apiVersion",
                f"{kind} is not served at {api_version}; use one of {', '.join(f'{group}/{v}' for v in versions)}",
            )
        ]
    resolved = crds.path
    stat = resolved.stat()
    validator = _validator(str(resolved), stat.st_mtime_ns, stat.st_size, group, kind, version)
    return schema_problems(validator, _prune_nulls(doc, validator.schema), document)


def _prune_nulls(value: Any, schema: Mapping[str, Any]) -> Any:
    """Drop null fields the schema knows and does not mark nullable, as the API server prunes them.

    Unknown fields are kept so that they are reported, with their values, as unknown.
    """
    if isinstance(value, Mapping) and isinstance(schema, Mapping):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        out = {}
        for key, item in value.items():
            child = props.get(key, extra if isinstance(extra, Mapping) else None)
            if item is None and child is not None and not _nullable(child):
                continue
            out[key] = _prune_nulls(item, child) if child is not None else item
        return out
    if isinstance(value, list) and isinstance(schema, Mapping) and isinstance(schema.get("items"), Mapping):
        return [_prune_nulls(item, schema["items"]) for item in value]
    return value


def _nullable(schema: Mapping[str, Any]) -> bool:
    types = schema.get("type")
    return isinstance(types, list) and "null" in types


def unknown_rules(crd_path: str | Path, group: str, kind: str, version: str) -> list[tuple[str, str]]:
    """(path, rule) for every CEL rule in the schema that this module does not evaluate."""
    crds = load_crds(crd_path)
    schema = crds.openapi_schema(group, kind, version) or {}
    out: list[tuple[str, str]] = []

    def walk(node: Mapping[str, Any], path: tuple[Any, ...]) -> None:
        for rule in node.get("x-kubernetes-validations") or []:
            if rule.get("rule") not in CEL_RULES:
                out.append((format_path(path), rule.get("rule", "")))
        for name, child in (node.get("properties") or {}).items():
            walk(child, (*path, name))
        if isinstance(node.get("items"), Mapping):
            walk(node["items"], (*path, 0))
        if isinstance(node.get("additionalProperties"), Mapping):
            walk(node["additionalProperties"], (*path, "*"))

    walk(schema, ())
    return out
