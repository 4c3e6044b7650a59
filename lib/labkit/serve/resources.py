"""The API resources the server serves, and the discovery documents clients read to find them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..meshconfig import ISTIO_NETWORKING_GROUP
from ..schema import K8S_VERSION

#: Verbs of an ordinary resource (what ``kubectl api-resources -o wide`` shows for Pods).
VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
ISTIO = ISTIO_NETWORKING_GROUP
ISTIO_CATEGORIES = ("istio-io", "networking-istio-io")
#: Istio serves its networking kinds at all three versions; v1 is stored (the schemas are identical).
ISTIO_VERSIONS = ("v1", "v1beta1", "v1alpha3")
RBAC = "rbac.authorization.k8s.io"
ADMISSION = "admissionregistration.k8s.io"
APIEXTENSIONS = "apiextensions.k8s.io"


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
    #: Defined by a CustomResourceDefinition: served as custom resources are (atomic lists, no strategic merge).
    custom: bool = False
    #: A custom resource's additionalPrinterColumns: (name, type, jsonPath, priority), for ``kubectl get``.
    printer_columns: tuple[tuple[str, str, str, int], ...] = ()
    #: Versions served with a deprecation warning, and the warning (CRD ``deprecationWarning``).
    deprecated: tuple[tuple[str, str], ...] = ()

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
    # Stored, listed and deleted; they have no effect on the simulation (it authorizes every request).
    Resource(RBAC, ("v1",), "Role", "roles", True),
    Resource(RBAC, ("v1",), "RoleBinding", "rolebindings", True),
    Resource(RBAC, ("v1",), "ClusterRole", "clusterroles", False),
    Resource(RBAC, ("v1",), "ClusterRoleBinding", "clusterrolebindings", False),
    # The Gateway API CRD bundle brings a ValidatingAdmissionPolicy and its binding; stored, never enforced.
    Resource(ADMISSION, ("v1",), "ValidatingAdmissionPolicy", "validatingadmissionpolicies", False),
    Resource(ADMISSION, ("v1",), "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings", False),
    # Each stored CustomResourceDefinition adds the kind it defines (see ``crds`` and ``catalog``).
    Resource(
        APIEXTENSIONS, ("v1",), "CustomResourceDefinition", "customresourcedefinitions", False, ("crd", "crds"),
        ("api-extensions",),
    ),
)

#: What a subresource answers (``kind`` in discovery) and the verbs it takes.
SUBRESOURCES = {"exec": ("PodExecOptions", ("create", "get")), "log": ("Pod", ("get",))}


def lookup(served: Sequence[Resource], group: str, version: str, plural: str) -> Resource | None:
    return next((r for r in served if r.group == group and r.plural == plural and version in r.versions), None)


def by_kind(served: Sequence[Resource], group: str, kind: str) -> Resource | None:
    return next((r for r in served if r.group == group and r.kind == kind), None)


def groups(served: Sequence[Resource]) -> dict[str, tuple[str, ...]]:
    """Served groups (not the core group) and their versions, preferred first.

    The API server's own groups come first, then the groups CRDs define (Istio's among them, as on a
    cluster) by name: kube-aggregator sorts by group priority, the same for every CRD group, then by
    name. The order decides which kind a bare ``kubectl get gateway`` means when two groups have a
    ``gateways``: with the Gateway API installed, its Gateway (istio/istio#44354, #28188).
    Kinds of one group may be served at different versions (TLSRoute at v1alpha2, Gateway not); the
    group lists every version any of its kinds is served at.
    """
    found: dict[str, list[str]] = {}
    for r in served:
        if r.group:
            known = found.setdefault(r.group, [])
            known.extend(v for v in r.versions if v not in known)
    own = [g for g in found if not _crd_group(g, served)]
    crd_groups = sorted(g for g in found if _crd_group(g, served))
    return {g: tuple(sorted(found[g], key=version_priority)) for g in (*own, *crd_groups)}


def _crd_group(group: str, served: Sequence[Resource]) -> bool:
    return group == ISTIO or any(r.custom and r.group == group for r in served)


def version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes' version order (apimachinery ``CompareKubeAwareVersionStrings``): GA before beta before
    alpha, higher numbers first, anything else last. Sorting by this puts the preferred version first."""
    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (3, 0, 0)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0))


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


def api_group_list(served: Sequence[Resource]) -> dict[str, Any]:
    """``GET /apis`` as the legacy APIGroupList, for clients that do not ask for aggregated discovery
    (``aggregated``): they read this document, then each group version's resource list."""
    groups_ = [api_group(name, versions) for name, versions in groups(served).items()]
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [{k: v for k, v in g.items() if k not in ("kind", "apiVersion")} for g in groups_],
    }


def resource_list(served: Sequence[Resource], group: str, version: str) -> dict[str, Any] | None:
    """``GET /api/v1`` or ``/apis/{group}/{version}``: the APIResourceList, None when not served."""
    here = [r for r in served if r.group == group and version in r.versions]
    if not here:
        return None
    entries: list[dict[str, Any]] = []
    for r in here:
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
