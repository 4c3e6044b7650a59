"""curl inside a simulated pod: DNS, interception by the sidecar (or not), TLS checks, redirects,
time limits, and output exactly as real curl prints it."""

from __future__ import annotations

import ipaddress
from typing import Any

from ..curl.args import CurlOptions, parse_args
from ..curl.errors import CurlUsageError
from ..curl.render import Exchange, Failure, Transfer, render
from ..curl.urls import parse_url, resolve_location
from ..curl.verbose import CURL_VERSION
from ..result import CurlResult, HttpResponse
from ..trace import Hop, Trace
from . import pki
from .cluster import SIDECAR, proxy_role
from .mesh import Mesh
from .messages import CERT_NAME, CERT_UNTRUSTED, DNS, REFUSED, RESET, TIMEOUT, TLS_FAILED, Connection, Outcome, Request
from .sidecar import Sidecar
from .tls import PUBLIC_ROOT, ClientTls, Identity

USER_AGENT = f"curl/{CURL_VERSION}"
KERNEL_CONNECT_TIMEOUT = 130.0  # Linux gives up on a SYN after about 130 s
DNS_TIMEOUT = 10.0  # resolv.conf: timeout 5, attempts 2
INCLUDE_RANGES = "traffic.sidecar.istio.io/includeOutboundIPRanges"
EXCLUDE_RANGES = "traffic.sidecar.istio.io/excludeOutboundIPRanges"


