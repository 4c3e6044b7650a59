"""CustomResourceDefinitions: the kind each one adds to the API, the checks the API server makes on
them, and the status its controller reports.

A stored CRD (apiextensions.k8s.io/v1) makes its kind servable at every version it marks ``served``,
as on a real API server; ``catalog`` reads them. What its objects may contain is not read from the
CRD's schema: they go through the same checks as every other write (``labkit.schema``), which refuse,
by name, a kind labkit does not model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import Problem
from .resources import ISTIO, RESOURCES, Resource, version_priority

#: What ``kubectl get`` shows for a custom resource whose CRD lists no columns: its age
#: (apiextensions-apiserver, tableconvertor.New).
DEFAULT_COLUMNS = (("Age", "date", ".metadata.creationTimestamp", 0),)
#: Groups the API server serves itself; a CRD cannot define kinds in them. Istio's group is a CRD's on a
#: real cluster: its CRDs may be applied (stored; the kinds stay the ones labkit serves and models).
_BUILT_IN_GROUPS = frozenset(r.group for r in RESOURCES if r.group != ISTIO)


def resource_of(crd: Mapping[str, Any]) -> Resource | None:
    """The kind ``crd`` defines, at its served versions (preferred first); None if it serves none.

    Its printer columns are the preferred version's, for every version (the Gateway API CRDs list the
    same columns at each).
    """
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    versions = [v for v in spec.get("versions") or [] if isinstance(v, Mapping) and v.get("served")]
    if not versions or not names.get("kind") or not names.get("plural"):
        return None
    versions.sort(key=lambda v: version_priority(str(v.get("name"))))
    preferred = versions[0]
    columns = tuple(
        (str(c.get("name")), str(c.get("type")), str(c.get("jsonPath")), int(c.get("priority") or 0))
        for c in preferred.get("additionalPrinterColumns") or []
    )
    return Resource(
        group=str(spec.get("group") or ""),
        versions=tuple(str(v["name"]) for v in versions),
        kind=str(names["kind"]),
        plural=str(names["plural"]),
        namespaced=spec.get("scope") != "Cluster",
        short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()),
        custom=True,
        printer_columns=columns or DEFAULT_COLUMNS,
        deprecated=tuple(
            (str(v["name"]), str(v.get("deprecationWarning") or _deprecation(str(names["kind"]), spec, v, versions)))
            for v in versions
            if v.get("deprecated")
        ),
    )


def _deprecation(kind: str, spec: Mapping[str, Any], version: Mapping[str, Any], served: list[Any]) -> str:
    """The warning the API server makes up when a deprecated version names none: it points at the most
    stable served version above it that is not deprecated (apiextensions-apiserver defaultDeprecationWarning)."""
    group, name = spec.get("group"), str(version.get("name"))
    text = f"{group}/{name} {kind} is deprecated"
    newer = [
        str(v.get("name"))
        for v in served
        if not v.get("deprecated") and version_priority(str(v.get("name"))) < version_priority(name)
    ]
    if newer:
        text += f"; use {group}/{min(newer, key=version_priority)} {kind}"
    return text


def problems(crd: Mapping[str, Any], served: list[Resource]) -> list[Problem]:
    """What the API server refuses in a CRD beyond its schema (apiextensions validation.go)."""
    found = []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group, plural = spec.get("group") or "", names.get("plural") or ""
    name = (crd.get("metadata") or {}).get("name", "")
    if name != f"{plural}.{group}":
        found.append(Problem("", "metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
    if group in _BUILT_IN_GROUPS or group == "":
        found.append(Problem("", "spec.group", f'Invalid value: "{group}": a group served by the API server itself'))
    versions = [v for v in spec.get("versions") or [] if isinstance(v, Mapping)]
    if sum(1 for v in versions if v.get("storage")) != 1:
        found.append(
            Problem("", "spec.versions", "Invalid value: must have exactly one version marked as storage version")
        )
    if not any(v.get("served") for v in versions):
        found.append(Problem("", "spec.versions", "Invalid value: must have at least one version marked as served"))
    kind = names.get("kind")
    for other in served:
        if other.group == group and other.plural != plural and other.kind == kind:
            found.append(Problem("", "status.acceptedNames.kind", f'"{kind}" is already in use by {other.qualified()}'))
    return found


def status(crd: Mapping[str, Any]) -> dict[str, Any]:
    """What the CRD controllers report once the names are accepted and the kind is served."""
    spec = crd.get("spec") or {}
    names = {k: v for k, v in (spec.get("names") or {}).items()}
    names.setdefault("singular", str(names.get("kind", "")).lower())
    names.setdefault("listKind", f"{names.get('kind', '')}List")
    since = (crd.get("metadata") or {}).get("creationTimestamp")
    conditions = [
        {
            "type": kind,
            "status": "True",
            "lastTransitionTime": since,
            "reason": reason,
            "message": message,
        }
        for kind, reason, message in (
            ("NamesAccepted", "NoConflicts", "no conflicts found"),
            ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        )
    ]
    stored = [str(v.get("name")) for v in spec.get("versions") or [] if isinstance(v, Mapping) and v.get("storage")]
    return {"acceptedNames": names, "conditions": conditions, "storedVersions": stored}
