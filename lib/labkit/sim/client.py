"""curl inside a simulated pod: DNS, interception by the sidecar (or not), TLS checks, redirects,
time limits, HTTP forward proxies (absolute-form requests and CONNECT tunnels), and output exactly
as real curl prints it. Options the simulator does not model are refused (``labkit.curl.support``);
the request itself is built by ``labkit.curl.request``, the one owner of curl's request rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..curl import request as curl_request
from ..curl import support
from ..curl.args import CurlOptions, parse_args
from ..curl.errors import CurlUsageError
from ..curl.proxy import ProxyChoice, choose
from ..curl.render import Exchange, Failure, Transfer, render
from ..curl.urls import Url, is_ip_literal, parse_url, resolve_location
from ..curl.verbose import CURL_VERSION
from ..result import CurlResult, HttpResponse
from ..trace import Hop, Trace
from . import pki, tunnel
from .capture import outbound_capture
from .cluster import SIDECAR, proxy_role
from .mesh import Mesh
from .messages import CERT_NAME, CERT_UNTRUSTED, DNS, REFUSED, RESET, TIMEOUT, TLS_FAILED, Connection, Outcome, Request
from .sidecar import Sidecar
from .tls import PUBLIC_TRUST, ClientTls, Identity, TrustStore

USER_AGENT = f"curl/{CURL_VERSION}"
KERNEL_CONNECT_TIMEOUT = 130.0  # Linux gives up on a SYN after about 130 s
DNS_TIMEOUT = 10.0  # resolv.conf: timeout 5, attempts 2


@dataclass
class _Attempt:
    """One request of a curl run: the exchange, or why it failed, and the time it took."""

    exchange: Exchange | None
    failure: Failure | None
    spent: float
    refused_connect: HttpResponse | None = None  # the proxy's non-2xx answer to CONNECT


class SimCurl:
    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh
        #: Files curl wrote with -o and -D, per container, so later commands there can read them.
        self._written: dict[tuple[str, str, str], dict[str, bytes]] = {}

    def written(self, namespace: str, pod: str, container: str, path: str) -> bytes | None:
        return self._written.get((namespace, pod, container), {}).get(path)

    def run(
        self, namespace: str, pod_name: str, container: str, args: list[str], env: Mapping[str, str] | None = None
    ) -> CurlResult:
        """Run curl in the container. ``env`` adds to the container's environment (``VAR=value curl``
        in a shell): curl reads its proxy settings from there."""
        argv = ["curl", *args]
        try:
            opts = parse_args(list(args))
            if not opts.info:
                support.check(opts)  # an option the simulator doesn't model is refused, never ignored
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
        refused_connect: HttpResponse | None = None
        elapsed = 0.0
        url = opts.url
        method: str | None = None  # None for the first request; then the method after a redirect
        redirects = 0
        while True:
            trace = Trace(request=f"{method or curl_request.method(opts)} {url}")
            traces.append(trace)
            try:
                attempt = self._one(pod, container, opts, url, method, trace, elapsed, env or {})
            except CurlUsageError as exc:  # a URL or proxy curl rejects when it starts the transfer
                return exc.as_result(list(args), simulated=True)
            elapsed += attempt.spent
            failure, refused_connect = attempt.failure, attempt.refused_connect
            if failure is not None:
                break
            exchange = attempt.exchange
            assert exchange is not None
            exchanges.append(exchange)
            location = exchange.response.header("location")
            if not (opts.follow and location and 300 <= exchange.response.status < 400):
                break
            if redirects >= opts.max_redirs:
                failure = Failure(47, f"Maximum ({opts.max_redirs}) redirects followed")
                break
            redirects += 1
            method = curl_request.next_method(method or curl_request.method(opts), exchange.response.status)
            url = resolve_location(url, location)
        self.mesh.clock.sleep(elapsed)
        transfer = Transfer(exchanges, failure, elapsed, refused_connect)
        out = render(opts, transfer)
        files = self._written.setdefault((namespace, pod_name, container), {})
        files.update({path: text.encode() for path, text in out.files.items()})
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

    def _one(
        self,
        pod: dict[str, Any],
        container: str,
        opts: CurlOptions,
        url: str,
        method: str | None,
        trace: Trace,
        spent_before: float,
        env: Mapping[str, str],
    ) -> _Attempt:
        """One request/response, directly or through a proxy."""
        u = parse_url(url)
        ns = pod["metadata"]["namespace"]
        hop = trace.hop(f"curl in {ns}/{pod['metadata']['name']} ({container})")
        proxy = choose(opts, u, {**_container_env(pod, container), **env})
        if proxy is not None and opts.connect_to:
            raise support.not_modelled("--connect-to", "--connect-to together with a proxy is not simulated")
        if proxy is not None:
            return self._via_proxy(pod, container, opts, url, method, proxy, trace, hop, spent_before)
        limit, connect_limit = _limits(opts, spent_before)
        host, port = _connect_to(opts, u.host, u.port, hop)
        ip, dns_time, dns_failure = self._resolve(pod, opts, host, port, hop)
        if dns_failure is not None:
            failure = self._timed(dns_failure, dns_time, connect_limit, host, port, "Resolving")
            return _Attempt(None, failure, min(dns_time, connect_limit))
        assert ip is not None
        request = _request(curl_request.build(opts, u, hop_method=method), u.scheme)
        tls = self._client_tls(pod, container, opts, u.host) if u.scheme == "https" else None
        if isinstance(tls, Failure):
            return _Attempt(None, tls, 0.0)
        conn = Connection(pod["status"]["podIP"], ip, port, tls, request, 40000 + len(trace.hops))
        outcome = self._send(pod, ip, conn, trace, hop)
        elapsed = dns_time + outcome.elapsed
        if outcome.failure is not None:
            return self._connect_failure(outcome, opts, host, port, connect_limit, tls is not None, elapsed)
        return self._answered(opts, u, url, tls, outcome, elapsed, limit, ip, port, hop, request.method)

    def _send(self, pod: dict[str, Any], ip: str, conn: Connection, trace: Trace, hop: Hop) -> Outcome:
        if self._intercepted(pod, ip, conn.dst_port, hop):
            sidecar = self.mesh.proxy(pod)
            assert isinstance(sidecar, Sidecar)
            return sidecar.outbound(conn, trace)
        return self.mesh.network.connect(conn, trace, "app")

    def _connect_failure(
        self, outcome: Outcome, opts: CurlOptions, host: str, port: int, limit: float, tls: bool, elapsed: float
    ) -> _Attempt:
        failure = self._failure(outcome, opts, host, port, limit, tls)
        took = limit if failure.exit_code == 28 else elapsed
        if outcome.failure == TIMEOUT and failure.exit_code == 7:
            took = KERNEL_CONNECT_TIMEOUT
        return _Attempt(None, failure, took)

    def _answered(
        self,
        opts: CurlOptions,
        u: Url,
        url: str,
        tls: ClientTls | None,
        outcome: Outcome,
        elapsed: float,
        limit: float,
        ip: str,
        port: int,
        hop: Hop,
        method: str,
        connect: HttpResponse | None = None,
        via_proxy: bool = False,
    ) -> _Attempt:
        """A reply arrived: curl checks the server certificate and its own time limit, then keeps it."""
        if tls is not None and tls.verify:
            bad = _verify(tls, outcome, u.host, self.mesh.clock.datetime())
            if bad is not None:
                hop.outcome = f"curl rejects the server certificate: {bad.message}"
                return _Attempt(None, bad, elapsed)
        if elapsed > limit:
            ms = int(limit * 1000)
            hop.outcome = f"curl gives up after {limit:g}s (-m)"
            return _Attempt(
                None, Failure(28, f"Operation timed out after {ms} milliseconds with 0 bytes received"), limit
            )
        reply = outcome.reply
        assert reply is not None
        response = HttpResponse(reply.http_version, reply.status, reply.reason, reply.headers)
        body = "" if method == "HEAD" else reply.body
        return _Attempt(Exchange(url, response, body, ip, port, connect=connect, via_proxy=via_proxy), None, elapsed)

    # -- through a forward proxy -----------------------------------------------------------------
    def _via_proxy(
        self,
        pod: dict[str, Any],
        container: str,
        opts: CurlOptions,
        url: str,
        method: str | None,
        proxy: ProxyChoice,
        trace: Trace,
        hop: Hop,
        spent_before: float,
    ) -> _Attempt:
        """curl talks to the proxy: absolute-form HTTP, or CONNECT and then the request in the tunnel.

        Exit codes from curl's man page (EXIT CODES) and curl 7.88 on loopback: 5 for a proxy name
        that does not resolve, 7 when it refuses, 56 for a CONNECT answered with anything but 2xx
        ("CONNECT tunnel failed, response 403") or closed ("Proxy CONNECT aborted").
        """
        u = parse_url(url)
        limit, connect_limit = _limits(opts, spent_before)
        hop.step("proxy", f"{proxy.host}:{proxy.port} (from {proxy.source})")
        ip, dns_time, dns_failure = self._resolve(pod, opts, proxy.host, proxy.port, hop)
        if dns_failure is not None:
            failure = self._timed(dns_failure, dns_time, connect_limit, proxy.host, proxy.port, "Resolving")
            if failure.exit_code == 6:
                failure = Failure(5, f"Could not resolve proxy: {proxy.host}")
            return _Attempt(None, failure, min(dns_time, connect_limit))
        assert ip is not None
        src_port = 40000 + len(trace.hops)
        pod_ip = pod["status"]["podIP"]
        tunnelled = u.scheme == "https" or opts.proxytunnel
        if not tunnelled:
            request = _request(curl_request.build(opts, u, via_proxy=True, hop_method=method), u.scheme)
            conn = Connection(pod_ip, ip, proxy.port, None, request, src_port)
            outcome = self._send(pod, ip, conn, trace, hop)
            elapsed = dns_time + outcome.elapsed
            if outcome.failure is not None:
                return self._connect_failure(outcome, opts, proxy.host, proxy.port, connect_limit, False, elapsed)
            return self._answered(
                opts, u, url, None, outcome, elapsed, limit, ip, proxy.port, hop, request.method, via_proxy=True
            )
        tls = self._client_tls(pod, container, opts, u.host) if u.scheme == "https" else None
        if isinstance(tls, Failure):
            return _Attempt(None, tls, 0.0)
        inner = _request(curl_request.build(opts, u, hop_method=method), u.scheme)
        connect = _request(curl_request.connect(opts, u), "http")
        hop.step("CONNECT", f"{connect.path}, then {'TLS' if tls else 'HTTP'} inside the tunnel")
        # The proxy resolves the target itself, so the tunnelled connection names no address.
        inside = Connection(pod_ip, "", u.port, tls, inner, src_port)
        conn = Connection(pod_ip, ip, proxy.port, None, connect, src_port, tunnel=inside)
        outcome = self._send(pod, ip, conn, trace, hop)
        elapsed = dns_time + outcome.elapsed
        answer = tunnel.connect_answer(outcome)
        if answer is None:
            if outcome.failure in (REFUSED, TIMEOUT):
                return self._connect_failure(outcome, opts, proxy.host, proxy.port, connect_limit, False, elapsed)
            if outcome.reply is not None:  # the proxy answered the CONNECT itself: no tunnel
                r = outcome.reply
                hop.outcome = f"the proxy answers CONNECT with {r.status}: curl gives up (exit 56)"
                refused = HttpResponse(r.http_version, r.status, r.reason, r.headers)
                failure = Failure(56, f"CONNECT tunnel failed, response {r.status}")
                return _Attempt(None, failure, elapsed, refused)
            hop.outcome = "the connection closed before the proxy answered CONNECT"
            return _Attempt(None, Failure(56, "Proxy CONNECT aborted"), elapsed)
        status, reason = answer
        established = HttpResponse("1.1", status, reason, ())
        if outcome.failure is not None:
            return self._connect_failure(outcome, opts, u.host, u.port, connect_limit, tls is not None, elapsed)
        return self._answered(
            opts, u, url, tls, outcome, elapsed, limit, ip, proxy.port, hop, inner.method, established, True
        )

    def _resolve(
        self, pod: dict[str, Any], opts: CurlOptions, host: str, port: int, hop: Hop
    ) -> tuple[str | None, float, str | None]:
        for r_host, r_port, addr in opts.resolve:
            if r_host.lower() == host.lower() and r_port == port:
                hop.step("DNS", f"{host} → {addr} (--resolve)")
                return addr, 0.0, None
        if is_ip_literal(host):
            return host, 0.0, None
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

    def _intercepted(self, pod: dict[str, Any], ip: str, port: int, hop: Hop) -> bool:
        """iptables sends outbound traffic to the sidecar unless the pod's annotations exempt it."""
        if proxy_role(pod) != SIDECAR:
            hop.step("interception", "no sidecar in this pod: traffic goes straight out")
            return False
        decision = outbound_capture(pod, ip, port)
        hop.step("interception", decision.reason)
        return decision.yes

    def _client_tls(self, pod: dict[str, Any], container: str, opts: CurlOptions, host: str) -> ClientTls | Failure:
        roots: TrustStore = PUBLIC_TRUST
        if opts.cacert:
            data = self.mesh.cluster.pod_file(pod, container, opts.cacert)
            if data is None:
                return Failure(77, f"error setting certificate file: {opts.cacert}")
            roots = pki.trust_store(data)
        identity: Identity | None = None
        if opts.cert:
            data = self.mesh.cluster.pod_file(pod, container, opts.cert)
            key = self.mesh.cluster.pod_file(pod, container, opts.key) if opts.key else data
            certs = pki.load_certs(data or b"")
            if not certs:
                return Failure(58, f"could not load PEM client certificate from {opts.cert}")
            if not key:
                return Failure(58, f"unable to set private key file: '{opts.key}' type PEM")
            identity = pki.identity(certs[0], certs[1:])  # the intermediates are sent too
        sni = None if is_ip_literal(host) else host
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


