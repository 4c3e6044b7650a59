"""A sidecar's outbound listeners and route configurations (Istio 1.27: core/listener.go,
listener_builder.go, httproute.go, route/route.go), built from the proxy's Scope.

- ``virtualOutbound`` on 15001 receives what iptables redirects and hands it to the listener for the
  original destination (use_original_dst), else to its catch-all chain: PassthroughCluster under
  ALLOW_ANY, BlackHoleCluster under REGISTRY_ONLY;
- ``0.0.0.0_<port>`` for a port some visible service speaks HTTP on: an HCM with route config
  ``<port>``; TLS services on the port add SNI chains;
- ``<ip>_<port>`` for TCP/TLS ports of a Service's cluster IP or a ServiceEntry's ``addresses``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ..sim.config import MESH_GATEWAY, ProxyView
from ..sim.registry import MeshService, Port, fqdn
from ..sim.scope import ListenerView, subset_of
from .envoy import HTTP_INSPECTOR, LISTENER, ROUTE_CONFIG, TLS_INSPECTOR, Obj, address, tcp_proxy, typed
from .errors import TranslationError
from .hcm import connection_manager
from .names import (
    ALLOW_ANY,
    BLACKHOLE,
    BLOCK_ALL,
    PASSTHROUGH,
    PASSTHROUGH_FILTER_CHAIN,
    VIRTUAL_OUTBOUND,
    VIRTUAL_OUTBOUND_BLACKHOLE_CHAIN,
    VIRTUAL_OUTBOUND_CATCHALL_CHAIN,
    VIRTUAL_OUTBOUND_PORT,
    listener_name,
    sidecar_route_name,
    virtual_host_name,
)
from .routes import (
    MAX_DIRECT_RESPONSE_BODY,
    NO_TIMEOUT,
    RouteContext,
    default_route,
    destination_cluster,
    routes_for_virtual_service,
)

WILDCARD = "0.0.0.0"
#: listener.go plaintextHTTPALPNs: the HTTP chain of a wildcard listener matches plain-text HTTP.
PLAINTEXT_HTTP_ALPNS = ["http/1.1", "h2c"]


@dataclass
class SidecarInput:
    """What the sidecar translation needs besides the proxy's view."""

    view: ProxyView
    namespace: str
    labels: dict[str, str]
    access_log: list[Obj]
    listener_log: list[Obj]

    @property
    def catch_all_cluster(self) -> str:
        return PASSTHROUGH if self.view.outbound_policy == "ALLOW_ANY" else BLACKHOLE

    @staticmethod
    def addresses(svc: MeshService) -> list[str]:
        """A Service's cluster IP (none when headless) or a ServiceEntry's ``addresses``."""
        return [a for a in svc.addresses if a and a not in ("None", "0.0.0.0")]


# -- listeners --------------------------------------------------------------------------------------


def virtual_outbound(inp: SidecarInput) -> Obj:
    """buildVirtualOutboundListener: the blackhole chain for traffic addressed to 15001 itself, then
    the catch-all (Passthrough or BlackHole by the outbound policy)."""
    return {
        "@type": LISTENER,
        "name": VIRTUAL_OUTBOUND,
        "address": address(WILDCARD, VIRTUAL_OUTBOUND_PORT),
        "filter_chains": [
            {
                "filter_chain_match": {"destination_port": VIRTUAL_OUTBOUND_PORT},
                "filters": [tcp_proxy(BLACKHOLE, [])],
                "name": VIRTUAL_OUTBOUND_BLACKHOLE_CHAIN,
            },
            {"filters": [tcp_proxy(inp.catch_all_cluster, inp.access_log)], "name": VIRTUAL_OUTBOUND_CATCHALL_CHAIN},
        ],
        "use_original_dst": True,
        "traffic_direction": "OUTBOUND",
        "access_log": inp.listener_log,
    }


