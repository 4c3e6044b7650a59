"""What every Envoy in the simulated mesh shares: clusters, endpoints, upstream TLS, local replies,
request headers, and access logs. The sidecar and the egress gateway build on it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..trace import Hop, Trace
from . import pki
from .accesslog import LogEntry
from .cluster import target_port
from .config import ProxyView, TlsSettings
from .messages import TLS_FAILED, Connection, Outcome, Reply, Request
from .registry import MeshService
from .tls import MESH_ROOT, PUBLIC_ROOT, ClientTls, Identity
from .world import reason

if TYPE_CHECKING:
    from .mesh import Mesh

PROXY_LATENCY = 0.002
#: Envoy's %UPSTREAM_TRANSPORT_FAILURE_REASON% for a certificate it rejects (as in istio/istio#52886's logs).
CERTIFICATE_VERIFY_FAILED = "TLS_error:|268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:TLS_error_end"
PASSTHROUGH = "PassthroughCluster"
BLACKHOLE = "BlackHoleCluster"


@dataclass(frozen=True)
class ClusterRef:
    host: str
    port: int
    subset: str = ""

    @property
    def name(self) -> str:
        return f"outbound|{self.port}|{self.subset}|{self.host}"


def local_reply(status: int, body: str = "", date: str = "") -> Reply:
    """A response Envoy makes itself (no upstream answered it)."""
    headers = (
        ("content-length", str(len(body))),
        ("content-type", "text/plain"),
        ("date", date),
        ("server", "envoy"),
    )
    return Reply(status, reason(status), headers, body)


def mesh_identity(pod: dict[str, Any]) -> Identity:
    ns = pod["metadata"]["namespace"]
    sa = pod["spec"].get("serviceAccountName", "default")
    spiffe = f"spiffe://cluster.local/ns/{ns}/sa/{sa}"
    return Identity(spiffe, (spiffe,), MESH_ROOT)


@dataclass
class RequestContext:
    """One request (or connection) at one proxy: the config the proxy holds right now, and where
    ``explain()`` records what decided the outcome."""

    view: ProxyView
    hop: Hop
    trace: Trace


class Proxy:
    """One Envoy: the sidecar of one pod, or one gateway pod. The sidecar and the gateway build on it."""

    kind = "proxy"

    def __init__(self, mesh: Mesh, pod: dict[str, Any]) -> None:
        self.mesh = mesh
        self.pod = pod

    # -- naming
    @property
    def namespace(self) -> str:
        return str(self.pod["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.pod["metadata"]["name"])

    @property
    def ip(self) -> str:
        return str(self.pod["status"]["podIP"])

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.pod["metadata"].get("labels") or {})

    def view(self) -> ProxyView:
        """The config this proxy holds now (what istiod has pushed to it)."""
        return self.mesh.view_for(self.pod)

    def context(self, trace: Trace, where: str) -> RequestContext:
        hop = trace.hop(where)
        self.note_pending(hop)
        return RequestContext(self.view(), hop, trace)

    def note_pending(self, hop: Hop) -> None:
        """Say which config had not reached this proxy yet: the learner may be looking at old config."""
        now = self.mesh.clock.now()
        for change in self.mesh.store.pending():
            hop.step("config not yet pushed", change.describe(now))

    # -- upstream
    def endpoint(
        self, svc: MeshService | None, cluster: ClusterRef, original: tuple[str, int] | None, hop: Hop
    ) -> tuple[str, int] | None:
        """Where a cluster sends traffic: resolved DNS, static endpoints, a Service VIP, or the original IP."""
        port = cluster.port
        if svc is not None:
            spec_port = svc.port(cluster.port)
            if spec_port and spec_port.target_port:
                port = spec_port.target_port
                hop.step("endpoint port", f"targetPort {port} of port {cluster.port} ({svc.source})")
        if svc is None or svc.resolution == "NONE":
            if original is None:
                return None
            return original[0], port if svc else original[1]
        if svc.resolution == "CLUSTER":
            # EDS: the Service's ready pods at the targetPort; %UPSTREAM_HOST% names the pod, not the cluster IP.
            assert svc.k8s is not None
            pods = self.mesh.cluster.service_endpoints(svc.k8s)
            spec = next((p for p in svc.k8s["spec"].get("ports", []) if p.get("port") == cluster.port), None)
            if not pods or spec is None:
                return None
            return pods[0]["status"]["podIP"], target_port(spec, pods[0])
        if svc.endpoints:
            ep = svc.endpoints[0]
            address = ep.get("address", "")
            ports = ep.get("ports") or {}
            spec_port = svc.port(cluster.port)
            port = ports.get(spec_port.name, port) if spec_port else port
            return (self._resolve(address) or address), port
        ip = self._resolve(cluster.host)
        return (ip, port) if ip else None

    def _resolve(self, host: str) -> str | None:
        """Envoy resolves through the pod's DNS (STRICT_DNS clusters)."""
        return self.mesh.resolve(host, self.namespace)

    def upstream_tls(
        self, ctx: RequestContext, settings: TlsSettings | None, cluster: ClusterRef
    ) -> ClientTls | Outcome | None:
        """The TLS this proxy originates toward a cluster, or an Outcome when it can't (missing credential)."""
        pod, hop = self.pod, ctx.hop
        if settings is None or settings.mode == "DISABLE":
            if settings is not None:
                hop.step("upstream TLS", f"DISABLE ({settings.source})")
            target_pod = self._auto_mtls_target(ctx.view, cluster)
            if settings is None and target_pod:
                hop.step("upstream TLS", "ISTIO_MUTUAL (auto mTLS: the destination has a sidecar)")
                return ClientTls(sni=None, trusted_roots=frozenset({MESH_ROOT}), client_identity=mesh_identity(pod))
            return None
        tls = settings.settings
        if settings.mode == "ISTIO_MUTUAL":
            hop.step("upstream TLS", f"ISTIO_MUTUAL with the workload certificate ({settings.source})")
            return ClientTls(
                sni=tls.get("sni") or f"outbound_.{cluster.port}_.{cluster.subset}_.{cluster.host}",
                trusted_roots=frozenset({MESH_ROOT}),
                client_identity=mesh_identity(pod),
                alpn=("istio-peer-exchange", "istio"),
            )
        credentials = self.mesh.credentials.for_client(pod, tls, hop)
        if isinstance(credentials, Outcome):
            return credentials
        roots, identity = credentials
        if settings.mode == "MUTUAL" and identity is None:
            hop.step("upstream TLS", "MUTUAL without a client certificate")
            return Outcome.failed(TLS_FAILED, "MUTUAL needs a client certificate (credentialName or files)")
        hop.step("upstream TLS", f"{settings.mode}, SNI {tls.get('sni') or cluster.host} ({settings.source})")
        return ClientTls(
            sni=tls.get("sni") or cluster.host,
            trusted_roots=roots or frozenset({PUBLIC_ROOT}),
            verify=not tls.get("insecureSkipVerify", False),
            client_identity=identity if settings.mode == "MUTUAL" else None,
            alpn=("http/1.1",),
        )

    def _auto_mtls_target(self, view: ProxyView, cluster: ClusterRef) -> bool:
        svc = view.service(cluster.host)
        if svc is None or svc.k8s is None:
            return False
        pods = self.mesh.cluster.service_endpoints(svc.k8s)
        return bool(pods) and (pods[0]["metadata"].get("labels") or {}).get("security.istio.io/tlsMode") == "istio"

    def verify_server(
        self, tls: ClientTls, out: Outcome, hop: Hop, subject_alt_names: list[str] | None = None
    ) -> Outcome:
        """The proxy checks the certificate the upstream presented, as Envoy does with a CA configured,
        and its SANs against the DestinationRule's ``subjectAltNames`` (Istio ClientTLSSettings)."""
        if out.failure or not tls.verify or out.server_identity is None:
            return out
        ident = out.server_identity
        problem = ""
        rejected = pki.verify_peer(
            ident, tls.trust, self.mesh.clock.datetime(), subject_alt_names=subject_alt_names or ()
        )
        if rejected is not None:
            problem = f"certificate of {ident.subject}: {rejected.reason} ({rejected.check} check)"
        if problem:
            hop.step("upstream TLS", problem)
            failed = Outcome.failed(TLS_FAILED, "CERTIFICATE_VERIFY_FAILED", out.elapsed)
            failed.transport_failure = CERTIFICATE_VERIFY_FAILED
            return failed
        return out

    def request_headers(self, req: Request, request_id: str, decorator: str | None) -> Request:
        """Headers the sidecar adds on the way out; httpbin.org/headers echoes them back."""
        ns, name = self.namespace, self.name
        extra = [
            ("x-request-id", request_id),
            ("x-forwarded-proto", req.scheme),
            ("x-envoy-attempt-count", req.header("x-envoy-attempt-count") or "1"),  # the router counts retries
            ("x-b3-traceid", request_id.replace("-", "")[:32]),
            ("x-b3-spanid", request_id.replace("-", "")[:16]),
            ("x-b3-sampled", "0"),
            ("x-envoy-peer-metadata-id", f"sidecar~{self.ip}~{name}.{ns}~{ns}.svc.cluster.local"),
            ("x-envoy-peer-metadata", "ChQKDkFQUF9DT05UQUlORVJTEgIaAA=="),
        ]
        if decorator:
            extra.append(("x-envoy-decorator-operation", decorator))
        return req.with_headers(*extra)

    def missing_cluster(self, view: ProxyView, cluster: ClusterRef) -> str:
        """Why Envoy would have no cluster for this route target, or "" when it has one."""
        svc = view.service(cluster.host)
        if svc is None:
            return f"{cluster.host} is not in the service registry (no ServiceEntry or Service)"
        if svc.port(cluster.port) is None:
            return f"{svc.source} has no port {cluster.port}"
        if cluster.subset and view.subset(cluster.host, cluster.subset, self.namespace) is None:
            return f"no DestinationRule for {cluster.host} defines subset {cluster.subset!r}"
        return ""

    def connect(self, ctx: RequestContext, conn: Connection) -> Outcome:
        """The proxy's own upstream connection. iptables lets it out without interception."""
        return self.mesh.network.connect(conn, ctx.trace, f"{self.kind} of {self.name}")

    def forward(
        self,
        ctx: RequestContext,
        cluster: ClusterRef,
        *,
        original: tuple[str, int] | None = None,
        request: Request | None = None,
        downstream_tls: ClientTls | None = None,
        payload: Request | None = None,
        tunnel: Connection | None = None,
    ) -> tuple[Outcome, str]:
        """Send to a cluster. ``request`` is re-sent over a new connection (HTTP); without it, the
        connection is proxied as TCP: the downstream TLS and the bytes inside it (``payload``) pass
        through untouched. Returns the outcome and the upstream host."""
        view, hop = ctx.view, ctx.hop
        svc = view.service(cluster.host)
        hop.step("cluster", cluster.name + (f" ({svc.source})" if svc else ""))
        target = self.endpoint(svc, cluster, original, hop)
        if target is None:
            hop.step("endpoint", f"none: {cluster.host} does not resolve")
            return Outcome.failed("no-healthy-upstream", "no healthy upstream"), "-"
        ip, port = target
        tls: ClientTls | None = downstream_tls
        settings: TlsSettings | None = None
        if request is not None:
            settings = view.tls_for(cluster.host, cluster.port, cluster.subset or None, self.namespace)
            originated = self.upstream_tls(ctx, settings, cluster)
            if isinstance(originated, Outcome):
                return originated, f"{ip}:{port}"
            tls = originated
            scheme = "https" if tls is not None else "http"
            request = replace(request, scheme=scheme)
        conn = Connection(self.ip, ip, port, tls, request if request is not None else payload, tunnel=tunnel)
        out = self.connect(ctx, conn)
        if request is not None and isinstance(tls, ClientTls):
            sans = settings.settings.get("subjectAltNames") if settings is not None else None
            out = self.verify_server(tls, out, hop, sans)
        out.elapsed += PROXY_LATENCY
        return out, f"{ip}:{port}"

    # -- logs
    def exchange(self, ctx: RequestContext, conn: Connection, request_id: str) -> HttpExchange:
        assert conn.request is not None
        return HttpExchange(
            self,
            ctx.view,
            conn.request,
            request_id,
            f"{conn.dst_ip}:{conn.dst_port}",
            f"{conn.src_ip}:{conn.src_port}",
        )

    def log(self, view: ProxyView, entry: LogEntry) -> None:
        if view.access_log:
            self.mesh.write_log(self.pod, "istio-proxy", entry.format())

    def log_tcp(
        self,
        ctx: RequestContext,
        *,
        cluster: str,
        upstream_host: str,
        downstream_local: str,
        downstream_remote: str,
        server_name: str,
        duration: float,
        bytes_sent: int,
        flags: str = "-",
    ) -> None:
        self.log(
            ctx.view,
            LogEntry(
                start_time=self.mesh.clock.timestamp(),
                flags=flags,
                bytes_received=517 if server_name != "-" else 0,
                bytes_sent=bytes_sent,
                duration_ms=int(duration * 1000),
                upstream_host=upstream_host,
                upstream_cluster=cluster,
                upstream_local=f"{self.ip}:41122" if upstream_host != "-" else "-",
                downstream_local=downstream_local,
                downstream_remote=downstream_remote,
                server_name=server_name,
            ),
        )


