"""``-v`` output: ``*`` info lines, ``>`` request headers, ``<`` response headers, on stderr.

What the simulator cannot know (TLS details, DNS) is filled in with what curl 8 typically prints,
so the shape a learner reads matches a real run; the facts (addresses, headers, statuses) are real.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..result import HttpResponse
from . import request
from .args import CurlOptions
from .headers import header_lines
from .urls import Url, is_ip_literal, parse_url

#: The curl release the simulator impersonates (User-Agent, ``%{json}``).
CURL_VERSION = "8.16.0"

# Exit codes of failures during the TLS handshake, before any request is sent.
_TLS_CODES = {35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98}
# Failures before a connection exists.
_CONNECT_CODES = {5, 6, 7, 45}


@dataclass(frozen=True)
class Hop:
    """One request/response pair as verbose output needs it."""

    url: Url
    response: HttpResponse
    body_bytes: int
    remote_ip: str
    remote_port: int
    local_ip: str = ""
    local_port: int = 0



def _lines(prefix: str, lines: list[str], crlf: bool = False) -> str:
    end = "\r\n" if crlf else "\n"
    return "".join(f"{prefix}{line}{end}" for line in lines)


def _http_version_label(opts: CurlOptions, response: HttpResponse | None) -> str:
    if response is not None and not response.http_version.startswith("1"):
        return f"HTTP/{response.http_version}"
    return "HTTP/1.0" if opts.http_version == "1.0" else "HTTP/1.1"


class VerboseWriter:
    """Builds the verbose lines of one curl run, remembering the open connection between hops."""

    def __init__(self, opts: CurlOptions) -> None:
        self.opts = opts
        self.conn: tuple[str, str, int] | None = None
        self.conn_no = -1
        self.stream = -1
        self.resolve_announced = False
        self.sent = 0  # requests written so far: -G data and the body belong to the first one

    # -- connection setup
    def _dns_cache(self) -> str:
        if self.resolve_announced or not self.opts.resolve:
            return ""
        self.resolve_announced = True
        return _lines("* ", [f"Added {h}:{p}:{a} to DNS cache" for h, p, a in self.opts.resolve])

    def _resolved(self, url: Url, ip: str) -> list[str]:
        if is_ip_literal(url.host) or not ip:
            return []
        if any(h == url.host and p == url.port for h, p, _ in self.opts.resolve):
            return [f"Hostname {url.host} was found in DNS cache"]
        family = "IPv6" if ":" in ip else "IPv4"
        other = "IPv4" if family == "IPv6" else "IPv6"
        return [f"Host {url.host}:{url.port} was resolved.", f"{other}: (none)", f"{family}: {ip}"]

    def connect(self, url: Url, ip: str, port: int) -> str:
        """Lines up to a TCP connection; empty when the previous connection is reused."""
        key = (url.scheme, url.host, url.port)
        if self.conn == key:
            return _lines("* ", [f"Reusing existing {url.scheme}: connection with host {url.host}"])
        self.conn, self.conn_no, self.stream = key, self.conn_no + 1, -1
        shown_ip = ip or url.host
        target = f"[{shown_ip}]" if ":" in shown_ip else shown_ip
        lines = [*self._resolved(url, ip), f"  Trying {target}:{port}..."]
        return self._dns_cache() + _lines("* ", lines)

    def connected(self, url: Url, ip: str, port: int, local_ip: str = "", local_port: int = 0) -> str:
        if local_ip:  # curl 8.16 names both ends, with a trailing space
            remote = f"{ip or url.host} port {port}"
            line = f"Established connection to {url.host} ({remote}) from {local_ip} port {local_port} "
        else:
            line = f"Connected to {url.host} ({ip or url.host}) port {port}"
        return _lines("* ", [line])

    def tls_start(self) -> str:
        offers = "http/1.1" if self.opts.http_version in ("1.0", "1.1") else "h2,http/1.1"
        cafile = self.opts.cacert or "/etc/ssl/certs/ca-certificates.crt"
        return _lines(
            "* ",
            [
                f"ALPN: curl offers {offers}",
                "TLSv1.3 (OUT), TLS handshake, Client hello (1):",
                f" CAfile: {cafile}",
                " CApath: none" if self.opts.cacert else " CApath: /etc/ssl/certs",
            ],
        )

    def tls_done(self, url: Url, response: HttpResponse) -> str:
        alpn = "h2" if response.http_version == "2" else "http/1.1"
        verify = " SSL certificate verify ok."
        if self.opts.insecure:
            verify = " SSL certificate verify result: unable to get local issuer certificate (20), continuing anyway."
        return _lines(
            "* ",
            [
                "TLSv1.3 (IN), TLS handshake, Server hello (2):",
                "TLSv1.3 (IN), TLS handshake, Encrypted Extensions (8):",
                "TLSv1.3 (IN), TLS handshake, Certificate (11):",
                "TLSv1.3 (IN), TLS handshake, CERT verify (15):",
                "TLSv1.3 (IN), TLS handshake, Finished (20):",
                "TLSv1.3 (OUT), TLS change cipher, Change cipher spec (1):",
                "TLSv1.3 (OUT), TLS handshake, Finished (20):",
                "SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384 / X25519 / RSASSA-PSS",
                f"ALPN: server accepted {alpn}",
                "Server certificate:",
                f" subject: CN={url.host}",
                verify,
            ],
        )

    # -- request and response
    def request(self, url: Url, method: str, response: HttpResponse | None) -> str:
        version = _http_version_label(self.opts, response)
        sent = request.build(self.opts, url, hop_method=None if self.sent == 0 else method)
        self.sent += 1
        headers, target = list(sent.headers), sent.target
        out = ""
        if version == "HTTP/2":
            self.stream += 2
            tag = f"[HTTP/2] [{self.stream}]"
            pseudo = [f":method: {method}", f":scheme: {url.scheme}", f":authority: {url.authority}"]
            pseudo += [f":path: {target}"] + [f"{k.lower()}: {v}" for k, v in headers if k != "Host"]
            out += _lines("* ", [f"{tag} OPENED stream for {url}"] + [f"{tag} [{p}]" for p in pseudo])
        lines = [f"{method} {target} {version}"] + [f"{k}: {v}" for k, v in headers] + [""]
        out += _lines("> ", lines, crlf=True)
        if not sent.body:
            return out + _lines("* ", ["Request completely sent off"])
        # curl 7.88 on loopback shows the body as "} [3 bytes data]"; curl 8 then reports the upload.
        size = len(sent.body.encode())
        return out + f"}} [{size} bytes data]\n" + _lines("* ", [f"upload completely sent off: {size} bytes"])

    def response(self, response: HttpResponse, body_bytes: int) -> str:
        out = _lines("< ", [*header_lines(response), ""], crlf=True)
        if body_bytes:
            out += f"{{ [{body_bytes} bytes data]\n"
        return out

    def using(self, response: HttpResponse | None) -> str:
        http2 = response is not None and response.http_version == "2"
        return _lines("* ", ["using HTTP/2" if http2 else "using HTTP/1.x"])

    def hop(self, hop: Hop, method: str) -> str:
        """Everything from connecting to the response body of one request."""
        reused = self.conn == (hop.url.scheme, hop.url.host, hop.url.port)
        out = self.connect(hop.url, hop.remote_ip, hop.remote_port)
        if not reused:
            out += self.connected(hop.url, hop.remote_ip, hop.remote_port, hop.local_ip, hop.local_port)
            if hop.url.scheme == "https":
                out += self.tls_start() + self.tls_done(hop.url, hop.response)
            out += self.using(hop.response)
        return out + self.request(hop.url, method, hop.response) + self.response(hop.response, hop.body_bytes)

    def _intact(self) -> str:
        host, port = (self.conn[1], self.conn[2]) if self.conn else ("", 0)
        return f"Connection #{self.conn_no} to host {host}:{port} left intact"

    def follow(self, next_url: str, had_body: bool) -> str:
        lines = ["Ignoring the response-body"] if had_body else []
        lines += [
            self._intact(),
            f"Issue another request to this URL: '{next_url}'",
        ]
        return _lines("* ", lines)

    def done(self) -> str:
        return _lines("* ", [self._intact()])

    def failure_before_response(self, url_text: str, method: str, code: int, message: str, ip: str) -> str:
        """A transfer that died before any response: show how far it got, then the reason."""
        url = parse_url(url_text)
        out = ""
        if code != 6:
            out += self.connect(url, ip, url.port)
        if code not in _CONNECT_CODES and not message.startswith(("Failed to connect", "Connection timed out")):
            out += self.connected(url, ip, url.port)
            if url.scheme == "https":
                out += self.tls_start()
            if code not in _TLS_CODES:
                out += self.using(None) + self.request(url, method, None)
        return out + _lines("* ", [message, f"closing connection #{max(self.conn_no, 0)}"])

    def failure_after_response(self, message: str) -> str:
        return _lines("* ", [message, f"closing connection #{max(self.conn_no, 0)}"])
