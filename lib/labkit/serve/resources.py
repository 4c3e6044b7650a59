"""The API resources the server serves, and the discovery documents clients read to find them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..schema import K8S_VERSION

#: Verbs of an ordinary resource (what ``kubectl api-resources -o wide`` shows for Pods).
VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
ISTIO = "networking.istio.io"
ISTIO_CATEGORIES = ("istio-io", "networking-istio-io")
#: Istio serves its networking kinds at all three versions; v1 is stored (the schemas are identical).
ISTIO_VERSIONS = ("v1", "v1beta1", "v1alpha3")


@dataclass(frozen=True)
class Resource:
    """One kind as the API serves it: ``/apis/{group}/{version}/namespaces/{ns}/{plural}/{name}``."""

    group: str
    versions: tuple[str, ...]  # the first is the preferred (storage) version
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()

    @property
    def singular(self) -> str:
        return self.kind.lower()

    def api_version(self, version: str | None = None) -> str:
        version = version or self.versions[0]
        return f"{self.group}/{version}" if self.group else version

    def qualified(self) -> str:
        """How error messages name the resource: ``pods``, ``serviceentries.networking.istio.io``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def kind_qualified(self) -> str:
        """How Invalid errors name the kind: ``Service``, ``ServiceEntry.networking.istio.io``."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


def _core(kind: str, plural: str, *short: str, namespaced: bool = True, **kw: Any) -> Resource:
    return Resource("", ("v1",), kind, plural, namespaced, tuple(short), **kw)


RESOURCES: tuple[Resource, ...] = (
    _core("Namespace", "namespaces", "ns", namespaced=False),
    _core("Pod", "pods", "po", categories=("all",), subresources=("exec", "log")),
    _core("Service", "services", "svc", categories=("all",)),
    # A Service without a selector gets its endpoints from these (istio.io's egress-kubernetes-services).
    _core("Endpoints", "endpoints", "ep"),
    Resource("discovery.k8s.io", ("v1",), "EndpointSlice", "endpointslices", True),
    _core("ServiceAccount", "serviceaccounts", "sa"),
    _core("ConfigMap", "configmaps", "cm"),
    _core("Secret", "secrets"),
    _core("Event", "events", "ev"),
    Resource("apps", ("v1",), "Deployment", "deployments", True, ("deploy",), ("all",)),
    Resource("apps", ("v1",), "ReplicaSet", "replicasets", True, ("rs",), ("all",)),
    Resource("apps", ("v1",), "DaemonSet", "daemonsets", True, ("ds",), ("all",)),
    Resource("networking.k8s.io", ("v1",), "NetworkPolicy", "networkpolicies", True, ("netpol",)),
    Resource(ISTIO, ISTIO_VERSIONS, "ServiceEntry", "serviceentries", True, ("se",), ISTIO_CATEGORIES),
    Resource(ISTIO, ISTIO_VERSIONS, "VirtualService", "virtualservices", True, ("vs",), ISTIO_CATEGORIES),
    Resource(ISTIO, ISTIO_VERSIONS, "DestinationRule", "destinationrules", True, ("dr",), ISTIO_CATEGORIES),
    Resource(ISTIO, ISTIO_VERSIONS, "Gateway", "gateways", True, ("gw",), ISTIO_CATEGORIES),
    Resource(ISTIO, ISTIO_VERSIONS, "Sidecar", "sidecars", True, (), ISTIO_CATEGORIES),
)

#: What a subresource answers (``kind`` in discovery) and the verbs it takes.
SUBRESOURCES = {"exec": ("PodExecOptions", ("create", "get")), "log": ("Pod", ("get",))}


def lookup(group: str, version: str, plural: str) -> Resource | None:
    return next((r for r in RESOURCES if r.group == group and r.plural == plural and version in r.versions), None)


def by_kind(group: str, kind: str) -> Resource | None:
    return next((r for r in RESOURCES if r.group == group and r.kind == kind), None)


def groups() -> dict[str, tuple[str, ...]]:
    """Served groups (not the core group) and their versions, in the order first met."""
    out: dict[str, tuple[str, ...]] = {}
    for r in RESOURCES:
        if r.group:
            out.setdefault(r.group, r.versions)
    return out


def version_info() -> dict[str, str]:
    """``GET /version``: the Kubernetes release whose schemas labkit validates against."""
    major, minor, _ = K8S_VERSION.split(".")
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"v{K8S_VERSION}",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(address: str) -> dict[str, Any]:
    """``GET /api``: the legacy core group."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
    }


def api_group(name: str, versions: tuple[str, ...]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list() -> dict[str, Any]:
    """``GET /apis`` as the legacy APIGroupList.

    kubectl first asks for aggregated discovery (``as=APIGroupDiscoveryList``); answering with plain
    ``application/json`` makes it fall back to this document and the per-version lists, as it does
    with API servers older than 1.26.
    """
    groups_ = [api_group(name, versions) for name, versions in groups().items()]
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [{k: v for k, v in g.items() if k not in ("kind", "apiVersion")} for g in groups_],
    }


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    """``GET /api/v1`` or ``/apis/{group}/{version}``: the APIResourceList, None when not served."""
    served = [r for r in RESOURCES if r.group == group and version in r.versions]
    if not served:
        return None
    entries: list[dict[str, Any]] = []
    for r in served:
        entry: dict[str, Any] = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(VERBS),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        entries.append(entry)
        for sub in r.subresources:
            kind, verbs = SUBRESOURCES[sub]
            entries.append(
                {
                    "name": f"{r.plural}/{sub}",
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "kind": kind,
                    "verbs": list(verbs),
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": entries,
    }