@dataclass
class PortServices:
    """The visible services with one port number, split the way istiod builds listeners for them."""

    http: list[MeshService] = field(default_factory=list)
    tls: list[MeshService] = field(default_factory=list)  # no VIP: matched by SNI on 0.0.0.0_<port>
    tcp_wildcard: list[MeshService] = field(default_factory=list)  # no VIP, plain TCP: the whole port
    by_address: list[tuple[str, MeshService]] = field(default_factory=list)


def services_by_port(inp: SidecarInput) -> dict[int, PortServices]:
    """Per port: the services each egress listener imports (a port-narrowing listener only its port)."""
    out: dict[int, PortServices] = {}
    seen: set[tuple[int, str]] = set()
    for view in inp.view.scope.egress:
        narrowed = view.listener.port if view.listener.matches_port else None
        for svc in view.services:
            for port in svc.ports:
                if (narrowed and port.number != narrowed) or (port.number, svc.hostname) in seen:
                    continue
                seen.add((port.number, svc.hostname))
                _place(out.setdefault(port.number, PortServices()), svc, port, inp)
    return out


def _place(group: PortServices, svc: MeshService, port: Port, inp: SidecarInput) -> None:
    if port.is_http:
        group.http.append(svc)
        return
    addresses = inp.addresses(svc)
    if addresses:
        for a in addresses:
            net = ipaddress.ip_network(a, strict=False)
            if net.num_addresses != 1:
                raise TranslationError(f"{svc.source}: address range {a} is not translated; list single addresses")
            group.by_address.append((str(net.network_address), svc))
    elif port.is_tls:
        group.tls.append(svc)
    else:
        group.tcp_wildcard.append(svc)


def outbound_listeners(inp: SidecarInput) -> list[Obj]:
    listeners = [virtual_outbound(inp)]
    for number, group in sorted(services_by_port(inp).items()):
        for ip, svc in group.by_address:
            listeners.append(address_listener(inp, ip, number, svc))
        if group.http or group.tls or group.tcp_wildcard:
            listeners.append(wildcard_listener(inp, number, group))
    names = [item["name"] for item in listeners]
    return [item for i, item in enumerate(listeners) if item["name"] not in names[:i]]


def address_listener(inp: SidecarInput, ip: str, port: int, svc: MeshService) -> Obj:
    """A listener on one address: a ``mesh`` VirtualService's tls routes by SNI first, then everything
    else to ``ip:port`` to the service's cluster."""
    claimed: set[str] = set()
    chains: list[Obj] = []
    if svc.port(port) is not None and svc.port(port).is_tls:  # type: ignore[union-attr]
        for vs in inp.view.virtual_services_for(svc.hostname, MESH_GATEWAY):
            chains += tls_route_chains(inp, vs, port, frozenset({MESH_GATEWAY}), claimed)
    chains.append({"filters": [tcp_proxy(tcp_destination(inp, svc, port), inp.access_log)]})
    return _listener(
        listener_name(ip, port),
        address(ip, port),
        chains,
        inp,
        needs_tls_inspector=bool(claimed),
        needs_http_inspector=False,
        default_chain=False,
    )


def tcp_destination(inp: SidecarInput, svc: MeshService, port: int) -> str:
    """A TCP/TLS service's cluster, or where a ``mesh`` VirtualService's tcp route sends it."""
    for vs in inp.view.virtual_services_for(svc.hostname, MESH_GATEWAY):
        if vs["spec"].get("tcp"):
            name = f"VirtualService {vs['metadata']['namespace']}/{vs['metadata']['name']}"
            raise TranslationError(f"{name}: tcp routes are not translated to Envoy config by labkit")
    return f"outbound|{port}||{svc.hostname}"


