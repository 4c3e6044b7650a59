"""Strict validation of every manifest document before anything is applied.

``validate(docs)`` checks all documents and raises one ``ManifestError`` listing every problem, so a lab
never applies half a manifest. Istio networking kinds are checked with the models in ``istio``, the Gateway
API kinds Istio's egress tasks use with those in ``gatewayapi``; built-in
Kubernetes kinds with kubernetes-validate's strict schemas (``core``). Anything else is refused, because
labkit could not tell whether it is right.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from ..errors import ManifestError, Problem
from ..manifests import describe
from ..meshconfig import ISTIO_NETWORKING_GROUP
from . import core, gatewayapi, istio
from ._common import expected_message, format_path

__all__ = ["ISTIO_KINDS", "K8S_VERSION", "problems", "validate"]

K8S_VERSION = core.K8S_VERSION
#: The networking.istio.io kinds labkit validates.
ISTIO_KINDS = tuple(istio.MODELS)

#: Istio kinds that exist but that labkit does not model (refused with a clear message).
_OTHER_ISTIO_KINDS = {
    ISTIO_NETWORKING_GROUP: ("EnvoyFilter", "ProxyConfig", "WorkloadEntry", "WorkloadGroup"),
    "security.istio.io": ("AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication"),
    "telemetry.istio.io": ("Telemetry",),
    "extensions.istio.io": ("WasmPlugin", "TrafficExtension"),
}

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def validate(docs: list[dict[str, Any]], source: str = "") -> None:
    """Check every document; raise one ``ManifestError`` naming all problems if any document is wrong.

    Documents are numbered from 1 in messages, as ``document 3 (VirtualService/direct-nginx)``.
    """
    found: list[Problem] = []
    for index, doc in enumerate(docs, 1):
        found.extend(problems(doc, index))
    if found:
        raise ManifestError(found, source)


def problems(doc: dict[str, Any], index: int) -> list[Problem]:
    """Everything wrong with one document (``index`` counts from 1); empty when it is valid."""
    if not isinstance(doc, Mapping):
        return [Problem(f"document {index}", "", f"is not a mapping (got {type(doc).__name__})")]
    # describe() reads metadata.name, so give it an empty metadata when metadata is not a mapping
    document = describe(doc if isinstance(doc.get("metadata"), Mapping) else {**doc, "metadata": {}}, index)
    found = _shape_problems(doc, document)
    api_version, kind = doc.get("apiVersion"), doc.get("kind")
    if not (isinstance(api_version, str) and api_version and isinstance(kind, str) and kind):
        return found
    found.extend(_schema_problems(doc, document, api_version, kind))
    found.extend(_metadata_problems(doc, document, kind))
    return list(dict.fromkeys(found))


def _shape_problems(doc: Mapping[str, Any], document: str) -> list[Problem]:
    found = []
    for key in ("apiVersion", "kind"):
        value = doc.get(key)
        if value is None or value == "":
            found.append(Problem(document, key, "required field missing"))
        elif not isinstance(value, str):
            found.append(Problem(document, key, expected_message("a string", value)))
    meta = doc.get("metadata")
    if meta is None:
        found.append(Problem(document, "metadata", "required field missing"))
    elif not isinstance(meta, Mapping):
        found.append(Problem(document, "metadata", expected_message("a mapping", meta)))
    elif meta.get("name") is None or meta.get("name") == "":
        found.append(Problem(document, "metadata.name", "required field missing"))
    elif not isinstance(meta.get("name"), str):
        found.append(Problem(document, "metadata.name", expected_message("a string", meta.get("name"))))
    return found


def _schema_problems(doc: Mapping[str, Any], document: str, api_version: str, kind: str) -> list[Problem]:
    group = api_version.rpartition("/")[0]
    if group == istio.GROUP:
        if kind in istio.MODELS:
            return istio.problems(doc, document)
        return [Problem(document, "kind", _unknown_istio_kind(kind))]
    if group == gatewayapi.GROUP and kind in gatewayapi.MODELS:
        if api_version not in gatewayapi.API_VERSIONS[kind]:
            served = " or ".join(gatewayapi.API_VERSIONS[kind])
            return [Problem(document, "apiVersion", f"the Gateway API serves {kind} as {served}; got {api_version}")]
        return gatewayapi.problems(doc, document)
    if core.knows(api_version, kind):
        return core.problems(doc, document)
    if kind in istio.MODELS:
        return [
            Problem(document, "apiVersion", f"{kind} belongs to {istio.GROUP}; use apiVersion: {istio.API_VERSIONS[0]}")
        ]
    versions = core.api_versions_for(kind)
    if versions:
        return [
            Problem(
                document,
                "apiVersion",
                f"Kubernetes {K8S_VERSION} has no {kind} in {api_version}; use apiVersion: {' or '.join(versions)}",
            )
        ]
    return [Problem(document, "", _cannot_validate(api_version, kind))]


def _unknown_istio_kind(kind: str) -> str:
    if kind in _OTHER_ISTIO_KINDS[istio.GROUP]:
        return f"labkit can't validate {istio.GROUP} {kind}; it validates {', '.join(ISTIO_KINDS)}"
    by_lower = {k.lower(): k for k in ISTIO_KINDS}
    guess = by_lower.get(kind.lower()) or next(iter(difflib.get_close_matches(kind, ISTIO_KINDS, n=1)), None)
    hint = f"; did you mean {guess}?" if guess else f"; labkit validates {', '.join(ISTIO_KINDS)}"
    return f"unknown kind {kind!r} in {istio.GROUP}{hint}"


def _cannot_validate(api_version: str, kind: str) -> str:
    group = api_version.rpartition("/")[0]
    if kind in _OTHER_ISTIO_KINDS.get(group, ()):
        why = f"labkit models only the {istio.GROUP} kinds {', '.join(ISTIO_KINDS)}"
    elif kind in gatewayapi.OTHER_KINDS.get(group, ()):
        why = f"labkit models only the {gatewayapi.GROUP} kinds {', '.join(gatewayapi.MODELS)}"
    else:
        why = f"it is not a Kubernetes {K8S_VERSION} built-in kind nor one of {', '.join(ISTIO_KINDS)}"
    return f"labkit can't validate {api_version} {kind}; {why}, so it is refused rather than applied unchecked"


def _metadata_problems(doc: Mapping[str, Any], document: str, kind: str) -> list[Problem]:
    """Name, namespace and label formats, which the API server checks for every kind."""
    meta = doc.get("metadata")
    if not isinstance(meta, Mapping):
        return []
    found = []
    name = meta.get("name")
    if isinstance(name, str) and name:
        if kind == "Namespace":
            ok, rule = _DNS_LABEL.match(name) and len(name) <= 63, "a DNS label"
        elif kind == "Service":
            ok, rule = _DNS_1035_LABEL.match(name) and len(name) <= 63, "a DNS-1035 label (starting with a letter)"
        else:
            ok, rule = _DNS_SUBDOMAIN.match(name) and len(name) <= 253, "a DNS subdomain"
        if not ok:
            found.append(
                Problem(document, "metadata.name", f"{name!r} is not {rule}: use lower-case letters, digits and '-'")
            )
    namespace = meta.get("namespace")
    if isinstance(namespace, str) and namespace and not (_DNS_LABEL.match(namespace) and len(namespace) <= 63):
        found.append(
            Problem(
                document,
                "metadata.namespace",
                f"{namespace!r} is not a valid namespace name: use lower-case letters, digits and '-'",
            )
        )
    for field in ("labels", "annotations"):
        entries = meta.get(field)
        if not isinstance(entries, Mapping):
            continue
        for key, value in entries.items():
            path = format_path(("metadata", field, key))
            if isinstance(key, str) and not _valid_key(key):
                found.append(Problem(document, path, f"{key!r} is not a valid {field[:-1]} key"))
            if field == "labels" and isinstance(value, str) and not _valid_label_value(value):
                found.append(
                    Problem(
                        document,
                        path,
                        f"label value {value!r} must be at most 63 letters, digits, '-', '_' or '.', "
                        "starting and ending with a letter or digit",
                    )
                )
    return found


def _valid_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and not (len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix)):
        return False
    return bool(name) and len(name) <= 63 and bool(_QUALIFIED_NAME.match(name))


def _valid_label_value(value: str) -> bool:
    return value == "" or (len(value) <= 63 and bool(_QUALIFIED_NAME.match(value)))
