"""Aggregated discovery: every group, version and kind in one document (``apidiscovery.k8s.io/v2``).

kubectl (1.30 and later) asks ``/api`` and ``/apis`` for an ``APIGroupDiscoveryList`` first and, when
the answer is one, reads no per-version resource list at all; other clients get the legacy documents
(``resources``). Both are built from the same served list, so a kind a CRD adds shows in either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .resources import SUBRESOURCES, VERBS, Resource, groups

GROUP, VERSION, KIND = "apidiscovery.k8s.io", "v2", "APIGroupDiscoveryList"
#: The media type of the answer; clients recognize the document by its g, v and as parameters.
CONTENT_TYPE = f"application/json;g={GROUP};v={VERSION};as={KIND}"


def wanted(accept: str) -> bool:
    """Whether the Accept header lists the v2 aggregated document (kubectl sends it first)."""
    for offer in accept.split(","):
        params = dict(
            part.strip().split("=", 1) for part in offer.split(";")[1:] if "=" in part
        )  # media type parameters
        if (params.get("g"), params.get("v"), params.get("as")) == (GROUP, VERSION, KIND):
            return True
    return False


def _resource(r: Resource, version: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(VERBS),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    if r.subresources:
        entry["subresources"] = [
            {
                "subresource": sub,
                "responseKind": {"group": r.group, "version": version, "kind": SUBRESOURCES[sub][0]},
                "verbs": list(SUBRESOURCES[sub][1]),
            }
            for sub in r.subresources
        ]
    return entry


def _group(served: Sequence[Resource], name: str, versions: tuple[str, ...]) -> dict[str, Any]:
    """One group, its versions preferred first (the order clients take the preferred one from)."""
    return {
        "metadata": {"name": name} if name else {},
        "versions": [
            {
                "version": version,
                "resources": [_resource(r, version) for r in served if r.group == name and version in r.versions],
                "freshness": "Current",
            }
            for version in versions
        ],
    }


def document(served: Sequence[Resource], core: bool) -> dict[str, Any]:
    """``GET /api`` (``core``) or ``GET /apis`` as an ``APIGroupDiscoveryList``."""
    items = [_group(served, "", ("v1",))] if core else [_group(served, g, v) for g, v in groups(served).items()]
    return {"kind": KIND, "apiVersion": f"{GROUP}/{VERSION}", "metadata": {}, "items": items}
