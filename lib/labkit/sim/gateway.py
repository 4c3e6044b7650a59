"""The egress gateway: an Envoy in router mode that serves the Gateway resources selecting it.

A connection arriving at the gateway pod is matched to a Gateway server by port (the Service's port
maps to the pod's targetPort) and by host: the SNI for TLS servers, the Host header for HTTP ones.
VirtualServices bound to that Gateway (by ``gateways: [ns/name]``) route it onward.
"""

from __future__ import annotations

from typing import Any

from ..manifests import selector_matches
from ..schema.istio import Destination
from ..trace import Trace
from . import pki
from .config import ProxyView, qualify_gateway
from .gatewayapi import gateway_origin
from .httproute import Upstream, route_request
from .messages import RESET, TLS_FAILED, Connection, Outcome, Request
from .proxy import PROXY_LATENCY, ClusterRef, Proxy, RequestContext, mesh_identity
from .registry import fqdn, host_matches, protocol_from_port_name
from .routing import Source, choose_http_route, choose_tls_route
from .tls import MESH_TRUST, Identity


class Gateway(Proxy):
    kind = "gateway"

    def inbound(self, conn: Connection, trace: Trace) -> Outcome:
        """A connection arriving at the gateway pod."""
        ctx = self.context(trace, f"egress gateway {self.namespace}/{self.name}")
        view, hop = ctx.view, ctx.hop
        service_port = self._service_port(conn.dst_port)
        servers = self._servers(view, service_port)
        if not servers:
            hop.step(
                "listener",
                f"none on port {conn.dst_port}: no Gateway resource selecting this pod "
                f"has a server on port {service_port}",
            )
            hop.outcome = "connection refused (the gateway has no listener there)"
            return Outcome.failed("refused", hop.outcome, PROXY_LATENCY)
        hop.step("listener", f"0.0.0.0_{conn.dst_port} for Gateway server port {service_port}")
        tls = conn.tls
        # An ISTIO_MUTUAL (or MUTUAL/SIMPLE) server terminates TLS; PASSTHROUGH forwards it untouched.
        terminated = False
        gateway, server = servers[0]
        if tls is None and all(_server_tls_mode(s) in ("ISTIO_MUTUAL", "SIMPLE", "MUTUAL") for _, s in servers):
            # Every filter chain on this port expects a TLS handshake (istiod's gateway listener for TLS
            # servers); plaintext matches none of them and Envoy closes the connection.
            hop.step("filter chain", f"plaintext on port {service_port}, where every server terminates TLS")
            hop.outcome = "the gateway closes the connection"
            return Outcome.failed(RESET, hop.outcome, PROXY_LATENCY)
        if tls is not None:
            sni = (tls.sni or "").lower()
            chosen = next(
                (
                    (g, s)
                    for g, s in servers
                    if _server_tls_mode(s) == "PASSTHROUGH" and any(_host_ok(h, sni) for h in s.get("hosts", []))
                ),
                None,
            )
            if chosen is None:
                # A TLS-terminating server's filter chain matches the SNI against its hosts (a "*" host
                # matches any): istiod's gateway listener builder sets server_names from Server.hosts.
                chosen = next(
                    (
                        (g, s)
                        for g, s in servers
                        if _server_tls_mode(s) in ("ISTIO_MUTUAL", "SIMPLE", "MUTUAL")
                        and any(_host_ok(h, sni) for h in s.get("hosts", []))
                    ),
                    None,
                )
                if chosen is None:
                    hosts = sorted({h for _, s in servers for h in s.get("hosts", [])})
                    hop.step(
                        "filter chain", f"no server accepts TLS with SNI {sni or '(none)'} (server hosts: {hosts})"
                    )
                    hop.outcome = "the gateway closes the connection"
                    return Outcome.failed(TLS_FAILED, hop.outcome, PROXY_LATENCY)
                gateway, server = chosen
                mode = _server_tls_mode(server)
                if mode == "ISTIO_MUTUAL" and not self._mesh_peer(tls.client_identity):
                    hop.step("TLS", "ISTIO_MUTUAL server, but the client presented no mesh certificate")
                    hop.outcome = "TLS handshake fails"
                    return Outcome.failed(TLS_FAILED, hop.outcome, PROXY_LATENCY)
                hop.step("TLS", f"{mode} terminated at the gateway")
                terminated = True
            else:
                gateway, server = chosen
        gw_name = f"{gateway['metadata']['namespace']}/{gateway['metadata']['name']}"
        origin = gateway_origin(gateway)
        if origin:  # a Gateway API Gateway, as istiod converted it
            gw_name = f"{origin} (as istiod's Gateway {gw_name})"
        hop.step("Gateway", f"{gw_name} server port {service_port} ({server['port'].get('protocol', '')})")
        if conn.request is not None and (tls is None or terminated):
            out = self._http(ctx, conn, gateway, server)
            # The client's TLS ended here: it saw the gateway's certificate, not the upstream's.
            out.server_identity = mesh_identity(self.pod) if terminated else None
            return out
        return self._passthrough(ctx, conn, gateway)

    def _mesh_peer(self, identity: Identity | None) -> bool:
        """An ISTIO_MUTUAL server accepts only a workload certificate from the mesh CA."""
        if identity is None:
            return False
        return pki.verify_peer(identity, MESH_TRUST, self.mesh.clock.datetime()) is None

    def _service_port(self, target: int) -> int:
        """Gateway servers name the Service port (80), while traffic arrives on the pod port (8080)."""
        return int(self._service_port_spec(target).get("port", target))

    def _service_port_spec(self, target: int) -> dict[str, Any]:
        ports = gateway_service_ports(self.mesh.cluster.services(), self.pod)
        return next((p for p in ports if p.get("targetPort", p["port"]) == target), {})

    def _protocol(self, target: int) -> str:
        """Sidecars speak HTTP/2 to a gateway port named http2, as the access log then shows."""
        name = self._service_port_spec(target).get("name", "")
        return "HTTP/2" if protocol_from_port_name(name) in ("HTTP2", "GRPC") else "HTTP/1.1"

    def _servers(self, view: ProxyView, port: int) -> list[tuple[dict, dict]]:
        out = []
        for gw in view.gateways_on(self.labels, self.namespace):
            for server in gw["spec"].get("servers", []):
                if server["port"]["number"] == port:
                    out.append((gw, server))
        return out

    def _virtual_services(self, view: ProxyView, gateway: dict, host: str) -> list[dict]:
        name = qualify_gateway(gateway["metadata"]["name"], gateway["metadata"]["namespace"])
        return view.virtual_services_for(host, name)

    def _http(self, ctx: RequestContext, conn: Connection, gateway: dict, server: dict) -> Outcome:
        view, hop = ctx.view, ctx.hop
        req = conn.request
        assert req is not None
        host = req.authority.split(":")[0].lower()
        gw_name = qualify_gateway(gateway["metadata"]["name"], gateway["metadata"]["namespace"])
        ex = self.exchange(ctx, conn, req.header("x-request-id") or self.mesh.request_id())
        ex.protocol = self._protocol(conn.dst_port)
        # A TLS server's filter chains match on server_names (istiod's gateway listener builder sets them
        # from Server.hosts), so the listener reads the ClientHello and Envoy logs its SNI as
        # %REQUESTED_SERVER_NAME% (Envoy access-log docs: "String value set on ssl connection socket for
        # Server Name Indication (SNI)"): for ISTIO_MUTUAL, the sni the sidecar's DestinationRule sent.
        if conn.tls is not None and conn.tls.sni:
            ex.server_name = conn.tls.sni.lower()
        if not any(_host_ok(h, host) for h in server.get("hosts", [])):
            hop.step("virtual host", f"{host} is not in the server's hosts {server.get('hosts')}")
            hop.outcome = "404 from the gateway (NR)"
            return ex.local(404, flags="NR", details="route_not_found")
        port = self._service_port(conn.dst_port)
        source = Source(self.namespace, self.labels)
        # A gateway merges every VirtualService bound to it for this host, in order.
        choice = choose_http_route(self._virtual_services(view, gateway, host), req, port, source, gw_name)
        if choice is None:
            hop.step("VirtualService", f"none bound to gateway {gw_name} routes {host}")
            hop.outcome = "404 from the gateway: no route (NR)"
            return ex.local(404, flags="NR", details="route_not_found")
        hop.step("VirtualService", f"{choice.source} for gateway {gw_name}")

        def cluster_of(dest: Destination) -> ClusterRef:
            host = fqdn(dest.host, choice.namespace)
            dest_svc = view.service(host)
            number = (dest.port.number if dest.port else None) or (
                dest_svc.ports[0].number if dest_svc and len(dest_svc.ports) == 1 else 80
            )
            return ClusterRef(host, number, dest.subset or "")

        def send(upstream_req: Request, dest: Destination | None, hop_: object) -> tuple[Outcome, str, str]:
            if dest is None:  # a gateway route always names a destination; the schema makes sure
                return Outcome.failed("no-healthy-upstream", "the route has no destination"), "-", "-"
            cluster = cluster_of(dest)
            out, upstream = self.forward(ctx, cluster, request=upstream_req)
            return out, upstream, cluster.name

        def missing(dest: Destination) -> str:
            return self.missing_cluster(view, cluster_of(dest))

        def cluster_name(dest: Destination | None) -> str:
            return cluster_of(dest).name if dest is not None else "-"

        upstream = Upstream(
            send, missing, self.mesh.rng, ex.local, ex.log, server_name="istio-envoy", cluster_name=cluster_name
        )
        return route_request(req, choice, upstream, hop)

    def _passthrough(self, ctx: RequestContext, conn: Connection, gateway: dict) -> Outcome:
        view, hop = ctx.view, ctx.hop
        sni = ((conn.tls.sni if conn.tls else None) or "").lower()
        gw_name = qualify_gateway(gateway["metadata"]["name"], gateway["metadata"]["namespace"])
        port = self._service_port(conn.dst_port)
        log = dict(
            downstream_local=f"{conn.dst_ip}:{conn.dst_port}",
            downstream_remote=f"{conn.src_ip}:{conn.src_port}",
            server_name=sni or "-",
        )
        choice = choose_tls_route(self._virtual_services(view, gateway, sni), sni, port, gw_name)
        if choice is not None:
            cluster = ClusterRef(
                fqdn(choice.host, choice.vs["metadata"]["namespace"]), choice.port or port, choice.subset
            )
            hop.step("VirtualService", f"{choice.source} SNI {sni} for gateway {gw_name}")
            out, upstream = self.forward(
                ctx, cluster, downstream_tls=conn.tls, payload=conn.request, tunnel=conn.tunnel
            )
            hop.outcome = f"TCP proxied to {cluster.name}" if not out.failure else f"upstream: {out.detail}"
            self.log_tcp(
                ctx, cluster=cluster.name, upstream_host=upstream, duration=out.elapsed,
                bytes_sent=(len(out.reply.body) + 300) if out.reply else 0, flags="UF" if out.failure else "-", **log,
            )  # fmt: skip
            return out
        hop.step("VirtualService", f"none bound to gateway {gw_name} routes SNI {sni or '(none)'}")
        hop.outcome = "the gateway closes the connection: no route for this SNI"
        self.log_tcp(ctx, cluster="-", upstream_host="-", duration=0.0, bytes_sent=0, flags="NR", **log)
        return Outcome.failed(RESET, hop.outcome, PROXY_LATENCY)


def gateway_service_ports(services: list[dict[str, Any]], pod: dict[str, Any]) -> list[dict[str, Any]]:
    """The ports of the Services in a gateway pod's namespace that select it, in order: a Gateway server
    names one of these ports, and the pod listens on its targetPort (model/gateway.go resolvePorts)."""
    ns, labels = pod["metadata"]["namespace"], pod["metadata"].get("labels") or {}
    out = []
    for svc in services:
        selector = svc["spec"].get("selector") or {}
        if svc["metadata"]["namespace"] == ns and selector and selector_matches(selector, labels):
            out += [dict(p) for p in svc["spec"].get("ports", [])]
    return out


def _server_tls_mode(server: dict[str, Any]) -> str | None:
    return (server.get("tls") or {}).get("mode")


def _host_ok(pattern: str, host: str) -> bool:
    """Gateway server hosts may carry a namespace prefix (``ns/host``)."""
    pattern = pattern.split("/", 1)[-1]
    return pattern == "*" or host_matches(pattern, host)