def wildcard_listener(inp: SidecarInput, port: int, group: PortServices) -> Obj:
    chains: list[Obj] = []
    if group.http:
        hcm = connection_manager(
            f"outbound_{WILDCARD}_{port}",
            sidecar_route_name(port),
            inp.access_log,
            tracing=inp.view.mesh.get("enableTracing", True) is not False,
        )
        chains.append(
            {
                "filter_chain_match": {
                    "transport_protocol": "raw_buffer",
                    "application_protocols": list(PLAINTEXT_HTTP_ALPNS),
                },
                "filters": [hcm],
            }
        )
    chains += sni_chains(inp, port, group.tls)
    if group.tcp_wildcard:
        svc = group.tcp_wildcard[0]  # one TCP service owns a port without addresses; istiod drops the rest
        chains.append({"filters": [tcp_proxy(tcp_destination(inp, svc, port), inp.access_log)]})
    return _listener(
        listener_name(WILDCARD, port),
        address(WILDCARD, port),
        chains,
        inp,
        needs_tls_inspector=any("server_names" in (c.get("filter_chain_match") or {}) for c in chains),
        needs_http_inspector=bool(group.http),
        default_chain=not group.tcp_wildcard,
    )


def sni_chains(inp: SidecarInput, port: int, services: list[MeshService]) -> list[Obj]:
    """TLS by SNI: a ``mesh`` VirtualService's tls routes first (their sniHosts), then each TLS
    service's own host name to its cluster (buildSidecarOutboundTLSFilterChainOpts)."""
    chains: list[Obj] = []
    claimed: set[str] = set()
    for svc in services:
        for vs in inp.view.virtual_services_for(svc.hostname, MESH_GATEWAY):
            chains += tls_route_chains(inp, vs, port, frozenset({MESH_GATEWAY}), claimed)
    for svc in services:
        if svc.hostname not in claimed:
            claimed.add(svc.hostname)
            chains.append(
                {
                    "filter_chain_match": {"server_names": [svc.hostname]},
                    "filters": [tcp_proxy(f"outbound|{port}||{svc.hostname}", inp.access_log)],
                }
            )
    return chains


def tls_route_chains(
    inp: SidecarInput | Any, vs: dict[str, Any], port: int, gateways: frozenset[str], claimed: set[str]
) -> list[Obj]:
    """One chain per tls route match for this port and gateway, matching its sniHosts; an SNI already
    claimed by an earlier chain is skipped (istiod: duplicate SNI hosts)."""
    ns = vs["metadata"]["namespace"]
    chains = []
    for route in vs["spec"].get("tls") or []:
        dests = route.get("route") or []
        if not dests:
            continue
        for m in route.get("match") or []:
            if m.get("port") not in (None, port):
                continue
            if m.get("gateways") and not any(_qualify(g, ns) in gateways for g in m["gateways"]):
                continue
            if not m.get("gateways") and MESH_GATEWAY not in gateways and not _vs_gateways(vs) & gateways:
                continue
            snis = [h for h in m.get("sniHosts") or [] if h not in claimed]
            if not snis:
                continue
            claimed.update(snis)
            chains.append(
                {
                    "filter_chain_match": {"server_names": snis},
                    "filters": [tcp_route_filter(dests, ns, port, inp.access_log, inp.view)],
                }
            )
    return chains


def _vs_gateways(vs: dict[str, Any]) -> set[str]:
    ns = vs["metadata"]["namespace"]
    return {_qualify(g, ns) for g in vs["spec"].get("gateways") or [MESH_GATEWAY]}


def _qualify(gateway: str, namespace: str) -> str:
    return gateway if gateway == MESH_GATEWAY or "/" in gateway else f"{namespace}/{gateway}"


def tcp_route_filter(dests: list[dict[str, Any]], ns: str, port: int, access_log: list[Obj], view: ProxyView) -> Obj:
    """buildOutboundNetworkFilters: one destination → tcp_proxy to its cluster; several → weighted."""
    from ..schema.istio import Destination

    def cluster(d: dict[str, Any]) -> str:
        return destination_cluster(Destination.model_validate(d["destination"]), ns, port, _ports_of(view))

    if len(dests) == 1:
        return tcp_proxy(cluster(dests[0]), access_log)
    weighted = [{"name": cluster(d), "weight": d.get("weight") or 0} for d in dests if d.get("weight")]
    name = "outbound|" + str(port) + "||" + fqdn(dests[0]["destination"]["host"], ns)
    proxy = tcp_proxy(name, access_log)
    del proxy["typed_config"]["cluster"]
    proxy["typed_config"]["weighted_clusters"] = {"clusters": weighted}
    return proxy