@dataclass
class HttpExchange:
    """One HTTP request at one proxy: what its access log line needs besides the outcome."""

    proxy: Proxy
    view: ProxyView
    req: Request
    request_id: str
    downstream_local: str
    downstream_remote: str
    protocol: str = "HTTP/1.1"
    #: %REQUESTED_SERVER_NAME%: the SNI of the downstream TLS this proxy terminated, "-" for plain HTTP.
    server_name: str = "-"

    def log(
        self,
        reply: Reply | None,
        *,
        flags: str = "-",
        details: str = "via_upstream",
        cluster: str = "-",
        upstream: str = "-",
        route: str = "-",
        duration: float = 0.0,
        transport_failure: str = "",
    ) -> None:
        ms = int(duration * 1000)
        self.proxy.log(
            self.view,
            LogEntry(
                start_time=self.proxy.mesh.clock.timestamp(),
                method=self.req.method,
                path=self.req.path,
                protocol=self.protocol,
                response_code=reply.status if reply else 0,
                flags=flags,
                details=details,
                transport_failure=transport_failure or "-",
                bytes_sent=len(reply.body) if reply else 0,
                duration_ms=ms,
                upstream_service_time=str(ms) if reply and details == "via_upstream" else "-",
                user_agent=self.req.header("user-agent") or "-",
                request_id=self.request_id,
                authority=self.req.authority,
                upstream_host=upstream,
                upstream_cluster=cluster,
                upstream_local=f"{self.proxy.ip}:{43000 + len(self.request_id) % 1000}" if upstream != "-" else "-",
                downstream_local=self.downstream_local,
                downstream_remote=self.downstream_remote,
                server_name=self.server_name,
                route_name=route,
            ),
        )

    def local(
        self,
        status: int,
        *,
        flags: str,
        details: str,
        route: str = "-",
        body: str = "",
        cluster: str = "-",
        upstream: str = "-",
        duration: float = 0.0,
        headers: tuple[tuple[str, str], ...] = (),
        transport_failure: str = "",
    ) -> Outcome:
        """A response the proxy makes itself, logged, after ``duration`` seconds."""
        reply = local_reply(status, body, self.proxy.mesh.clock.http_date()).with_headers(*headers)
        self.log(
            reply, flags=flags, details=details, cluster=cluster, upstream=upstream, route=route, duration=duration,
            transport_failure=transport_failure,
        )  # fmt: skip
        return Outcome(reply=reply, elapsed=duration + PROXY_LATENCY)
