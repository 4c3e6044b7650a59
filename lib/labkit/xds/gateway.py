"""An egress (or ingress) gateway's listeners and route configurations from the Gateway resources that
select it (Istio 1.27: core/gateway.go, model/gateway.go MergeGateways).

A Gateway server names a Service port (80); the gateway listens on that port's targetPort (8080), so
the listener is ``0.0.0.0_8080``. Plain HTTP servers on a port share route config ``http.<targetPort>``;
an HTTPS server that terminates TLS gets its own ``https.<port>.<portName>.<gateway>.<namespace>``;
a PASSTHROUGH server gets one SNI filter chain per matching VirtualService tls route.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..schema.istio import Destination
from ..sim.registry import HTTP_PROTOCOLS, fqdn
from ..sim.scope import hosts_overlap, subset_of
from .envoy import LISTENER, ROUTE_CONFIG, TLS_INSPECTOR, Obj, address, typed
from .errors import TranslationError
from .hcm import connection_manager
from .names import gateway_http_route_name, gateway_https_route_name, listener_name, virtual_host_name
from .routes import MAX_DIRECT_RESPONSE_BODY, RouteContext, destination_cluster, routes_for_virtual_service
from .sidecar import WILDCARD, _ports_of, tls_route_chains
from .tls import server_tls

#: Server fields translated here (name is the HTTPS chain's stat prefix); bind and defaultEndpoint are refused.
SERVER_FIELDS = {"port", "hosts", "tls", "name"}


@dataclass(frozen=True)
class Server:
    """One Gateway server, with the gateway it belongs to and the port the pod listens on."""

    gateway: dict[str, Any]
    spec: dict[str, Any]
    target_port: int

    @property
    def gateway_name(self) -> str:
        return f"{self.gateway['metadata']['namespace']}/{self.gateway['metadata']['name']}"

    @property
    def port(self) -> int:
        return int(self.spec["port"]["number"])

    @property
    def protocol(self) -> str:
        return str(self.spec["port"].get("protocol", "")).upper()

    @property
    def tls_mode(self) -> str | None:
        return (self.spec.get("tls") or {}).get("mode")

    @property
    def terminates_http(self) -> bool:
        """IsHTTPSServerWithTLSTermination: HTTPS with a non-passthrough TLS mode."""
        return self.protocol == "HTTPS" and self.tls_mode not in (None, "PASSTHROUGH", "AUTO_PASSTHROUGH")

    @property
    def route_name(self) -> str:
        if self.protocol in HTTP_PROTOCOLS:
            return gateway_http_route_name(self.target_port)
        if self.terminates_http:
            meta = self.gateway["metadata"]
            return gateway_https_route_name(
                self.port, self.spec["port"].get("name", ""), meta["name"], meta["namespace"]
            )
        return ""

    @property
    def https_redirect(self) -> bool:
        return bool((self.spec.get("tls") or {}).get("httpsRedirect"))

    @property
    def hosts(self) -> list[str]:
        """Server hosts without their ``namespace/`` prefix."""
        return [h.split("/", 1)[-1] for h in self.spec.get("hosts") or []]

    @property
    def where(self) -> str:
        return f"Gateway {self.gateway_name} server port {self.port}"


def servers(gateways: list[dict[str, Any]], target_of: dict[int, int]) -> list[Server]:
    """Every server of the Gateways selecting this pod, on the port resolvePorts gives it (the
    Service's targetPort for its port, else the port itself)."""
    out = []
    for gw in gateways:
        for spec in gw["spec"].get("servers") or []:
            unknown = sorted(set(spec) - SERVER_FIELDS)
            server = Server(gw, spec, target_of.get(int(spec["port"]["number"]), int(spec["port"]["number"])))
            if unknown:
                raise TranslationError(f"{server.where}: {unknown[0]} is not translated to Envoy config by labkit")
            out.append(server)
    return out


@dataclass
class GatewayInput:
    servers: list[Server]
    virtual_services: list[dict[str, Any]]  # every VirtualService exported to the gateway's namespace
    namespace: str
    labels: dict[str, str]
    access_log: list[Obj]
    listener_log: list[Obj]
    view: Any  # ProxyView: the services the gateway has clusters for

    @property
    def tracing(self) -> bool:
        """meshConfig.enableTracing, true unless set false."""
        return self.view.mesh.get("enableTracing", True) is not False


def bound_to(inp: GatewayInput, gateway_name: str) -> list[dict[str, Any]]:
    """VirtualServicesForGateway: those whose ``gateways`` name this Gateway."""
    out = []
    for vs in inp.virtual_services:
        ns = vs["metadata"]["namespace"]
        names = {g if "/" in g else f"{ns}/{g}" for g in vs["spec"].get("gateways") or [] if g != "mesh"}
        if gateway_name in names:
            out.append(vs)
    return out


# -- listeners --------------------------------------------------------------------------------------


def gateway_listeners(inp: GatewayInput) -> list[Obj]:
    """One listener per target port; HTTP and TLS servers cannot share one (istiod keeps the first)."""
    by_port: dict[int, list[Server]] = {}
    for server in inp.servers:
        by_port.setdefault(server.target_port, []).append(server)
    listeners = [_listener(inp, port, group) for port, group in sorted(by_port.items())]
    # gateway.go: a listener without filter chains is omitted ("gateway omitting listener ... must have more
    # than 0 chains in listener"), e.g. a PASSTHROUGH server no VirtualService routes yet; Envoy would
    # reject it, and the whole LDS update with it.
    return [x for x in listeners if x.get("filter_chains")]


def _listener(inp: GatewayInput, port: int, group: list[Server]) -> Obj:
    first = group[0]
    stat = f"outbound_{WILDCARD}_{port}"
    chains: list[Obj] = []
    if first.protocol in HTTP_PROTOCOLS:
        chains.append(
            {"filters": [connection_manager(stat, first.route_name, inp.access_log, gateway=True, tracing=inp.tracing)]}
        )
    else:
        claimed: set[str] = set()
        for server in group:
            if server.protocol in HTTP_PROTOCOLS:
                continue  # istiod: a plain-text HTTP server can't share a port with TLS servers
            if server.terminates_http:
                socket, _ = server_tls(server.spec, server.where)
                chain: Obj = {
                    "filters": [
                        connection_manager(
                            server.spec.get("name") or stat,
                            server.route_name,
                            inp.access_log,
                            gateway=True,
                            tracing=inp.tracing,
                        )
                    ],
                    "transport_socket": socket,
                }
                snis = [h for h in server.hosts if h != "*"]
                if snis:
                    chain["filter_chain_match"] = {"server_names": snis}
                chains.append(chain)
            elif server.tls_mode == "PASSTHROUGH":
                chains += _passthrough_chains(inp, server, claimed)
            else:
                raise TranslationError(
                    f"{server.where}: protocol {server.protocol} with tls mode {server.tls_mode} is not translated"
                )
    out: Obj = {
        "@type": LISTENER,
        "name": listener_name(WILDCARD, port),
        "address": address(WILDCARD, port),
        "filter_chains": chains,
    }
    if any("server_names" in (c.get("filter_chain_match") or {}) for c in chains):
        out["listener_filters"] = [typed("envoy.filters.listener.tls_inspector", TLS_INSPECTOR)]
    out["traffic_direction"] = "OUTBOUND"
    out["access_log"] = inp.listener_log
    return out


def _passthrough_chains(inp: GatewayInput, server: Server, claimed: set[str]) -> list[Obj]:
    """buildGatewayNetworkFiltersFromTLSRoutes: VirtualServices bound to the Gateway whose hosts meet
    the server's, one chain per tls match for this server's port and gateway."""
    chains: list[Obj] = []
    for vs in bound_to(inp, server.gateway_name):
        ns = vs["metadata"]["namespace"]
        hosts = [fqdn(h, ns) for h in vs["spec"].get("hosts") or []]
        if not any(hosts_overlap(h, s) for h in hosts for s in server.hosts):
            continue
        chains += tls_route_chains(inp, vs, server.port, frozenset({server.gateway_name}), claimed)
    return chains


# -- route configurations ---------------------------------------------------------------------------


def gateway_route_configs(inp: GatewayInput) -> list[Obj]:
    names: dict[str, list[Server]] = {}
    for server in inp.servers:
        if server.route_name:
            names.setdefault(server.route_name, []).append(server)
    return [route_config(inp, name, group) for name, group in names.items()]


def route_config(inp: GatewayInput, name: str, group: list[Server]) -> Obj:
    """buildGatewayHTTPRouteConfig: for each server, each bound VirtualService's routes on the
    hosts it shares with the server; no host at all gives the 404 ``blackhole:<port>`` virtual host."""
    vhosts: dict[str, Obj] = {}
    for server in group:
        ctx = RouteContext(
            server.port,
            frozenset({server.gateway_name}),
            inp.labels,
            inp.namespace,
            is_tls=bool(server.spec.get("tls")),
        )
        for vs in bound_to(inp, server.gateway_name):
            ns = vs["metadata"]["namespace"]
            shared = _intersect([fqdn(h, ns) for h in vs["spec"].get("hosts") or []], server.hosts)
            if not shared:
                continue
            ports = _ports_of(inp.view)
            routes = routes_for_virtual_service(
                vs, ctx, functools.partial(_destination_on, port=server.port, ports=ports)
            )
            if not routes:
                continue
            for host in shared:
                host = host.lower()
                if host in vhosts:
                    vhosts[host]["routes"] += routes
                    if server.https_redirect:
                        vhosts[host]["require_tls"] = "ALL"
                else:
                    vhosts[host] = {
                        "name": virtual_host_name(host, server.port),
                        "domains": [host],
                        "routes": list(routes),
                        "include_request_attempt_count": True,
                    }
                    if server.https_redirect:  # tls.httpsRedirect: Envoy redirects plain HTTP to https
                        vhosts[host]["require_tls"] = "ALL"
        for host in server.hosts if server.https_redirect else []:
            # a host no VirtualService routes still gets the redirect (buildGatewayHTTPRouteConfig)
            vhosts.setdefault(
                host.lower(),
                {
                    "name": virtual_host_name(host.lower(), server.port),
                    "domains": [host.lower()],
                    "include_request_attempt_count": True,
                    "require_tls": "ALL",
                },
            )
    out = sorted(vhosts.values(), key=lambda v: v["name"])
    if not out:
        out = [{"name": virtual_host_name("blackhole", group[0].port), "domains": ["*"], "routes": []}]
    return {
        "@type": ROUTE_CONFIG,
        "name": name,
        "virtual_hosts": out,
        "validate_clusters": False,
        "max_direct_response_body_size_bytes": MAX_DIRECT_RESPONSE_BODY,
        "ignore_port_in_host_matching": True,
    }


def _intersect(vs_hosts: list[str], server_hosts: list[str]) -> list[str]:
    """host.Names Intersection: of two overlapping names, the more specific one."""
    out: list[str] = []
    for v in vs_hosts:
        for s in server_hosts:
            if s == "*" or subset_of(v, s):
                pick = v
            elif subset_of(s, v):
                pick = s
            else:
                continue
            if pick not in out:
                out.append(pick)
    return out


def _destination_on(dest: Destination, vs_namespace: str, *, port: int, ports: Callable[..., Any]) -> str:
    """``destination_cluster`` for one gateway server port (a named function, so its types are known)."""
    return destination_cluster(dest, vs_namespace, port, ports)
