"""The service registry as istiod builds it: Kubernetes Services plus ServiceEntries.

It decides which hosts the proxies know. Under REGISTRY_ONLY, anything not here is blocked.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace
from typing import Any

from .cluster import CLUSTER_DOMAIN, EXTERNAL_NAME

EXPORT_TO_ANNOTATION = "networking.istio.io/exportTo"  # a Kubernetes Service's exportTo

HTTP_PROTOCOLS = {"HTTP", "HTTP2", "GRPC", "GRPC-WEB"}
TLS_PROTOCOLS = {"HTTPS", "TLS"}


@dataclass(frozen=True)
class Port:
    number: int
    name: str
    protocol: str  # upper case Istio protocol: HTTP, HTTPS, TLS, TCP, ...
    target_port: int | None = None

    @property
    def is_http(self) -> bool:
        return self.protocol in HTTP_PROTOCOLS

    @property
    def is_tls(self) -> bool:
        return self.protocol in TLS_PROTOCOLS


@dataclass
class MeshService:
    hostname: str
    namespace: str
    ports: list[Port]
    source: str  # "ServiceEntry default/httpbin-ext" or "Service default/sleep"
    resolution: str = "DNS"  # DNS | DNS_ROUND_ROBIN | STATIC | NONE | CLUSTER (a Kubernetes Service)
    location: str = "MESH_EXTERNAL"
    addresses: list[str] = field(default_factory=list)
    endpoints: list[dict[str, Any]] = field(default_factory=list)
    k8s: dict[str, Any] | None = None
    # What istiod orders and filters registry entries by (pilot/pkg/model/push_context.go):
    export_to: tuple[str, ...] = ()  # empty: not set, the mesh default applies
    created: str = ""  # creationTimestamp of the Service or ServiceEntry: older entries win ties
    name: str = ""  # Istio's service name: the Service's name, or the host for a ServiceEntry
    labels: dict[str, str] = field(default_factory=dict)
    #: ExternalName Services whose external name is this host: istiod matches them wherever it
    #: matches this host (Istio 1.21+, model.Alias; push_context.go resolveServiceAliases).
    aliases: tuple[str, ...] = ()

    @property
    def is_kubernetes(self) -> bool:
        """From the Kubernetes registry (a Service), not from a ServiceEntry."""
        return self.k8s is not None

    def port(self, number: int) -> Port | None:
        return next((p for p in self.ports if p.number == number), None)

    def matches(self, host: str) -> bool:
        """The host is this entry's (a ``*.`` wildcard included) or a name of one of its aliases."""
        return host_matches(self.hostname, host) or any(host.lower() in alias_names(a) for a in self.aliases)


def alias_names(service_host: str) -> set[str]:
    """The Host values an alias answers to: its full name and the short forms istiod adds to the virtual
    host (route.GenerateAltVirtualHosts: name.ns and name.ns.svc from any namespace; the bare name is
    for the alias's own namespace, where it is also the only place DNS resolves it)."""
    name, namespace = service_host.split(".")[:2]
    return {service_host, f"{name}.{namespace}", f"{name}.{namespace}.svc", name}


def host_matches(pattern: str, host: str) -> bool:
    """Istio host matching: exact, or a ``*.`` wildcard."""
    host, pattern = host.lower(), pattern.lower()
    return host == pattern or (pattern.startswith("*") and fnmatch.fnmatch(host, pattern))


def fqdn(host: str, namespace: str) -> str:
    """Short names in Istio config are relative to the config's namespace."""
    if "." in host or host == "*" or host.startswith("*"):
        return host
    return f"{host}.{namespace}.svc.{CLUSTER_DOMAIN}"


def protocol_from_port_name(name: str, app_protocol: str | None = None) -> str:
    """Istio's protocol selection for Kubernetes Service ports: appProtocol, then the name prefix."""
    candidate = (app_protocol or name or "").split("-")[0].lower()
    known = {
        "http": "HTTP",
        "http2": "HTTP2",
        "https": "HTTPS",
        "tls": "TLS",
        "grpc": "GRPC",
        "tcp": "TCP",
        "mongo": "Mongo",
        "redis": "Redis",
        "mysql": "MySQL",
        "udp": "UDP",
    }
    return known.get(candidate, "TCP")  # unnamed ports are sniffed; TCP is the safe model


