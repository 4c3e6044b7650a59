"""The Gateway API CRDs the practice cluster starts with, so Gateway API kinds are served from the start.

istio.io's egress tasks create Gateway (v1beta1), HTTPRoute (v1beta1) and TLSRoute (v1alpha2), after
``kubectl get crd gateways.gateway.networking.k8s.io || <install the CRDs>``. These CRDs define the
``gateway.networking.k8s.io`` kinds at the versions Gateway API v1.6.0's experimental channel serves
(the channel with TLSRoute v1alpha2), with its short names and printer columns. They carry no schema:
what a Gateway API object may contain is checked by labkit (``Objects``), never by these CRDs.
Applying the real bundle on top replaces them (``configured``), as it would on a cluster.
"""

from __future__ import annotations

from typing import Any

from .resources import APIEXTENSIONS

GROUP = "gateway.networking.k8s.io"
BUNDLE_VERSION = "v1.6.0"
_AGE = {"jsonPath": ".metadata.creationTimestamp", "name": "Age", "type": "date"}
_HOSTNAMES = [{"jsonPath": ".spec.hostnames", "name": "Hostnames", "type": "string"}, _AGE]


def _condition(name: str) -> dict[str, str]:
    return {"jsonPath": f'.status.conditions[?(@.type=="{name}")].status', "name": name, "type": "string"}


#: kind, plural, scope, short names, served versions (the storage one first), printer columns.
KINDS: tuple[tuple[str, str, str, tuple[str, ...], tuple[str, ...], list[dict[str, Any]]], ...] = (
    ("BackendTLSPolicy", "backendtlspolicies", "Namespaced", ("btlspolicy",), ("v1", "v1alpha3"), [_AGE]),
    (
        "GatewayClass",
        "gatewayclasses",
        "Cluster",
        ("gc",),
        ("v1", "v1beta1"),
        [
            {"jsonPath": ".spec.controllerName", "name": "Controller", "type": "string"},
            _condition("Accepted"),
            _AGE,
            {"jsonPath": ".spec.description", "name": "Description", "priority": 1, "type": "string"},
        ],
    ),
    (
        "Gateway",
        "gateways",
        "Namespaced",
        ("gtw",),
        ("v1", "v1beta1"),
        [
            {"jsonPath": ".spec.gatewayClassName", "name": "Class", "type": "string"},
            {"jsonPath": ".status.addresses[*].value", "name": "Address", "type": "string"},
            _condition("Programmed"),
            _AGE,
        ],
    ),
    ("GRPCRoute", "grpcroutes", "Namespaced", (), ("v1",), _HOSTNAMES),
    ("HTTPRoute", "httproutes", "Namespaced", (), ("v1", "v1beta1"), _HOSTNAMES),
    (
        "ListenerSet",
        "listenersets",
        "Namespaced",
        ("lset",),
        ("v1",),
        [_condition("Accepted"), _condition("Programmed"), _AGE],
    ),
    ("ReferenceGrant", "referencegrants", "Namespaced", ("refgrant",), ("v1beta1", "v1"), [_AGE]),
    ("TCPRoute", "tcproutes", "Namespaced", (), ("v1", "v1alpha2"), [_AGE]),
    ("TLSRoute", "tlsroutes", "Namespaced", (), ("v1", "v1alpha2", "v1alpha3"), [_AGE]),
    ("UDPRoute", "udproutes", "Namespaced", (), ("v1", "v1alpha2"), [_AGE]),
)
#: Versions the bundle serves with a deprecation warning.
_DEPRECATED = frozenset(
    {("BackendTLSPolicy", "v1alpha3"), ("TCPRoute", "v1alpha2"), ("TLSRoute", "v1alpha2"),
     ("TLSRoute", "v1alpha3"), ("UDPRoute", "v1alpha2")}
)  # fmt: skip


def crds() -> list[dict[str, Any]]:
    """The CustomResourceDefinition objects, as ``kubectl get crd -o yaml`` would show them (less schemas)."""
    out = []
    for kind, plural, scope, short, versions, columns in KINDS:
        names: dict[str, Any] = {
            "categories": ["gateway-api"],
            "kind": kind,
            "listKind": f"{kind}List",
            "plural": plural,
            "singular": kind.lower(),
        }
        if short:
            names["shortNames"] = list(short)
        out.append(
            {
                "apiVersion": f"{APIEXTENSIONS}/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {
                    "name": f"{plural}.{GROUP}",
                    "annotations": {
                        f"{GROUP}/bundle-version": BUNDLE_VERSION,
                        f"{GROUP}/channel": "experimental",
                    },
                },
                "spec": {
                    "group": GROUP,
                    "names": names,
                    "scope": scope,
                    "versions": [_version(kind, v, v == versions[0], columns) for v in versions],
                },
            }
        )
    return out


def _version(kind: str, name: str, storage: bool, columns: list[dict[str, Any]]) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": name,
        "served": True,
        "storage": storage,
        "additionalPrinterColumns": columns,
        # No schema: labkit checks these objects itself (see the module docstring).
        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
        "subresources": {"status": {}},
    }
    if kind == "ReferenceGrant":
        del version["subresources"]  # the one kind without a status
    if (kind, name) in _DEPRECATED:
        version["deprecated"] = True  # the API server then warns on each request at this version
    return version
