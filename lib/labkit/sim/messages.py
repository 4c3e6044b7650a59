"""What travels through the simulated network: requests, replies, connections and their outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .tls import ClientTls, Identity


@dataclass(frozen=True)
class Request:
    method: str
    authority: str  # the Host header / :authority
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    scheme: str = "http"
    body: str = ""  # what the client sent after the headers (curl -d, --data-binary, ...)

    def header(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), None)

    def with_headers(self, *extra: tuple[str, str]) -> Request:
        names = {k.lower() for k, _ in extra}
        kept = tuple((k, v) for k, v in self.headers if k.lower() not in names)
        return replace(self, headers=kept + tuple(extra))


@dataclass(frozen=True)
class Reply:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""
    http_version: str = "1.1"
    delay: float = 0.0  # how long the server took to answer

    def header(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), None)

    def with_headers(self, *extra: tuple[str, str]) -> Reply:
        return replace(self, headers=self.headers + tuple(extra))


@dataclass
class Connection:
    """One connection attempt as the destination sees it."""

    src_ip: str
    dst_ip: str
    dst_port: int
    tls: ClientTls | None = None  # the client speaks TLS (ClientHello with SNI, maybe a client cert)
    request: Request | None = None  # the HTTP request inside, when there is one
    src_port: int = 40000
    # Bytes that travel inside an established tunnel (an HTTP CONNECT through a forward proxy):
    # proxies on the way pass it on untouched, the proxy at the end opens it.
    tunnel: Connection | None = None


#: Why a connection produced no HTTP reply, in the terms curl reports.
TIMEOUT = "timeout"  # packets dropped (NetworkPolicy): the connect never completes
REFUSED = "refused"  # nothing listens on that port
RESET = "reset"  # a proxy closed the connection (BlackHoleCluster)
TLS_FAILED = "tls"  # handshake failed (peer closed, bad certificate, wrong protocol)
CERT_UNTRUSTED = "cert-untrusted"  # curl could not verify the server certificate
CERT_NAME = "cert-name"  # certificate does not match the host name
DNS = "dns"  # the name does not resolve


@dataclass
class Outcome:
    reply: Reply | None = None
    failure: str | None = None
    detail: str = ""
    elapsed: float = 0.0
    server_identity: Identity | None = None  # the certificate the server presented, for client checks
    tls_version: str = ""
    notes: list[str] = field(default_factory=list)
    #: Envoy's %UPSTREAM_TRANSPORT_FAILURE_REASON% when the upstream TLS handshake failed.
    transport_failure: str = ""

    @classmethod
    def failed(cls, failure: str, detail: str, elapsed: float = 0.0) -> Outcome:
        return cls(failure=failure, detail=detail, elapsed=elapsed)
