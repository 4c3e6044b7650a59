"""Kubernetes built-in kinds (Namespace, Pod, Deployment, Service, ...) checked with kubernetes-validate.

Uses the strict schemas bundled with kubernetes-validate (unknown fields are errors) for one pinned
Kubernetes version, and reports every error rather than only the first.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

import jsonschema
import kubernetes_validate
from referencing import Registry, Resource

from ..errors import Problem
from ._common import error_items, format_path, schema_problems

#: The Kubernetes release whose API schemas built-in kinds are checked against.
K8S_VERSION = "1.35.0"

_PACKAGE = "kubernetes_validate"


@functools.cache
def _schema_dir() -> Any:
    path = resources.files(_PACKAGE) / "kubernetes-json-schema" / f"v{K8S_VERSION}-local-strict"
    if not path.is_dir():
        minor = ".".join(K8S_VERSION.split(".")[:2])
        raise RuntimeError(
            f"kubernetes-validate {kubernetes_validate.__version__} has no schemas for Kubernetes {K8S_VERSION}; "
            f"install kubernetes-validate>={minor}"
        )
    return path


def _file_name(api_version: str, kind: str) -> str:
    # kubernetes-validate's naming: "apps/v1" -> "apps-v1", "networking.k8s.io/v1" -> "networking-v1", "v1" -> "v1"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return f"{kind.lower()}-{group_version}.json"


@functools.cache
def _registry() -> Registry:
    definitions = json.loads(_schema_dir().joinpath("_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


@functools.cache
def _validator(api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
    path = _schema_dir().joinpath(_file_name(api_version, kind))
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    # The file name drops the group's domain, so make sure the schema really is for this apiVersion.
    gvks = schema.get("x-kubernetes-group-version-kind") or []
    if not any(_gvk_api_version(g) == api_version and g.get("kind") == kind for g in gvks):
        return None
    registry = Resource.from_contents(schema) @ _registry()
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _gvk_api_version(gvk: Mapping[str, Any]) -> str:
    group, version = gvk.get("group") or "", gvk.get("version") or ""
    return f"{group}/{version}" if group else version


def api_versions_for(kind: str) -> list[str]:
    """Every apiVersion at which Kubernetes ``K8S_VERSION`` has the built-in ``kind`` (for hints)."""
    prefix = f"{kind.lower()}-"
    found: set[str] = set()
    for entry in _schema_dir().iterdir():
        if entry.name.startswith(prefix) and entry.name.endswith(".json"):
            schema = json.loads(entry.read_text())
            found.update(
                _gvk_api_version(g)
                for g in schema.get("x-kubernetes-group-version-kind") or []
                if g.get("kind") == kind
            )
    return sorted(found)


def knows(api_version: str, kind: str) -> bool:
    """True when Kubernetes ``K8S_VERSION`` has this built-in kind at this apiVersion."""
    return isinstance(api_version, str) and isinstance(kind, str) and _validator(api_version, kind) is not None


def problems(doc: Mapping[str, Any], document: str) -> list[Problem]:
    """Every schema error in one built-in document (``knows(apiVersion, kind)`` must be true).

    kubernetes-validate decides whether the document is valid; when it is not, the same strict schemas
    are walked again to list every error, not only the first one it reports.
    """
    try:
        kubernetes_validate.validate(dict(doc), K8S_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        raise ValueError(f"no Kubernetes {K8S_VERSION} schema for {doc.get('apiVersion')} {doc.get('kind')}") from None
    except kubernetes_validate.ValidationError as exc:
        validator = _validator(str(doc.get("apiVersion")), str(doc.get("kind")))
        found = schema_problems(validator, dict(doc), document) if validator is not None else []
        if not found:
            found = [Problem(document, format_path(path), message) for path, message in error_items(exc)]
        return found
    return []


def first_error(doc: Mapping[str, Any]) -> kubernetes_validate.ValidationError | None:
    """What kubernetes-validate alone reports for ``doc`` (only its first error), for comparison."""
    try:
        kubernetes_validate.validate(dict(doc), K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return exc
    return None


#: API machinery types that carry a group-version-kind but are no objects one reads or writes.
_MACHINERY = frozenset({"APIGroup", "APIResourceList", "APIVersions", "DeleteOptions", "Status", "WatchEvent"})


@functools.cache
def built_in_kinds() -> tuple[tuple[str, str], ...]:
    """Every (apiVersion, kind) of a Kubernetes ``K8S_VERSION`` built-in object, for hints (a scan of the schemas)."""
    found: set[tuple[str, str]] = set()
    for entry in _schema_dir().iterdir():
        if not entry.name.endswith(".json") or entry.name.startswith("_"):
            continue
        schema = json.loads(entry.read_text())
        for gvk in schema.get("x-kubernetes-group-version-kind") or []:
            kind = gvk.get("kind") or ""
            if entry.name.startswith(f"{kind.lower()}-") and not kind.endswith("List") and kind not in _MACHINERY:
                found.add((_gvk_api_version(gvk), kind))
    return tuple(sorted(found))