def _ports_of(view: ProxyView) -> Any:
    def ports(host: str) -> list[int]:
        svc = view.service(host)
        return [p.number for p in svc.ports] if svc is not None else []

    return ports


def _listener(
    name: str,
    addr: Obj,
    chains: list[Obj],
    inp: SidecarInput,
    *,
    needs_tls_inspector: bool,
    needs_http_inspector: bool,
    default_chain: bool,
) -> Obj:
    """buildListenerFromEntry: outbound, not bound (iptables delivers), inspectors as the chains need,
    and the PassthroughFilterChain default (Passthrough or BlackHole by the outbound policy)."""
    out: Obj = {"@type": LISTENER, "name": name, "address": addr, "filter_chains": chains}
    filters = []
    if needs_tls_inspector:
        filters.append(typed("envoy.filters.listener.tls_inspector", TLS_INSPECTOR))
    if needs_http_inspector:
        filters.append(typed("envoy.filters.listener.http_inspector", HTTP_INSPECTOR))
    if filters:
        out["listener_filters"] = filters
    out.update(listener_filters_timeout="0s", traffic_direction="OUTBOUND", continue_on_listener_filters_timeout=True)
    if default_chain:
        out["default_filter_chain"] = {
            "filter_chain_match": {},
            "filters": [tcp_proxy(inp.catch_all_cluster, inp.access_log)],
            "name": PASSTHROUGH_FILTER_CHAIN,
        }
    out["bind_to_port"] = False
    out["access_log"] = inp.listener_log
    return out


# -- route configurations ---------------------------------------------------------------------------


def http_ports(inp: SidecarInput) -> list[int]:
    return sorted(n for n, g in services_by_port(inp).items() if g.http)


def route_config(inp: SidecarInput, port: int) -> Obj:
    """buildSidecarOutboundHTTPRouteConfig: virtual hosts for the services (and VirtualService hosts)
    on this port, sorted by name, then the catch-all allow_any or block_all."""
    listener = inp.view.scope.listener_for(port)
    vhosts = _virtual_hosts(inp, listener, port) if listener is not None else []
    vhosts.sort(key=lambda v: v["name"])
    vhosts.append(catch_all_virtual_host(inp.view.outbound_policy))
    return {
        "@type": ROUTE_CONFIG,
        "name": sidecar_route_name(port),
        "virtual_hosts": vhosts,
        "validate_clusters": False,
        "max_direct_response_body_size_bytes": MAX_DIRECT_RESPONSE_BODY,
        "ignore_port_in_host_matching": True,
    }


def _virtual_hosts(inp: SidecarInput, listener: ListenerView, port: int) -> list[Obj]:
    """BuildSidecarOutboundVirtualHosts: the listener's services that have this port (any protocol);
    a VirtualService with routes here gives its services with an HTTP port here its routes, and its
    hosts that are no such service a virtual host of their own (when it has such services, or on
    port 80); every other service with an HTTP port here gets the default route."""
    ctx = RouteContext(port, frozenset({MESH_GATEWAY}), inp.labels, inp.namespace)
    services = [s for s in listener.services if s.port(port) is not None]
    claimed: set[str] = set()
    out: list[Obj] = []
    names: set[str] = set()
    used_domains: set[str] = set()

    def add(vhost: Obj) -> None:
        if vhost["name"] not in names:  # istiod drops a duplicate virtual host name
            names.add(vhost["name"])
            vhost["domains"] = [d for d in vhost["domains"] if d not in used_domains]
            used_domains.update(vhost["domains"])
            if vhost["domains"]:
                out.append(vhost)

    for vs in listener.virtual_services:
        routes = routes_for_virtual_service(
            vs, ctx, lambda d, ns: destination_cluster(d, ns, port, _ports_of(inp.view))
        )
        if not routes:
            continue
        plain, matched = _separate_hosts(vs, services, claimed)
        on_port = [s for s in matched if _http_port(s, port)]
        claimed.update(s.hostname for s in on_port)
        if on_port or port == 80:
            for h in plain:
                add(
                    {
                        "name": virtual_host_name(h, port),
                        "domains": [h],
                        "routes": routes,
                        "include_request_attempt_count": True,
                    }
                )
        for svc in on_port:
            add(_service_vhost(inp, svc, port, routes))
    for svc in services:
        if svc.hostname not in claimed and _http_port(svc, port):
            cluster = f"outbound|{port}||{svc.hostname}"
            add(_service_vhost(inp, svc, port, [default_route(cluster, f"{svc.hostname}:{port}/*")]))
    return out


