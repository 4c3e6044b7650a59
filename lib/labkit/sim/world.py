"""The internet outside the cluster: named hosts, their addresses, and how each one answers.

Addresses come from the documentation ranges (RFC 5737), so nothing here looks like a real target.
The behaviour follows what the hosts really do: httpbin.org echoes requests, edition.cnn.com
redirects HTTP to HTTPS, www.baidu.com answers both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .messages import REFUSED, TLS_FAILED, Connection, Outcome, Reply, Request
from .tls import Identity, public_identity

Handler = Callable[[Request, Connection], Reply]

HTTP_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    418: "I'm a teapot",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def reason(status: int) -> str:
    return HTTP_REASONS.get(status, "")


@dataclass
class ExternalHost:
    """A host on the internet. ``plain`` answers port 80, ``secure`` answers port 443 after TLS."""

    name: str
    ip: str
    plain: Handler | None
    secure: Handler | None
    identity: Identity | None = None
    h2: bool = True  # whether it negotiates HTTP/2 over TLS
    latency: float = 0.05
    extra_ports: dict[int, str] = field(default_factory=dict)

    def accept(self, conn: Connection) -> Outcome:
        """Answer one connection on this host."""
        port = conn.dst_port
        if port == 80 and self.plain:
            if conn.tls is not None:
                # A TLS ClientHello sent to an HTTP port: the server answers in plain text.
                return Outcome.failed(TLS_FAILED, "wrong version number", self.latency)
            return self._answer(self.plain, conn, "1.1")
        if port == 443 and self.secure:
            if conn.tls is None:
                bad = Reply(
                    400,
                    reason(400),
                    (("content-type", "text/html"),),
                    "<html><body>400 The plain HTTP request was sent to HTTPS port</body></html>\n",
                )
                return Outcome(reply=bad, elapsed=self.latency)
            version = "2" if self.h2 and "h2" in conn.tls.alpn else "1.1"
            out = self._answer(self.secure, conn, version)
            out.server_identity = self.identity
            out.tls_version = "TLSv1.3"
            return out
        return Outcome.failed(REFUSED, f"nothing listens on {self.name}:{port}", self.latency)

    def _answer(self, handler: Handler, conn: Connection, version: str) -> Outcome:
        assert conn.request is not None
        reply = handler(conn.request, conn)
        return Outcome(reply=_with_version(reply, version), elapsed=self.latency + reply.delay)


def _with_version(reply: Reply, version: str) -> Reply:
    return replace(reply, http_version=version)


# -- httpbin.org ---------------------------------------------------------------------------------------


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _httpbin(scheme: str) -> Handler:
    def handle(req: Request, conn: Connection) -> Reply:
        headers = {_title(k): v for k, v in req.headers}
        headers.setdefault("Host", req.authority)
        headers["X-Amzn-Trace-Id"] = "Root=1-6a1b2c3d-4e5f60718293a4b5c6d7e8f9"
        path = req.path.split("?", 1)[0]
        url = f"{scheme}://{req.authority}{req.path}"
        get_like = {"args": {}, "headers": headers, "origin": "198.51.100.7", "url": url}
        if path == "/headers":
            return _json(200, {"headers": headers})
        if path in ("/get", "/anything") or path.startswith("/anything/"):
            return _json(200, get_like)
        if path == "/ip":
            return _json(200, {"origin": "198.51.100.7"})
        if m := re.fullmatch(r"/delay/(\d+(?:\.\d+)?)", path):
            delay = min(float(m.group(1)), 10.0)  # httpbin caps delays at 10 s
            return _json(200, {**get_like, "data": "", "files": {}, "form": {}}, delay=delay)
        if m := re.fullmatch(r"/status/(\d{3})", path):
            status = int(m.group(1))
            return Reply(status, reason(status), _server_headers("text/html; charset=utf-8", 0))
        return Reply(404, reason(404), _server_headers("text/html", 233), _NOT_FOUND)

    return handle


def _server_headers(content_type: str, length: int) -> tuple[tuple[str, str], ...]:
    return (
        ("date", "Thu, 01 Jan 2026 09:00:00 GMT"),
        ("content-type", content_type),
        ("content-length", str(length)),
        ("server", "gunicorn/19.9.0"),
        ("access-control-allow-origin", "*"),
        ("access-control-allow-credentials", "true"),
    )


def _json(status: int, payload: object, delay: float = 0.0) -> Reply:
    body = json.dumps(payload, indent=2, sort_keys=True) + "\n"
    return Reply(status, reason(status), _server_headers("application/json", len(body)), body, delay=delay)


_NOT_FOUND = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n<title>404 Not Found</title>\n'
    "<h1>Not Found</h1>\n<p>The requested URL was not found on the server.</p>\n"
)

# -- edition.cnn.com -----------------------------------------------------------------------------------


def _cnn_plain(req: Request, conn: Connection) -> Reply:
    location = f"https://{req.authority.split(':')[0]}{req.path}"
    return Reply(
        301,
        reason(301),
        (
            ("server", "Varnish"),
            ("retry-after", "0"),
            ("content-length", "0"),
            ("cache-control", "public, max-age=600"),
            ("location", location),
            ("accept-ranges", "bytes"),
            ("date", "Thu, 01 Jan 2026 09:00:00 GMT"),
            ("via", "1.1 varnish"),
            ("connection", "close"),
        ),
    )


def _cnn_secure(req: Request, conn: Connection) -> Reply:
    body = '<!DOCTYPE html><html lang="en"><head><title>Politics - CNN</title></head><body></body></html>\n'
    return Reply(
        200,
        reason(200),
        (
            ("content-type", "text/html; charset=utf-8"),
            ("x-served-by", "cache-iad-kiad7000025-IAD"),
            ("cache-control", "max-age=60"),
            ("content-length", str(len(body))),
            ("date", "Thu, 01 Jan 2026 09:00:00 GMT"),
            ("via", "1.1 varnish"),
        ),
        body,
    )


# -- www.baidu.com -------------------------------------------------------------------------------------


def _baidu(req: Request, conn: Connection) -> Reply:
    body = "<!DOCTYPE html><html><head><title>百度一下，你就知道</title></head><body></body></html>\n"
    return Reply(
        200,
        reason(200),
        (
            ("accept-ranges", "bytes"),
            ("cache-control", "private, no-cache, no-store, proxy-revalidate, no-transform"),
            ("connection", "keep-alive"),
            ("content-length", str(len(body))),
            ("content-type", "text/html"),
            ("date", "Thu, 01 Jan 2026 09:00:00 GMT"),
            ("server", "bfe/1.0.8.18"),
        ),
        body if req.method != "HEAD" else "",
    )


def default_hosts() -> list[ExternalHost]:
    return [
        ExternalHost(
            "httpbin.org",
            "203.0.113.20",
            _httpbin("http"),
            _httpbin("https"),
            public_identity("httpbin.org"),
            h2=True,
            latency=0.12,
        ),
        ExternalHost(
            "edition.cnn.com",
            "203.0.113.30",
            _cnn_plain,
            _cnn_secure,
            public_identity("edition.cnn.com"),
            h2=True,
            latency=0.04,
        ),
        ExternalHost(
            "www.baidu.com", "203.0.113.40", _baidu, _baidu, public_identity("www.baidu.com"), h2=False, latency=0.09
        ),
    ]


class World:
    """Every host outside the cluster, by name and by address."""

    def __init__(self, hosts: list[ExternalHost] | None = None) -> None:
        self.hosts: dict[str, ExternalHost] = {}
        for host in hosts if hosts is not None else default_hosts():
            self.add(host)

    def add(self, host: ExternalHost) -> None:
        self.hosts[host.name] = host

    def resolve(self, name: str) -> str | None:
        host = self.hosts.get(name.lower().rstrip("."))
        return host.ip if host else None

    def at(self, ip: str) -> ExternalHost | None:
        return next((h for h in self.hosts.values() if h.ip == ip), None)
