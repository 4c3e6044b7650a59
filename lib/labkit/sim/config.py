"""The Istio config a proxy sees right now (after istiod's push delay), with Istio's lookup rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import meshconfig
from ..manifests import selector_matches
from ..meshconfig import ISTIO_NETWORKING_GROUP
from .registry import MeshService
from .scope import Scope

ISTIO = ISTIO_NETWORKING_GROUP
MESH_GATEWAY = "mesh"


@dataclass
class TlsSettings:
    mode: str  # DISABLE | SIMPLE | MUTUAL | ISTIO_MUTUAL
    settings: dict[str, Any]
    source: str  # which DestinationRule (and where in it) set this


@dataclass
class ProxyView:
    """The config one proxy holds: the services, routes and rules its Scope lets it see
    (exportTo, the Sidecar resource), plus the mesh config and the Gateway resources."""

    mesh: dict[str, Any]
    scope: Scope
    gateways: list[dict[str, Any]]
    root_namespace: str

    @property
    def outbound_policy(self) -> str:
        """The Sidecar resource's outboundTrafficPolicy when one applies, else the mesh's."""
        return self.scope.outbound_policy

    @property
    def access_log(self) -> bool:
        return bool(self.mesh.get("accessLogFile"))

    @property
    def registry(self) -> list[MeshService]:
        """Every service this proxy has a cluster for (VirtualService destinations included)."""
        return self.scope.services

    @property
    def visible(self) -> list[MeshService]:
        """The services an app's own requests can address (what the egress listeners import)."""
        out: list[MeshService] = []
        for listener in self.scope.egress:
            out += [s for s in listener.services if not any(s is seen for seen in out)]
        return out

    def visible_on(self, port: int) -> list[MeshService]:
        """The services the egress listener serving ``port`` imports, that have that port."""
        listener = self.scope.listener_for(port)
        return [s for s in listener.services if s.port(port) is not None] if listener is not None else []

    def service(self, host: str) -> MeshService | None:
        return self.scope.service(host)

    def virtual_services_for(self, host: str, gateway: str) -> list[dict[str, Any]]:
        """VirtualServices for ``host`` bound to ``gateway`` (``mesh`` or ``ns/name``); omitted means mesh."""
        return self.scope.virtual_services_for(host, gateway)

    def destination_rule(self, host: str, client_namespace: str) -> dict[str, Any] | None:
        """Istio's order: the client's namespace, then the service's namespace, then the root namespace
        (lab 04 repeats the gateway's DestinationRule in its own namespace for this reason)."""
        del client_namespace  # the scope belongs to the client proxy: its namespace comes first
        return self.scope.destination_rule(host)

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
        return meshconfig.parse_mesh(text)
    except meshconfig.MeshConfigError:
        return {}  # istiod keeps its last good config; the sim falls back to defaults
