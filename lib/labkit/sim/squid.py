"""Squid in a simulated pod: the forward proxy of istio.io's "Using an External HTTPS Proxy" task.

Driven by the squid.conf the pod mounts at /etc/squid/squid.conf (the task mounts a ConfigMap
there). Modelled, following Squid's squid.conf reference:

- ``http_port N`` (the port it listens on);
- ``acl NAME TYPE VALUE...`` of types ``src``, ``dst``, ``port``, ``method`` and ``dstdomain``, plus
  Squid's predefined ``all``, ``localhost``, ``to_localhost`` and ``manager``; several lines with
  one name add values;
- ``http_access allow|deny [!]ACL...``: the first line whose ACLs all match decides; when none
  matches, the opposite of the last line's action applies (deny when there are no lines);
- ``coredump_dir`` and ``visible_hostname``.

CONNECT opens a tunnel to host:port (Squid answers "200 Connection established" and relays the
bytes untouched); an absolute-form request (``GET http://host/path``) is forwarded with the
``Via`` and ``X-Forwarded-For`` headers Squid adds by default (``via on``, ``forwarded_for on``).
Denied requests get 403 (ERR_ACCESS_DENIED), unresolvable or unreachable targets 503. Each
transaction writes one line in Squid's native access-log format
(``time elapsed client code/status bytes method URL - hierarchy/peer type``) to the pod's log,
which ``/var/log/squid/access.log`` also shows. Any other directive is refused: the pod logs which
line is not modelled and answers nothing, rather than act on half a config.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..trace import Hop, Trace
from . import tunnel
from .cluster import SIDECAR, proxy_role
from .messages import REFUSED, RESET, Connection, Outcome, Reply, Request
from .sidecar import Sidecar
from .world import reason

if TYPE_CHECKING:
    from .mesh import Mesh

CONF = "/etc/squid/squid.conf"
ACCESS_LOG = "/var/log/squid/access.log"
LATENCY = 0.001
_NO_EFFECT_HERE = {"coredump_dir", "visible_hostname"}
_PREDEFINED = {
    "all": [("src", "0.0.0.0/0"), ("src", "::/0")],
    "localhost": [("src", "127.0.0.1/32"), ("src", "::1")],
    "to_localhost": [("dst", "127.0.0.0/8"), ("dst", "0.0.0.0/32"), ("dst", "::1")],
    "manager": [("manager", "")],
}
_ACL_TYPES = {"src", "dst", "port", "method", "dstdomain"}


def is_squid(pod: dict[str, Any]) -> bool:
    return any(_is_squid_image(c.get("image", "")) for c in pod["spec"].get("containers", []))


def _is_squid_image(image: str) -> bool:
    """ubuntu/squid (the Ubuntu image), sameersbn/squid (older istio.io pages), or plain squid."""
    return image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0] == "squid"


def _version(image: str) -> str:
    """Squid's version as the image tag states it (ubuntu/squid:6.10-24.10_beta gives 6.10)."""
    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
    match = re.match(r"\d+(\.\d+)*", tag)
    return match.group(0) if match else "6.13"


@dataclass
class SquidConf:
    port: int = 3128
    acls: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    rules: list[tuple[bool, list[tuple[bool, str]]]] = field(default_factory=list)  # (allow, [(negated, acl)])
    problem: str = ""  # the first line the simulator does not model


