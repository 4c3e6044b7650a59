"""Turning what a notebook passes to ``lab.apply`` into a list of Kubernetes objects.

Accepts a path, YAML text (``str`` or UTF-8 ``bytes``) with one or more documents, a dict, or a list of
any of these. YAML is read with the API server's limits (``yamlsafe``): no alias bombs, no duplicate keys.
Templates use ``${name}`` placeholders (``string.Template``) so files stay valid YAML.
"""

from __future__ import annotations

import copy
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from . import yamlsafe
from .errors import ManifestError, Problem
from .selectors import selector_matches as selector_matches  # its home is selectors.py; kept importable here

Manifest = str | bytes | Path | Mapping[str, Any] | Iterable[Any]

#: Labels labkit puts on everything it creates, so cleanup can find it by label even after a crash.
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "labkit"
LAB_LABEL = "labkit.io/lab"

#: Kinds that live outside namespaces (the ones the labs can meet).
CLUSTER_SCOPED = frozenset(
    {"Namespace", "Node", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume"}
)


@dataclass(frozen=True, order=True)
class Ref:
    """Identifies one object: enough to get or delete it."""

    api_version: str
    kind: str
    namespace: str | None
    name: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> Ref:
        meta = obj.get("metadata") or {}
        return cls(obj.get("apiVersion", ""), obj.get("kind", ""), meta.get("namespace"), meta.get("name", ""))

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{where}{self.name}"


def render(text: str, params: Mapping[str, Any] | None = None, source: str = "") -> str:
    """Fill ``${name}`` placeholders; a missing parameter is an error, not an empty string."""
    if not params and "${" not in text:
        return text
    try:
        return string.Template(text).substitute({k: str(v) for k, v in (params or {}).items()})
    except KeyError as missing:
        raise ManifestError(
            [Problem(source or "template", "", f"no value for placeholder ${{{missing.args[0]}}}")]
        ) from None


def looks_like_path(value: str) -> bool:
    return "\n" not in value and value.endswith((".yaml", ".yml", ".json"))


def load(manifest: Manifest, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every document in ``manifest`` as a fresh dict, in order. Empty documents are dropped."""
    if isinstance(manifest, (bytes, bytearray)):
        return _parse(render(_text(bytes(manifest), "inline YAML"), params), "inline YAML")
    if isinstance(manifest, Path) or (isinstance(manifest, str) and looks_like_path(manifest)):
        path = Path(manifest)
        if not path.is_file():
            raise ManifestError([Problem(str(path), "", "file not found")])
        return _parse(render(_text(path.read_bytes(), path.name), params, path.name), path.name)
    if isinstance(manifest, str):
        return _parse(render(manifest, params), "inline YAML")
    if isinstance(manifest, Mapping):
        return [copy.deepcopy(dict(manifest))]
    if isinstance(manifest, Iterable):
        return [doc for item in manifest for doc in load(cast(Manifest, item), params)]
    raise TypeError(f"cannot apply a {type(manifest).__name__}; pass a path, YAML text, a dict or a list")


def _text(data: bytes, source: str) -> str:
    """Manifests are UTF-8, as kubectl reads them; anything else is named, with where it breaks."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ManifestError(
            [Problem(source, "", f"is not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line} cannot be decoded")]
        ) from None


def _parse(text: str, source: str) -> list[dict[str, Any]]:
    try:
        docs = [d for d in yamlsafe.load_all(text) if d is not None]
    except yamlsafe.YamlRefused as exc:
        raise ManifestError([Problem(source, "", f"not valid YAML: {exc}")]) from None
    for i, doc in enumerate(docs, 1):
        if not isinstance(doc, dict):
            raise ManifestError([Problem(f"{source} document {i}", "", "is not a mapping")])
    return docs


def describe(doc: Mapping[str, Any], index: int) -> str:
    """How error messages name a document: ``document 2 (VirtualService/direct-cnn)``."""
    meta = doc.get("metadata") or {}
    return f"document {index} ({doc.get('kind', '?')}/{meta.get('name', '?')})"


def prepare(docs: list[dict[str, Any]], namespace: str | None, lab_id: str) -> list[dict[str, Any]]:
    """Default the namespace of namespaced objects and add labkit's labels. Returns new dicts."""
    out = []
    for doc in docs:
        doc = copy.deepcopy(doc)
        meta = doc.setdefault("metadata", {})
        if doc.get("kind") not in CLUSTER_SCOPED:
            meta["namespace"] = meta.get("namespace") or namespace or "default"
        labels = meta.setdefault("labels", {}) or {}
        labels.setdefault(MANAGED_BY, MANAGED_BY_VALUE)
        labels.setdefault(LAB_LABEL, lab_id)
        meta["labels"] = labels
        out.append(doc)
    return out


