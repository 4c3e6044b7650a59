"""The sidecar's outbound path: listener, route, VirtualService, DestinationRule, cluster.

This follows how istiod programs a sidecar:
- an address-specific listener ``<ip>_<port>`` exists for a TCP port of a ServiceEntry with
  ``addresses`` (and a Kubernetes Service's cluster IP); it wins over the wildcard listener;
- an HTTP listener ``0.0.0.0_<port>`` exists when some service in the registry has an HTTP port there;
  its route picks a virtual host by the Host header; unknown hosts go to ``allow_any``
  (PassthroughCluster) under ALLOW_ANY or to ``block_all`` (a 502) under REGISTRY_ONLY;
- TLS traffic is matched by SNI against TLS/HTTPS services and VirtualService ``tls`` routes; unknown
  SNIs pass through under ALLOW_ANY and hit BlackHoleCluster (the connection is closed) otherwise;
- other TCP goes to a Service by its cluster IP, else through the same passthrough / blackhole choice.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from ..schema.istio import Destination
from ..trace import Trace
from .config import MESH_GATEWAY, ProxyView
from .httproute import Upstream, route_request
from .messages import RESET, TLS_FAILED, Connection, Outcome, Request
from .proxy import (
    BLACKHOLE,
    PASSTHROUGH,
    PROXY_LATENCY,
    ClusterRef,
    HttpExchange,
    Proxy,
    RequestContext,
)
from .registry import MeshService, fqdn
from .routing import Source, choose_http_route, choose_tls_route


class Sidecar(Proxy):
    kind = "sidecar"

    def outbound(self, conn: Connection, trace: Trace) -> Outcome:
        """A connection the app opened, redirected here by iptables."""
        ctx = self.context(trace, f"sidecar of {self.namespace}/{self.name}")
        view, hop = ctx.view, ctx.hop
        if view.scope.sidecar.sidecar is not None:
            hop.step("Sidecar resource", f"{view.scope.sidecar.name}: {view.scope.sidecar.reason}")
        hop.step("outbound policy", f"{view.outbound_policy} (from the {view.scope.outbound_policy_source})")
        tcp_service = self._by_address(view, conn.dst_ip, conn.dst_port)
        port_spec = tcp_service.port(conn.dst_port) if tcp_service else None
        if port_spec is not None and not port_spec.is_http:
            return self._tcp(ctx, conn)
        if conn.tls is None and conn.request is not None and conn.dst_port in self._http_ports(view):
            hop.step("listener", f"0.0.0.0_{conn.dst_port} (HTTP: some service has an HTTP port {conn.dst_port})")
            return self._http(ctx, conn)
        if conn.tls is not None:
            return self._tls(ctx, conn)
        return self._tcp(ctx, conn)

    # -- HTTP ---------------------------------------------------------------------------------------
    def _http(self, ctx: RequestContext, conn: Connection) -> Outcome:
        assert conn.request is not None
        view, hop = ctx.view, ctx.hop
        req, port, ns = conn.request, conn.dst_port, self.namespace
        host = req.authority.split(":")[0].lower()
        ex = self.exchange(ctx, conn, self.mesh.request_id())
        svc = self._virtual_host(view, host, port)
        original = (conn.dst_ip, port)
        if svc is None:
            if view.outbound_policy == "REGISTRY_ONLY":
                hidden = view.scope.why_hidden(host, port)
                why = hidden or f"{host} is not in the service registry"
                hop.step("route", f"{port} → virtual host block_all: {why}")
                hop.outcome = "502 from the sidecar itself (REGISTRY_ONLY blocks unknown hosts)"
                return ex.local(502, flags="-", details="direct_response", route="block_all")
            hop.step("route", f"{port} → virtual host allow_any: {host} is not in the registry (ALLOW_ANY)")
            passthrough = self._upstream(ctx, ex, None, original, ns, default_retries=False)
            return route_request(req, None, passthrough, hop, default_name="allow_any")
        hop.step("virtual host", f"{svc.hostname}:{port} ({svc.source})")
        vs_list = view.virtual_services_for(svc.hostname, MESH_GATEWAY)
        choice = None
        if vs_list:
            vs = vs_list[0]  # a sidecar uses one VirtualService per host: the oldest
            choice = choose_http_route([vs], req, port, Source(ns, self.labels), MESH_GATEWAY)
            if choice is None:
                vs_name = f"{vs['metadata']['namespace']}/{vs['metadata']['name']}"
                hop.step("VirtualService", f"{vs_name}: no http route matches")
                hop.outcome = "404: no route matched (NR)"
                return ex.local(404, flags="NR", details="route_not_found")
            hop.step("VirtualService", f"{choice.source} matches")
        else:
            hop.step("VirtualService", f"none for {svc.hostname}: the default route")
        vs_ns = choice.namespace if choice else ns
        return route_request(req, choice, self._upstream(ctx, ex, svc, original, vs_ns), hop)

    def _upstream(
        self,
        ctx: RequestContext,
        ex: HttpExchange,
        svc: MeshService | None,
        original: tuple[str, int],
        vs_ns: str,
        default_retries: bool = True,
    ) -> Upstream:
        """How the router reaches upstream from this sidecar: a named cluster, or the original destination.
        ``vs_ns`` is the namespace short destination hosts are relative to (the VirtualService's)."""
        view, port = ctx.view, original[1]

        def cluster_of(dest: Destination | None) -> ClusterRef | None:
            if dest is None:
                return ClusterRef(svc.hostname, port) if svc else None
            host = fqdn(dest.host, vs_ns)
            dest_svc = view.service(host)
            number = (dest.port.number if dest.port else None) or (
                dest_svc.ports[0].number if dest_svc and len(dest_svc.ports) == 1 else port
            )
            return ClusterRef(host, number, dest.subset or "")

        def send(req: Request, dest: Destination | None, hop_: object) -> tuple[Outcome, str, str]:
            cluster = cluster_of(dest)
            decorator = f"{svc.hostname}:{port}/*" if svc else None
            upstream_req = self.request_headers(req, ex.request_id, decorator)
            if cluster is None:  # PassthroughCluster: the original destination, plain HTTP
                ctx.hop.step("cluster", f"{PASSTHROUGH} → original destination {original[0]}:{original[1]}")
                out = self.connect(ctx, Connection(self.ip, original[0], original[1], None, upstream_req))
                out.elapsed += PROXY_LATENCY
                return out, f"{original[0]}:{original[1]}", PASSTHROUGH
            out, upstream = self.forward(ctx, cluster, original=original, request=upstream_req)
            return out, upstream, cluster.name

        def missing(dest: Destination) -> str:
            cluster = cluster_of(dest)
            return self.missing_cluster(view, cluster) if cluster else ""

        def cluster_name(dest: Destination | None) -> str:
            cluster = cluster_of(dest)
            return cluster.name if cluster else PASSTHROUGH

        return Upstream(send, missing, self.mesh.rng, ex.local, ex.log, default_retries, cluster_name=cluster_name)

    def _virtual_host(self, view: ProxyView, host: str, port: int) -> MeshService | None:
        """The service whose virtual host on this port's route table serves ``host``, if any.

        Domains are the registry hosts with an HTTP port here (Kubernetes short names included), plus
        hosts that a ``mesh`` VirtualService routes on this port even if their service lacks the port.
        """
        candidates = view.visible_on(port)
        for svc in candidates:
            spec_port = svc.port(port)
            if spec_port and spec_port.is_http and svc.matches(host):
                return svc
        short = fqdn(host, self.namespace).split(".svc.")[0] + ".svc."
        for svc in candidates:
            if svc.k8s is not None and (svc.matches(host) or svc.hostname.startswith(short)):
                return svc
        routed = view.scope.visible_service(host)
        if routed is not None:
            for vs in view.virtual_services_for(routed.hostname, MESH_GATEWAY):
                for route in vs["spec"].get("http") or []:
                    ports = [m.get("port") for m in route.get("match") or [{}]]
                    if port in ports or None in ports:
                        return routed
        return None

    # -- TLS (SNI) ----------------------------------------------------------------------------------
    def _tls(self, ctx: RequestContext, conn: Connection) -> Outcome:
        assert conn.tls is not None
        view, hop = ctx.view, ctx.hop
        sni, port = (conn.tls.sni or "").lower(), conn.dst_port
        hop.step("listener", f"0.0.0.0_{port}, filter chain chosen by SNI {sni or '(none)'}")
        cluster = None
        vs_list = view.virtual_services_for(sni, MESH_GATEWAY) if sni else []
        choice = choose_tls_route(vs_list, sni, port, MESH_GATEWAY)
        # %REQUESTED_SERVER_NAME% is only known when the listener that takes the connection runs Envoy's
        # TLS inspector; istiod adds one only to listeners with a chain matching on SNI (see _wildcard_tls_chain).
        read_sni = self._wildcard_tls_chain(view, port)
        if choice is not None:
            dest_host = fqdn(choice.host, choice.vs["metadata"]["namespace"])
            cluster = ClusterRef(dest_host, choice.port or port, choice.subset)
            hop.step("VirtualService", f"{choice.source} matches SNI {sni}")
            read_sni = True  # the VirtualService's sniHosts become the chain's server_names
        if cluster is None:
            svc = next((s for s in view.visible_on(port) if _is_tls_port(s, port) and s.matches(sni)), None)
            if svc is None and (vip := self.mesh.cluster.service_by_ip(conn.dst_ip)) is not None:
                svc = view.service(fqdn(vip["metadata"]["name"], vip["metadata"]["namespace"]))
            if svc is not None:
                hop.step("filter chain", f"{svc.hostname}:{port} ({svc.source})")
                cluster = ClusterRef(svc.hostname, port)
                read_sni = _sni_matched(svc)
        logged = sni if read_sni else "-"
        if cluster is None:
            # Also on a port a service declares HTTP: that listener's HTTP chain matches only what the
            # HTTP inspector finds to be HTTP, and a ClientHello falls through to its passthrough chain
            # (istio/istio#16458, fixed by #17169; the listener shape in #24998), like any unknown
            # destination.
            return self._unknown_destination(ctx, conn, sni, logged)
        missing = self.missing_cluster(view, cluster)
        if missing:
            hop.step("cluster", f"{cluster.name} does not exist: {missing}")
            hop.outcome = "the sidecar closes the connection: no cluster for this route"
            # Envoy's TCP proxy finds no cluster of that name: access-log docs, response flag NC
            # ("Upstream cluster not found"), not UH (a cluster that exists but has no healthy host).
            return self._tcp_closed(ctx, conn, "-", logged, flags="NC")
        settings = view.tls_for(cluster.host, cluster.port, cluster.subset or None, self.namespace)
        if settings is not None and settings.mode != "DISABLE":
            return self._double_tls(ctx, conn, cluster, settings.source, logged)
        out, upstream = self.forward(
            ctx, cluster, original=(conn.dst_ip, port), downstream_tls=conn.tls, payload=conn.request,
            tunnel=conn.tunnel,
        )  # fmt: skip
        return self._finish_tcp(ctx, conn, out, cluster.name, upstream, logged)

    @staticmethod
    def _wildcard_tls_chain(view: ProxyView, port: int) -> bool:
        """Whether the sidecar has a 0.0.0.0_<port> listener with a chain matching on SNI, and so a TLS
        inspector that reads the ClientHello even for the SNIs that fall to its PassthroughFilterChain.

        Istio's pilot/pkg/networking/core: buildListenerFromEntry adds the tls_inspector listener filter
        only when a filter chain has sniHosts (or ALPN); buildSidecarOutboundTLSFilterChainOpts matches a
        TLS/HTTPS port on SNI only for a service without a VIP (the listener is then 0.0.0.0); the
        wildcard HTTP listener matches on application protocol (HTTP inspector only); and the
        virtualOutbound listener (listener_builder.go, buildVirtualOutboundListener) has no listener
        filters at all. Without an inspector Envoy logs %REQUESTED_SERVER_NAME% as "-".
        """
        return any(_is_tls_port(s, port) and _sni_matched(s) for s in view.visible_on(port))

    def _double_tls(self, ctx: RequestContext, conn: Connection, cluster: ClusterRef, source: str, sni: str) -> Outcome:
        """istio.io network-issues, "Double TLS": TLS origination for a request that is already TLS.
        The sidecar wraps the client's TLS in its own; the server answers the inner ClientHello as a
        bad plain-text request, and the client's handshake reads that plain text: it fails."""
        ctx.hop.step("upstream TLS", f"{source} originates TLS, but the application already speaks TLS: double TLS")
        ctx.hop.outcome = "the client's TLS handshake gets a plain-text answer and fails (double TLS)"
        # The sidecar's own connection and handshake to the server succeed; only the application's inner
        # TLS fails. So the TCP proxy's line names the host it connected to (%UPSTREAM_HOST%, Envoy
        # access-log docs: the upstream host URL, set once the TCP proxy picked and connected to it).
        target = self.endpoint(ctx.view.service(cluster.host), cluster, (conn.dst_ip, conn.dst_port), ctx.hop)
        upstream = f"{target[0]}:{target[1]}" if target else "-"
        self.log_tcp(
            ctx, cluster=cluster.name, upstream_host=upstream, downstream_local=f"{conn.dst_ip}:{conn.dst_port}",
            downstream_remote=f"{conn.src_ip}:{conn.src_port}", server_name=sni or "-", duration=PROXY_LATENCY,
            bytes_sent=0,
        )  # fmt: skip
        return Outcome.failed(TLS_FAILED, "wrong version number", PROXY_LATENCY)

    @staticmethod
    def _http_ports(view: ProxyView) -> set[int]:
        return {p.number for s in view.visible for p in s.ports if p.is_http}

    # -- TCP ----------------------------------------------------------------------------------------
    def _tcp(self, ctx: RequestContext, conn: Connection) -> Outcome:
        view, hop = ctx.view, ctx.hop
        vip = self.mesh.cluster.service_by_ip(conn.dst_ip)
        cluster = None
        if vip is not None:
            host = fqdn(vip["metadata"]["name"], vip["metadata"]["namespace"])
            hop.step("listener", f"{conn.dst_ip}_{conn.dst_port} (Service {host})")
            cluster = ClusterRef(host, conn.dst_port)
        elif (svc := self._by_address(view, conn.dst_ip, conn.dst_port)) is not None:
            # ServiceEntry reference, ``addresses``: TCP traffic is matched by destination IP and port.
            hop.step("listener", f"{conn.dst_ip}_{conn.dst_port} ({svc.source}, addresses {', '.join(svc.addresses)})")
            cluster = ClusterRef(svc.hostname, conn.dst_port)
        if cluster is not None:
            out, upstream = self.forward(
                ctx, cluster, original=(conn.dst_ip, conn.dst_port), payload=conn.request, tunnel=conn.tunnel
            )
            return self._finish_tcp(ctx, conn, out, cluster.name, upstream, "-")
        hop.step("listener", f"virtualOutbound: no listener for port {conn.dst_port} matches")
        return self._unknown_destination(ctx, conn, "-", "-")

    @staticmethod
    def _by_address(view: ProxyView, ip: str, port: int) -> MeshService | None:
        """The ServiceEntry whose ``addresses`` cover ``ip`` and that has ``port``, if any."""
        address = ipaddress.ip_address(ip)
        for svc in view.visible_on(port):
            if svc.k8s is not None:
                continue
            if any(address in ipaddress.ip_network(a, strict=False) for a in svc.addresses):
                return svc
        return None

    def _unknown_destination(self, ctx: RequestContext, conn: Connection, sni: str, logged: str) -> Outcome:
        """``sni`` is the ClientHello's ("-" for plain TCP); ``logged`` what the access log shows of it."""
        hop = ctx.hop
        if ctx.view.outbound_policy == "REGISTRY_ONLY":
            target = sni if sni not in ("-", "") else conn.dst_ip
            hop.step("cluster", f"{BLACKHOLE}: REGISTRY_ONLY and {target} is not in the service registry")
            hop.outcome = "the sidecar closes the connection (BlackHoleCluster)"
            return self._tcp_closed(ctx, conn, BLACKHOLE, logged)
        hop.step("cluster", f"{PASSTHROUGH}: ALLOW_ANY forwards to the original destination {conn.dst_ip}")
        out = self.connect(ctx, replace(conn, src_ip=self.ip))  # the original destination, bytes untouched
        out.elapsed += PROXY_LATENCY
        return self._finish_tcp(ctx, conn, out, PASSTHROUGH, f"{conn.dst_ip}:{conn.dst_port}", logged)

    def _tcp_closed(
        self, ctx: RequestContext, conn: Connection, cluster: str, sni: str, flags: str = "UH"
    ) -> Outcome:
        self.log_tcp(
            ctx,
            cluster=cluster,
            upstream_host="-",
            downstream_local=f"{conn.dst_ip}:{conn.dst_port}",
            downstream_remote=f"{conn.src_ip}:{conn.src_port}",
            server_name=sni or "-",
            duration=0.0,
            bytes_sent=0,
            # BlackHoleCluster is a static cluster with no endpoints: Envoy logs "no healthy upstream" (UH).
            flags=flags,
        )
        return Outcome.failed(RESET, "the sidecar closed the connection", PROXY_LATENCY)

    def _finish_tcp(
        self, ctx: RequestContext, conn: Connection, out: Outcome, cluster: str, upstream: str, sni: str
    ) -> Outcome:
        if not ctx.hop.outcome:
            ctx.hop.outcome = f"TCP proxied to {cluster}" if out.failure is None else f"upstream failed: {out.detail}"
        sent = len(out.reply.body) + 300 if out.reply else 0
        self.log_tcp(
            ctx,
            cluster=cluster,
            upstream_host=upstream,
            downstream_local=f"{conn.dst_ip}:{conn.dst_port}",
            downstream_remote=f"{conn.src_ip}:{conn.src_port}",
            server_name=sni or "-",
            duration=out.elapsed,
            bytes_sent=sent,
            flags="UF" if out.failure else "-",
        )
        return out


def _sni_matched(svc: MeshService) -> bool:
    """A service's TLS chain matches on SNI only when it has no VIP (Istio's
    buildSidecarOutboundTLSFilterChainOpts: "If we have a VIP, then we know the destination"): a
    Kubernetes Service or a ServiceEntry with single ``addresses`` gets an address listener without
    one; a wider CIDR shares 0.0.0.0 and is told apart by SNI again."""
    if svc.k8s is not None:
        return False
    return not svc.addresses or any(ipaddress.ip_network(a, strict=False).num_addresses > 1 for a in svc.addresses)


def _is_tls_port(svc: MeshService, number: int) -> bool:
    port = svc.port(number)
    return port is not None and port.is_tls
