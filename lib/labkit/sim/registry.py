"""The service registry as istiod builds it: Kubernetes Services plus ServiceEntries.

It decides which hosts the proxies know. Under REGISTRY_ONLY, anything not here is blocked.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from .cluster import CLUSTER_DOMAIN

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

    def port(self, number: int) -> Port | None:
        return next((p for p in self.ports if p.number == number), None)

    def matches(self, host: str) -> bool:
        return host_matches(self.hostname, host)


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
    out = []
    for svc in services:
        ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
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
                )
            )
    return out


def lookup(registry: list[MeshService], host: str) -> MeshService | None:
    """The registry entry for a host; exact names win over wildcards, as in Istio."""
    exact = [s for s in registry if s.hostname.lower() == host.lower()]
    if exact:
        return exact[0]
    return next((s for s in registry if s.matches(host)), None)