def _request(sent: curl_request.SentRequest, scheme: str) -> Request:
    """The request as the simulated network carries it: what curl wrote on the wire."""
    return Request(sent.method, sent.authority, sent.target, sent.headers, scheme, sent.body)


def _container_env(pod: dict[str, Any], container: str) -> dict[str, str]:
    """Literal environment variables of the container (curl reads its proxy settings from them)."""
    spec: dict[str, Any] = next((c for c in pod["spec"].get("containers", []) if c["name"] == container), {})
    return {e["name"]: e["value"] for e in spec.get("env") or [] if isinstance(e.get("value"), str)}


def _connect_to(opts: CurlOptions, host: str, port: int, hop: Hop) -> tuple[str, int]:
    """--connect-to HOST1:PORT1:HOST2:PORT2: connect elsewhere, keeping Host, SNI and the certificate
    check for the URL's host (man page). Empty parts match any host or port, or keep the original;
    the first entry that matches wins."""
    for entry in opts.connect_to:
        parts = _split_connect_to(entry)
        if parts is None:
            continue
        h1, p1, h2, p2 = parts
        if (h1 and h1.lower() != host.lower()) or (p1 and int(p1) != port):
            continue
        target = (h2 or host, int(p2) if p2 else port)
        hop.step("--connect-to", f"{host}:{port} → {target[0]}:{target[1]}")
        return target
    return host, port


