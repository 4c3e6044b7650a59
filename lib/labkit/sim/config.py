"""The Istio config a proxy sees right now (after istiod's push delay), with Istio's lookup rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from ..manifests import selector_matches
from . import registry
from .registry import MeshService, fqdn, host_matches

ISTIO = "networking.istio.io"
MESH_GATEWAY = "mesh"


@dataclass
class TlsSettings:
    mode: str  # DISABLE | SIMPLE | MUTUAL | ISTIO_MUTUAL
    settings: dict[str, Any]
    source: str  # which DestinationRule (and where in it) set this


@dataclass
class ProxyView:
    mesh: dict[str, Any]
    registry: list[MeshService]
    virtual_services: list[dict[str, Any]]
    destination_rules: list[dict[str, Any]]
    gateways: list[dict[str, Any]]
    root_namespace: str

    @property
    def outbound_policy(self) -> str:
        return (self.mesh.get("outboundTrafficPolicy") or {}).get("mode", "ALLOW_ANY")

    @property
    def access_log(self) -> bool:
        return bool(self.mesh.get("accessLogFile"))

    def service(self, host: str) -> MeshService | None:
        return registry.lookup(self.registry, host)

    def virtual_services_for(self, host: str, gateway: str) -> list[dict[str, Any]]:
        """VirtualServices for ``host`` bound to ``gateway`` (``mesh`` or ``ns/name``); omitted means mesh."""
        out = []
        for vs in self.virtual_services:
            ns = vs["metadata"]["namespace"]
            gateways = [qualify_gateway(g, ns) for g in vs["spec"].get("gateways") or [MESH_GATEWAY]]
            if gateway not in gateways:
                continue
            if any(host_matches(fqdn(h, ns), host) for h in vs["spec"].get("hosts", [])):
                out.append(vs)
        return out

    def destination_rule(self, host: str, client_namespace: str) -> dict[str, Any] | None:
        """Istio's order: the client's namespace, then the service's namespace, then the root namespace."""
        matching = [
            dr
            for dr in self.destination_rules
            if host_matches(fqdn(dr["spec"]["host"], dr["metadata"]["namespace"]), host)
        ]
        # A DestinationRule in any other namespace is not used, which is why lab 04 repeats the
        # gateway's DestinationRule in its own namespace.
        svc = self.service(host)
        for ns in (client_namespace, svc.namespace if svc else None, self.root_namespace):
            found = [dr for dr in matching if dr["metadata"]["namespace"] == ns]
            if found:
                return found[0]
        return None

    def subset(self, host: str, name: str, client_namespace: str) -> dict[str, Any] | None:
        dr = self.destination_rule(host, client_namespace)
        return next((s for s in (dr or {}).get("spec", {}).get("subsets") or [] if s.get("name") == name), None)

    def tls_for(self, host: str, port: int, subset: str | None, client_namespace: str) -> TlsSettings | None:
        """The upstream TLS settings for a cluster: subset port level, subset, port level, top level."""
        dr = self.destination_rule(host, client_namespace)
        if not dr:
            return None
        name = f"DestinationRule {dr['metadata']['namespace']}/{dr['metadata']['name']}"
        layers: list[tuple[str, dict[str, Any] | None]] = []
        if subset:
            sub = next((s for s in dr["spec"].get("subsets") or [] if s.get("name") == subset), None)
            if sub:
                layers.append((f"subset {subset}", sub.get("trafficPolicy")))
        layers.append(("trafficPolicy", dr["spec"].get("trafficPolicy")))
        for where, policy in layers:
            policy = policy or {}
            for pls in policy.get("portLevelSettings") or []:
                if (pls.get("port") or {}).get("number") == port and pls.get("tls"):
                    return TlsSettings(
                        pls["tls"].get("mode", "DISABLE"),
                        pls["tls"],
                        f"{name} {where} portLevelSettings[port {port}].tls",
                    )
            if policy.get("tls"):
                return TlsSettings(policy["tls"].get("mode", "DISABLE"), policy["tls"], f"{name} {where}.tls")
        return None

    def gateways_on(self, pod_labels: dict[str, str], gateway_namespace: str) -> list[dict[str, Any]]:
        """Gateway resources whose selector picks this gateway pod (any namespace, as by default)."""
        del gateway_namespace  # PILOT_SCOPE_GATEWAY_TO_NAMESPACE is off by default
        out = []
        for gw in self.gateways:
            selector = gw["spec"].get("selector") or {}
            if selector and selector_matches(selector, pod_labels):
                out.append(gw)
        return out


def qualify_gateway(name: str, namespace: str) -> str:
    if name == MESH_GATEWAY or "/" in name:
        return name
    return f"{namespace}/{name}"


def parse_mesh(text: str) -> dict[str, Any]:
    try:
        return yaml.safe_load(text or "") or {}
    except yaml.YAMLError:
        return {}  # istiod keeps its last good config; the sim falls back to defaults