def build(services: list[dict[str, Any]], service_entries: list[dict[str, Any]]) -> list[MeshService]:
    """The registry istiod builds (Istio 1.27): a Service is an entry of its own; an ExternalName
    Service is not (no cluster, listener or route), it becomes an alias of the entry whose hostname
    is its external name, and without such an entry it matches nothing."""
    out = []
    for svc in services:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        if svc["spec"].get("type") == EXTERNAL_NAME:
            continue  # an alias: see external_name_aliases
        ports = [
            Port(
                p["port"],
                p.get("name", ""),
                protocol_from_port_name(p.get("name", ""), p.get("appProtocol")),
                p.get("targetPort") if isinstance(p.get("targetPort"), int) else None,
            )
            for p in svc["spec"].get("ports", [])
            if p.get("protocol", "TCP") == "TCP"
        ]
        out.append(
            MeshService(
                fqdn(name, ns),
                ns,
                ports,
                f"Service {ns}/{name}",
                "CLUSTER",
                "MESH_INTERNAL",
                [svc["spec"].get("clusterIP", "")],
                k8s=svc,
                export_to=_split(((svc["metadata"].get("annotations") or {}).get(EXPORT_TO_ANNOTATION)) or ""),
                created=svc["metadata"].get("creationTimestamp", ""),
                name=name,
                labels=dict(svc["metadata"].get("labels") or {}),
            )
        )
    for se in service_entries:
        ns, name, spec = se["metadata"]["namespace"], se["metadata"]["name"], se["spec"]
        ports = [
            Port(p["number"], p.get("name", ""), p.get("protocol", "TCP").upper(), p.get("targetPort"))
            for p in spec.get("ports", [])
        ]
        for host in spec.get("hosts", []):
            out.append(
                MeshService(
                    host,
                    ns,
                    ports,
                    f"ServiceEntry {ns}/{name}",
                    spec.get("resolution", "NONE"),
                    spec.get("location", "MESH_EXTERNAL"),
                    list(spec.get("addresses") or []),
                    list(spec.get("endpoints") or []),
                    export_to=tuple(spec.get("exportTo") or ()),
                    created=se["metadata"].get("creationTimestamp", ""),
                    name=host,
                    labels=canonical_labels(name, se["metadata"].get("labels") or {}),
                )
            )
    aliases = external_name_aliases(services)
    return [replace(s, aliases=tuple(aliases[s.hostname.lower()])) if s.hostname.lower() in aliases else s for s in out]


def external_name_aliases(services: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Concrete hostname → the ExternalName Services (full names) that alias it, as istiod's
    resolveServiceAliases: a chain of ExternalNames resolves to its last name; a loop to nothing."""
    targets = {
        fqdn(s["metadata"]["name"], s["metadata"]["namespace"]): str(s["spec"]["externalName"]).lower().rstrip(".")
        for s in services
        if s["spec"].get("type") == EXTERNAL_NAME and s["spec"].get("externalName")
    }
    out: dict[str, list[str]] = {}
    for alias, target in targets.items():
        seen = {alias}
        while target in targets and target not in seen:
            seen.add(target)
            target = targets[target]
        if target in targets:  # a loop: Kubernetes DNS answers NXDOMAIN, istiod drops it
            continue
        out.setdefault(target, []).append(alias)
    return {host: sorted(names) for host, names in out.items()}


def _split(value: str) -> tuple[str, ...]:
    """The annotation's comma-separated list, as istiod reads it (kube/conversion.go)."""
    return tuple(v.strip() for v in value.split(",")) if value else ()


def canonical_labels(name: str, labels: dict[str, str]) -> dict[str, str]:
    """A ServiceEntry's labels plus the canonical service labels istiod adds to them
    (serviceentry/conversion.go ensureCanonicalServiceLabels): they decide whether two entries merge."""
    out = dict(labels)
    out.setdefault(
        "service.istio.io/canonical-name",
        labels.get("app.kubernetes.io/name") or labels.get("app") or name,
    )
    out.setdefault(
        "service.istio.io/canonical-revision",
        labels.get("app.kubernetes.io/version") or labels.get("version") or "latest",
    )
    return out


def creation_order(services: list[MeshService]) -> list[MeshService]:
    """istiod's SortServicesByCreationTime: oldest first, then by name and namespace."""
    return sorted(services, key=lambda s: (s.created, s.name, s.namespace))


def lookup(registry: list[MeshService], host: str) -> MeshService | None:
    """The registry entry for a host; exact names win over wildcards, as in Istio."""
    exact = [s for s in registry if s.hostname.lower() == host.lower()]
    if exact:
        return exact[0]
    return next((s for s in registry if s.matches(host)), None)