def _separate_hosts(
    vs: dict[str, Any], services: list[MeshService], claimed: set[str]
) -> tuple[list[str], list[MeshService]]:
    """separateVSHostsAndServices: a VirtualService's hosts that are services on this port (a wildcard
    host takes the services it covers that no earlier VirtualService took), and the other hosts."""
    by_name = {s.hostname.lower(): s for s in services}
    plain: list[str] = []
    matched: list[MeshService] = []
    for host in (fqdn(h, vs["metadata"]["namespace"]).lower() for h in vs["spec"].get("hosts") or []):
        if not host.startswith("*"):
            if host in by_name:
                matched.append(by_name[host])
            else:
                plain.append(host)
            continue
        covered = [s for s in services if subset_of(s.hostname, host)]
        matched += [s for s in covered if s.hostname not in claimed and s not in matched]
        if not covered:
            plain.append(host)
    return plain, matched


def _http_port(svc: MeshService, port: int) -> bool:
    spec = svc.port(port)
    return spec is not None and spec.is_http


def _service_vhost(inp: SidecarInput, svc: MeshService, port: int, routes: list[Obj]) -> Obj:
    return {
        "name": virtual_host_name(svc.hostname, port),
        "domains": domains(inp, svc),
        "routes": routes,
        "include_request_attempt_count": True,
    }


def domains(inp: SidecarInput, svc: MeshService) -> list[str]:
    """generateVirtualHostDomains with the port ignored (SidecarIgnorePort): the host, its absolute
    form with a trailing dot, the short names a pod's DNS search path allows, its addresses; then the
    same names for each ExternalName Service that aliases it (Istio 1.21+: the alias's hostname and its
    alternative names join the virtual host of the service it names)."""
    out = [svc.hostname, svc.hostname + "."]
    if svc.is_kubernetes:
        out += _short_names(inp, svc.hostname)
    out += inp.addresses(svc)
    for alias in svc.aliases:
        out += [alias, alias + ".", *_short_names(inp, alias)]
    return list(dict.fromkeys(out))


def _short_names(inp: SidecarInput, hostname: str) -> list[str]:
    """GenerateAltVirtualHosts: name.ns and name.ns.svc for a cluster-domain host, and the bare name in
    the proxy's own namespace (what the pod's DNS search path expands)."""
    if ".svc." not in hostname:
        return []
    short, _, rest = hostname.partition(".")
    svc_ns = rest.split(".svc.")[0]
    if svc_ns == inp.namespace:
        return [short, f"{short}.{svc_ns}.svc", f"{short}.{svc_ns}"]
    return [f"{short}.{svc_ns}", f"{short}.{svc_ns}.svc"]


def catch_all_virtual_host(policy: str) -> Obj:
    """buildCatchAllVirtualHost: ALLOW_ANY sends unknown hosts to PassthroughCluster (no timeout);
    REGISTRY_ONLY answers them 502 itself."""
    if policy == "ALLOW_ANY":
        route: Obj = {
            "name": ALLOW_ANY,
            "match": {"prefix": "/"},
            "route": {"cluster": PASSTHROUGH, "timeout": NO_TIMEOUT, "max_grpc_timeout": NO_TIMEOUT},
        }
        return {"name": ALLOW_ANY, "domains": ["*"], "routes": [route], "include_request_attempt_count": True}
    route = {"name": BLOCK_ALL, "match": {"prefix": "/"}, "direct_response": {"status": 502}}
    return {"name": BLOCK_ALL, "domains": ["*"], "routes": [route], "include_request_attempt_count": True}