def _split_connect_to(entry: str) -> tuple[str, str, str, str] | None:
    """HOST1:PORT1:HOST2:PORT2, where a host may be an [IPv6] literal."""
    match = re.fullmatch(r"(\[[^]]*\]|[^:]*):(\d*):(\[[^]]*\]|[^:]*):(\d*)", entry)
    if match is None:
        return None
    h1, p1, h2, p2 = match.groups()
    return h1.strip("[]"), p1, h2.strip("[]"), p2


def _limits(opts: CurlOptions, spent: float) -> tuple[float, float]:
    """Time left for the whole transfer (-m) and for resolving and connecting (--connect-timeout)."""
    total = opts.max_time - spent if opts.max_time else float("inf")
    connect = min(total, opts.connect_timeout) if opts.connect_timeout else total
    return total, connect


def _verify(tls: ClientTls, out: Outcome, host: str, now: datetime) -> Failure | None:
    """curl's checks of the server certificate: the chain (OpenSSL's verify), then the host name
    (also for IP addresses, against IP SANs). Messages and exit code 60 as curl reports them."""
    ident = out.server_identity
    if ident is None:
        return None
    rejected = pki.verify_peer(ident, tls.trust, now, hostname=host)
    if rejected is None:
        return None
    if rejected.check == "chain":
        return Failure(60, f"SSL certificate problem: {rejected.reason}")
    return Failure(60, rejected.reason)