def parse(text: str) -> SquidConf:
    conf = SquidConf(acls={k: list(v) for k, v in _PREDEFINED.items()})
    for number, raw in enumerate(text.splitlines(), start=1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        directive, args = words[0], words[1:]
        if directive == "http_port" and len(args) == 1 and args[0].rsplit(":", 1)[-1].isdigit():
            conf.port = int(args[0].rsplit(":", 1)[-1])
        elif directive == "acl" and len(args) >= 3 and args[1] in _ACL_TYPES:
            conf.acls.setdefault(args[0], []).extend((args[1], value) for value in args[2:])
        elif directive == "http_access" and len(args) >= 2 and args[0] in ("allow", "deny"):
            names = [(name.startswith("!"), name.lstrip("!")) for name in args[1:]]
            unknown = [name for _, name in names if name not in conf.acls]
            if unknown:
                conf.problem = f"line {number}: http_access names an undefined acl {unknown[0]}"
                return conf
            conf.rules.append((args[0] == "allow", names))
        elif directive in _NO_EFFECT_HERE:
            continue
        else:
            conf.problem = f"line {number}: {raw.strip()!r}"
            return conf
    return conf


@dataclass(frozen=True)
class _Transaction:
    """What Squid's ACLs look at."""

    client: str
    method: str
    host: str
    port: int
    url: str


def _matches(kind: str, value: str, t: _Transaction) -> bool:
    if kind in ("src", "dst"):
        address = t.client if kind == "src" else t.host
        try:
            return ipaddress.ip_address(address) in ipaddress.ip_network(value, strict=False)
        except ValueError:
            return False
    if kind == "port":
        low, _, high = value.partition("-")
        return int(low) <= t.port <= int(high or low)
    if kind == "method":
        return t.method == value
    if kind == "dstdomain":
        host = t.host.lower()
        domain = value.lower()
        return host == domain.lstrip(".") or (domain.startswith(".") and host.endswith(domain))
    if kind == "manager":
        return t.url.startswith("cache_object://") or "/squid-internal-mgr/" in t.url
    return False


def allowed(conf: SquidConf, t: _Transaction) -> tuple[bool, str]:
    """Squid's http_access: the first matching line decides, else the opposite of the last line."""
    for allow, names in conf.rules:
        if all(any(_matches(k, v, t) for k, v in conf.acls[name]) != negated for negated, name in names):
            line = " ".join(("!" if negated else "") + name for negated, name in names)
            return allow, f"http_access {'allow' if allow else 'deny'} {line}"
    if not conf.rules:
        return False, "no http_access lines: Squid denies"
    last = conf.rules[-1][0]
    return not last, f"no http_access line matched: the opposite of the last one ({'deny' if last else 'allow'})"


class SquidServer:
    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh

    def __call__(self, pod: dict[str, Any], conn: Connection, trace: Trace) -> Outcome:
        name = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        hop = trace.hop(f"squid in {name}")
        container = next(c for c in pod["spec"]["containers"] if _is_squid_image(c.get("image", "")))
        text = self.mesh.cluster.pod_file(pod, container["name"], CONF)
        if text is None:
            hop.outcome = f"no {CONF} mounted: Squid's packaged default config is not modelled"
            self.mesh.write_log(pod, container["name"], f"labkit: {hop.outcome}; mount a squid.conf")
            return Outcome.failed(REFUSED, hop.outcome)
        conf = parse(text.decode(errors="replace"))
        if conf.problem:
            hop.outcome = f"{CONF} {conf.problem}: not modelled by the offline simulator"
            self.mesh.write_log(pod, container["name"], f"labkit: {hop.outcome}")
            return Outcome.failed(REFUSED, hop.outcome)
        if conn.dst_port != conf.port:
            hop.outcome = f"Squid listens on {conf.port}, not {conn.dst_port}: connection refused"
            return Outcome.failed(REFUSED, hop.outcome)
        if conn.request is None or conn.tls is not None:
            hop.outcome = "not an HTTP request: Squid closes the connection"
            return Outcome.failed(RESET, hop.outcome, LATENCY)
        session = _Session(self.mesh, pod, container, conf, conn, hop, trace)
        return session.connect() if conn.request.method == "CONNECT" else session.forward()


class _Session:
    """One client transaction through Squid."""

    def __init__(
        self,
        mesh: Mesh,
        pod: dict[str, Any],
        container: dict[str, Any],
        conf: SquidConf,
        conn: Connection,
        hop: Hop,
        trace: Trace,
    ) -> None:
        self.mesh, self.pod, self.conf, self.conn, self.hop, self.trace = mesh, pod, conf, conn, hop, trace
        self.container = container["name"]
        self.version = _version(container.get("image", ""))
        assert conn.request is not None
        self.request: Request = conn.request

    # -- CONNECT host:port: a tunnel
    def connect(self) -> Outcome:
        host, _, port_text = self.request.path.rpartition(":")
        target = f"{host}:{port_text}"
        if not port_text.isdigit():
            return self._error(400, "ERR_INVALID_REQ", "NONE", target, "the CONNECT target has no port")
        t = _Transaction(self.conn.src_ip, "CONNECT", host.strip("[]"), int(port_text), target)
        verdict, why = allowed(self.conf, t)
        self.hop.step("http_access", why)
        if not verdict:
            return self._error(403, "ERR_ACCESS_DENIED", "TCP_DENIED", target, f"CONNECT {target} denied")
        ip = self._resolve(t.host)
        if ip is None:
            return self._error(503, "ERR_DNS_FAIL", "NONE", target, f"{t.host} does not resolve")
        inside = self.conn.tunnel
        if inside is None:
            self.hop.outcome = "200 Connection established, but the tunnel carried nothing to relay"
            return Outcome.failed(RESET, self.hop.outcome, LATENCY)
        upstream = Connection(self._ip, ip, t.port, inside.tls, inside.request, 50000 + len(self.trace.hops))
        out = self._send(ip, upstream)
        if out.failure in (REFUSED, "timeout"):
            return self._error(503, "ERR_CONNECT_FAIL", "NONE", target, f"{ip}:{t.port}: {out.failure}")
        self.hop.step("CONNECT", f"{target} → {ip}:{t.port}: 200 Connection established, bytes relayed as they are")
        self.hop.outcome = "TCP_TUNNEL/200"
        sent = len(out.reply.body.encode()) + 300 if out.reply else 0
        self._log(out.elapsed, "TCP_TUNNEL/200", sent, "CONNECT", target, f"HIER_DIRECT/{ip}", "-")
        out.elapsed += LATENCY
        return tunnel.mark_established(out)

    # -- GET http://host/path: a forwarded request
    def forward(self) -> Outcome:
        req = self.request
        match = re.match(r"^(http)://([^/:?#]+|\[[^\]]+\])(?::(\d+))?(.*)$", req.path)
        if match is None:
            return self._error(
                400, "ERR_INVALID_URL", "NONE", req.path, "not an absolute URL: Squid is a forward proxy"
            )
        host, port = match.group(2).strip("[]"), int(match.group(3) or 80)
        path = match.group(4) or "/"
        t = _Transaction(self.conn.src_ip, req.method, host, port, req.path)
        verdict, why = allowed(self.conf, t)
        self.hop.step("http_access", why)
        if not verdict:
            return self._error(403, "ERR_ACCESS_DENIED", "TCP_DENIED", req.path, f"{req.method} {req.path} denied")
        ip = self._resolve(host)
        if ip is None:
            return self._error(503, "ERR_DNS_FAIL", "TCP_MISS", req.path, f"{host} does not resolve")
        via = f"1.1 {self._hostname} (squid/{self.version})"
        kept = tuple((k, v) for k, v in req.headers if k.lower() != "proxy-connection")
        forwarded = replace(req, path=path, headers=kept).with_headers(
            ("Via", via), ("X-Forwarded-For", self.conn.src_ip)
        )
        out = self._send(ip, Connection(self._ip, ip, port, None, forwarded, 50000 + len(self.trace.hops)))
        if out.reply is None:
            return self._error(503, "ERR_CONNECT_FAIL", "TCP_MISS", req.path, f"{ip}:{port}: {out.failure}")
        reply = out.reply.with_headers(("Via", via))
        self.hop.outcome = f"TCP_MISS/{reply.status}"
        kind = reply.header("content-type") or "-"
        sent = len(reply.body.encode()) + 300
        self._log(out.elapsed, f"TCP_MISS/{reply.status:03d}", sent, req.method, req.path, f"HIER_DIRECT/{ip}", kind)
        return Outcome(reply=reply, elapsed=out.elapsed + LATENCY)

    # -- helpers
    @property
    def _ip(self) -> str:
        return self.pod["status"]["podIP"]

    @property
    def _hostname(self) -> str:
        return self.pod["metadata"]["name"]  # visible_hostname defaults to the machine's name

    def _resolve(self, host: str) -> str | None:
        found = self.mesh.resolve(host, self.pod["metadata"]["namespace"])
        self.hop.step("DNS", f"{host} → {found}" if found else f"{host} does not resolve")
        return found

    def _send(self, ip: str, upstream: Connection) -> Outcome:
        """Squid's own connection, through its pod's sidecar when it has one."""
        if proxy_role(self.pod) == SIDECAR:
            sidecar = self.mesh.proxy(self.pod)
            assert isinstance(sidecar, Sidecar)
            return sidecar.outbound(upstream, self.trace)
        return self.mesh.network.connect(upstream, self.trace, "squid")

    def _error(self, status: int, page: str, code: str, url: str, why: str) -> Outcome:
        self.hop.outcome = f"{status} {page}: {why}"
        body = f"<html><body><h1>ERROR</h1><p>{page}</p></body></html>\n"
        headers = (
            ("Server", f"squid/{self.version}"),
            ("Mime-Version", "1.0"),
            ("Content-Type", "text/html;charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("X-Squid-Error", f"{page} 0"),
        )
        self._log(0.0, f"{code}/{status:03d}", len(body) + 200, self.request.method, url, "HIER_NONE/-", "text/html")
        return Outcome(reply=Reply(status, reason(status), headers, body), elapsed=LATENCY)

    def _log(self, elapsed: float, code: str, size: int, method: str, url: str, hierarchy: str, kind: str) -> None:
        """Squid's native access.log line: time.ms elapsed-ms client code/status bytes method URL user hier type."""
        stamp = self.mesh.clock.datetime().timestamp()
        took = round(elapsed * 1000)
        line = f"{stamp:.3f} {took:6d} {self.conn.src_ip} {code} {size} {method} {url} - {hierarchy} {kind}"
        self.mesh.write_log(self.pod, self.container, line)


def access_log_file(mesh: Mesh, pod: dict[str, Any], container: str, path: str) -> bytes | None:
    """/var/log/squid/access.log in a Squid container: the access-log lines written so far."""
    if path != ACCESS_LOG or not is_squid(pod):
        return None
    lines = mesh.logs(pod["metadata"]["namespace"], pod["metadata"]["name"], container)
    return "".join(f"{line}\n" for line in lines if not line.startswith("labkit:")).encode()