class SimCurl:
    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh

    def run(self, namespace: str, pod_name: str, container: str, args: list[str]) -> CurlResult:
        argv = ["curl", *args]
        try:
            opts = parse_args(list(args))
        except CurlUsageError as exc:
            return exc.as_result(list(args), simulated=True)
        pod = self.mesh.store.raw("", "Pod", namespace, pod_name)
        if pod is None:
            return CurlResult(argv, 1, "", f'error: pod "{pod_name}" not found\n', simulated=True)
        if opts.info:  # --version and --help print and exit before any transfer
            out = render(opts, Transfer([]))
            return CurlResult(argv, out.exit_code, out.stdout, out.stderr, simulated=True)
        exchanges: list[Exchange] = []
        traces: list[Trace] = []
        failure: Failure | None = None
        elapsed = 0.0
        url = opts.url
        redirects = 0
        while True:
            trace = Trace(request=f"{self._method(opts)} {url}")
            traces.append(trace)
            try:
                exchange, failure, spent = self._one(pod, container, opts, url, trace, elapsed)
            except CurlUsageError as exc:  # a URL curl rejects when it starts the transfer (exit 3)
                return exc.as_result(list(args), simulated=True)
            elapsed += spent
            if failure is not None:
                break
            assert exchange is not None
            exchanges.append(exchange)
            location = exchange.response.header("location")
            if not (opts.follow and location and 300 <= exchange.response.status < 400):
                break
            if redirects >= opts.max_redirs:
                failure = Failure(47, f"Maximum ({opts.max_redirs}) redirects followed")
                break
            redirects += 1
            url = resolve_location(url, location)
        self.mesh.clock.sleep(elapsed)
        transfer = Transfer(exchanges, failure, elapsed)
        out = render(opts, transfer)
        return CurlResult(
            argv=argv,
            exit_code=out.exit_code,
            stdout=out.stdout,
            stderr=out.stderr,
            elapsed=round(elapsed, 3),
            responses=[e.response for e in exchanges],
            body=out.body,
            simulated=True,
            traces=traces,
        )

    @staticmethod
    def _method(opts: CurlOptions) -> str:
        if opts.method:
            return opts.method.upper()
        if opts.head:
            return "HEAD"
        return "POST" if opts.data is not None else "GET"

    def _one(
        self, pod: dict[str, Any], container: str, opts: CurlOptions, url: str, trace: Trace, spent_before: float
    ) -> tuple[Exchange | None, Failure | None, float]:
        """One request/response. Returns the exchange or the failure, and the time it took."""
        u = parse_url(url)
        ns = pod["metadata"]["namespace"]
        hop = trace.hop(f"curl in {ns}/{pod['metadata']['name']} ({container})")
        limit, connect_limit = _limits(opts, spent_before)
        ip, dns_time, dns_failure = self._resolve(pod, opts, u.host, u.port, hop)
        if dns_failure is not None:
            failure = self._timed(dns_failure, dns_time, connect_limit, u.host, u.port, "Resolving")
            return None, failure, min(dns_time, connect_limit)
        assert ip is not None
        request = self._request(opts, u)
        tls = self._client_tls(pod, container, opts, u.host) if u.scheme == "https" else None
        if isinstance(tls, Failure):
            return None, tls, 0.0
        conn = Connection(pod["status"]["podIP"], ip, u.port, tls, request, 40000 + len(trace.hops))
        if self._intercepted(pod, ip, hop):
            sidecar = self.mesh.proxy(pod)
            assert isinstance(sidecar, Sidecar)
            outcome = sidecar.outbound(conn, trace)
        else:
            outcome = self.mesh.network.connect(conn, trace, "app")
        elapsed = dns_time + outcome.elapsed
        if outcome.failure is not None:
            failure = self._failure(outcome, opts, u.host, u.port, connect_limit, tls is not None)
            took = connect_limit if failure.exit_code == 28 else elapsed
            if outcome.failure == TIMEOUT and failure.exit_code == 7:
                took = KERNEL_CONNECT_TIMEOUT
            return None, failure, took
        if tls is not None and tls.verify:
            bad = _verify(tls, outcome, u.host)
            if bad is not None:
                hop.outcome = f"curl rejects the server certificate: {bad.message}"
                return None, bad, elapsed
        if elapsed > limit:
            ms = int(limit * 1000)
            hop.outcome = f"curl gives up after {limit:g}s (-m)"
            return None, Failure(28, f"Operation timed out after {ms} milliseconds with 0 bytes received"), limit
        reply = outcome.reply
        assert reply is not None
        response = HttpResponse(reply.http_version, reply.status, reply.reason, reply.headers)
        body = "" if request.method == "HEAD" else reply.body
        return Exchange(url, response, body, ip, u.port), None, elapsed

    def _resolve(
        self, pod: dict[str, Any], opts: CurlOptions, host: str, port: int, hop: Hop
    ) -> tuple[str | None, float, str | None]:
        for r_host, r_port, addr in opts.resolve:
            if r_host.lower() == host.lower() and r_port == port:
                hop.step("DNS", f"{host} → {addr} (--resolve)")
                return addr, 0.0, None
        try:
            ipaddress.ip_address(host)
            return host, 0.0, None
        except ValueError:
            pass
        dns_pods = self.mesh.cluster.pods("kube-system", "k8s-app=kube-dns")
        if dns_pods:
            verdict = self.mesh.network.allowed(pod["status"]["podIP"], dns_pods[0]["status"]["podIP"], 53, "UDP")
            if not verdict.allowed:
                hop.step("DNS", f"query to kube-dns dropped: {verdict.reason}")
                hop.outcome = "name resolution times out"
                return None, DNS_TIMEOUT, TIMEOUT
        namespace = pod["metadata"]["namespace"]
        ip = self.mesh.cluster.resolve(host, namespace) or self.mesh.world.resolve(host)
        if ip is None:
            from .cluster import CLUSTER_DOMAIN

            # Say why there is no address: the simulator can't know the real internet, so an outside
            # name it lacks is its own gap, not an NXDOMAIN; cluster names really are NXDOMAIN.
            name = host.lower().rstrip(".")
            labels = name.split(".")
            service_like = len(labels) in (2, 3) and self.mesh.store.raw("", "Namespace", None, labels[1]) is not None
            if len(labels) == 1 or name.endswith(f".{CLUSTER_DOMAIN}") or service_like:
                hop.step("DNS", f"{host}: kube-dns has no Service by that name (searched from namespace {namespace})")
            else:
                hop.step("DNS", self.mesh.world.unknown(host))
            hop.outcome = "curl can't resolve the host (exit 6)"
            return None, 0.002, DNS
        hop.step("DNS", f"{host} → {ip}")
        return ip, 0.002, None

    def _intercepted(self, pod: dict[str, Any], ip: str, hop: Hop) -> bool:
        """iptables sends outbound traffic to the sidecar unless the IP ranges exclude it."""
        if proxy_role(pod) != SIDECAR:
            hop.step("interception", "no sidecar in this pod: traffic goes straight out")
            return False
        annotations = pod["metadata"].get("annotations") or {}
        address = ipaddress.ip_address(ip)
        include = annotations.get(INCLUDE_RANGES, "*")
        exclude = [r.strip() for r in annotations.get(EXCLUDE_RANGES, "").split(",") if r.strip()]
        if any(address in ipaddress.ip_network(r, strict=False) for r in exclude):
            hop.step("interception", f"{ip} is in {EXCLUDE_RANGES}: the sidecar is bypassed")
            return False
        if include.strip() != "*":
            ranges = [r.strip() for r in include.split(",") if r.strip()]
            if not any(address in ipaddress.ip_network(r, strict=False) for r in ranges):
                hop.step("interception", f"{ip} is outside {INCLUDE_RANGES}={include}: the sidecar is bypassed")
                return False
        hop.step("interception", f"iptables redirects {ip} to the sidecar")
        return True

    def _request(self, opts: CurlOptions, u: Any) -> Request:
        authority = u.host if not u.explicit_port else f"{u.host}:{u.port}"
        headers = [("Host", authority), ("User-Agent", opts.user_agent or USER_AGENT), ("Accept", "*/*")]
        overrides = {name.lower() for name, _ in opts.headers}
        headers = [h for h in headers if h[0].lower() not in overrides] + list(opts.headers)
        host_header = next((v for k, v in headers if k.lower() == "host"), authority)
        return Request(self._method(opts), host_header, u.path, tuple(headers), u.scheme)

    def _client_tls(self, pod: dict[str, Any], container: str, opts: CurlOptions, host: str) -> ClientTls | Failure:
        roots: frozenset[str] = frozenset({PUBLIC_ROOT})
        if opts.cacert:
            data = self.mesh.cluster.pod_file(pod, container, opts.cacert)
            if data is None:
                return Failure(77, f"error setting certificate file: {opts.cacert}")
            roots = frozenset(pki.ca_id(c) for c in pki.load_certs(data))
        identity: Identity | None = None
        if opts.cert:
            data = self.mesh.cluster.pod_file(pod, container, opts.cert)
            key = self.mesh.cluster.pod_file(pod, container, opts.key) if opts.key else data
            certs = pki.load_certs(data or b"")
            if not certs:
                return Failure(58, f"could not load PEM client certificate from {opts.cert}")
            if not key:
                return Failure(58, f"unable to set private key file: '{opts.key}' type PEM")
            identity = pki.identity(certs[0])
        try:
            ipaddress.ip_address(host)
            sni = None
        except ValueError:
            sni = host
        alpn = ("http/1.1",) if opts.http1_1 else ("h2", "http/1.1")
        return ClientTls(sni=sni, trusted_roots=roots, verify=not opts.insecure, client_identity=identity, alpn=alpn)

    def _failure(self, out: Outcome, opts: CurlOptions, host: str, port: int, limit: float, tls: bool) -> Failure:
        if out.failure == TIMEOUT:
            return self._timed(TIMEOUT, KERNEL_CONNECT_TIMEOUT, limit, host, port, "Connecting")  # limit: connect
        if out.failure == DNS:
            return Failure(6, f"Could not resolve host: {host}")
        if out.failure == REFUSED:
            return Failure(7, f"Failed to connect to {host} port {port} after 1 ms: Couldn't connect to server")
        if out.failure in (RESET, TLS_FAILED) and tls:
            if "wrong version number" in out.detail:
                return Failure(35, "OpenSSL/3.5.4: error:0A00010B:SSL routines::wrong version number")
            return Failure(35, f"OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to {host}:{port} ")
        if out.failure == CERT_UNTRUSTED:
            return Failure(60, "SSL certificate problem: unable to get local issuer certificate")
        if out.failure == CERT_NAME:
            return Failure(60, f"SSL: no alternative certificate subject name matches target host name '{host}'")
        return Failure(52, "Empty reply from server")

    @staticmethod
    def _timed(kind: str, natural: float, limit: float, host: str, port: int, phase: str) -> Failure:
        """A wait that either hits curl's own limit (exit 28) or fails on its own."""
        if natural >= limit:
            ms = int(limit * 1000)
            if phase == "Resolving":
                return Failure(28, f"Resolving timed out after {ms} milliseconds")
            return Failure(28, f"Failed to connect to {host} port {port} after {ms} ms: Timeout was reached")
        if kind == DNS or phase == "Resolving":
            return Failure(6, f"Could not resolve host: {host}")
        ms = int(natural * 1000)
        return Failure(7, f"Failed to connect to {host} port {port} after {ms} ms: Couldn't connect to server")


def _limits(opts: CurlOptions, spent: float) -> tuple[float, float]:
    """Time left for the whole transfer (-m) and for resolving and connecting (--connect-timeout)."""
    total = opts.max_time - spent if opts.max_time else float("inf")
    connect = min(total, opts.connect_timeout) if opts.connect_timeout else total
    return total, connect


def _verify(tls: ClientTls, out: Outcome, host: str) -> Failure | None:
    ident = out.server_identity
    if ident is None:
        return None
    if ident.root not in tls.trusted_roots:
        return Failure(60, "SSL certificate problem: unable to get local issuer certificate")
    if tls.sni and not ident.covers(host):
        return Failure(60, f"SSL: no alternative certificate subject name matches target host name '{host}'")
    return None
