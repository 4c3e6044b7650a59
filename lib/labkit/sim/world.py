"""The internet outside the cluster: servers by name and address, and how each one answers.

The servers and their behaviour are data (``labs/common/world.yaml``, see ``world_data``); this module
runs them. ``World.answer(...)`` is the one call a real HTTP server needs to give the very same
answers: host name, port, TLS or not, and a Request in; the Reply (with ``reply.delay``, how long the
server waits before answering) out. ``ExternalHost.accept`` adds what only a simulated network needs:
TLS and plain text on the wrong port, ALPN, the certificate shown, and the time on the wire.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from ..display import RichDisplay
from ..paths import world_file
from .messages import REFUSED, TLS_FAILED, Connection, Outcome, Reply, Request
from .tls import PUBLIC_ROOT, Identity
from .world_behaviours import Behaviour, Visit, WorldError, build, reason
from .world_data import HostSpec, PortSpec, WorldSpec, load, parse_host

__all__ = ["ExternalHost", "Listener", "World", "WorldError", "reason"]

#: The simulated servers' clock for Date headers: the virtual clock's epoch.
DEFAULT_DATE = datetime(2026, 1, 1, 9, 0, 0, tzinfo=timezone.utc)
#: Addresses for hosts added without one (the top of 203.0.113.0/24, clear of the data file's).
_FREE_ADDRESSES = [f"203.0.113.{n}" for n in range(200, 255)]
#: Top-level domains reserved never to resolve anywhere (RFC 6761), so NXDOMAIN is the truth for them.
_NEVER_RESOLVE = frozenset({"invalid", "test", "localhost"})
_PLAIN_ON_TLS_PORT = "<html><body>400 The plain HTTP request was sent to HTTPS port</body></html>\n"


@dataclass(frozen=True)
class Listener:
    port: int
    tls: bool
    http2: bool
    behaviour: Behaviour
    behaviour_name: str


@dataclass
class ExternalHost:
    """One server on the internet: the names that resolve to it, its address, and its ports."""

    name: str
    names: tuple[str, ...]
    ip: str
    identity: Identity | None
    latency: float
    listeners: dict[int, Listener]
    visit: Callable[[int, bool, str | None], Visit]
    added: bool = False  # added at run time (lab.world.add_host), not from the data file

    def accept(self, conn: Connection) -> Outcome:
        """Answer one connection on this server."""
        listener = self.listeners.get(conn.dst_port)
        if listener is None:
            return Outcome.failed(REFUSED, f"nothing listens on {self.name}:{conn.dst_port}", self.latency)
        if conn.tls is not None and not listener.tls:
            # A TLS ClientHello sent to a plain HTTP port: the server answers in plain text.
            return Outcome.failed(TLS_FAILED, "wrong version number", self.latency)
        if conn.tls is None and listener.tls:
            bad = Reply(400, reason(400), (("content-type", "text/html"),), _PLAIN_ON_TLS_PORT)
            return Outcome(reply=bad, elapsed=self.latency)
        assert conn.request is not None
        reply = listener.behaviour(conn.request, self.visit(conn.dst_port, listener.tls, None))
        version = "2" if listener.tls and listener.http2 and conn.tls and "h2" in conn.tls.alpn else "1.1"
        out = Outcome(reply=replace(reply, http_version=version), elapsed=self.latency + reply.delay)
        if listener.tls:
            out.server_identity = self.identity
            out.tls_version = "TLSv1.3"
        return out

    def summary(self) -> tuple[str, str, str, str]:
        ports = ", ".join(
            f"{p}{' TLS' if li.tls else ''}{' h2' if li.http2 else ''}: {li.behaviour_name}"
            for p, li in sorted(self.listeners.items())
        )
        return (", ".join(self.names), self.ip, ports, "added" if self.added else "world.yaml")


class World(RichDisplay):
    """Every server outside the cluster, by name and by address."""

    def __init__(self, spec: WorldSpec | None = None, *, seed: int = 0) -> None:
        spec = spec if spec is not None else load(world_file())
        self.client_address = spec.client_address
        self.date = DEFAULT_DATE  # the mesh sets its clock's date here before each request
        self.rng = random.Random(seed)  # what is random on a real server is repeatable here
        self._hosts: dict[str, ExternalHost] = {}  # by every name
        self._servers: dict[str, ExternalHost] = {}  # by address
        self._specs: list[HostSpec] = []
        places = [f"hosts[{i}]" for i in range(len(spec.hosts))]
        self._commit(spec.hosts, self._prepare(spec.hosts, places, added=False))

    @classmethod
    def from_file(cls, path: Path) -> World:
        return cls(load(path))

    # -- looking things up
    def resolve(self, name: str) -> str | None:
        host = self._hosts.get(name.lower().rstrip("."))
        return host.ip if host else None

    def at(self, ip: str) -> ExternalHost | None:
        return self._servers.get(ip)

    def servers(self) -> list[ExternalHost]:
        """Every server, once each (a server may answer several names)."""
        return list(self._servers.values())

    def host(self, name: str) -> ExternalHost:
        found = self._hosts.get(name.lower().rstrip("."))
        if found is None:
            raise WorldError(f"{name} is not part of the simulated outside world (known: {', '.join(self.names())})")
        return found

    def names(self) -> list[str]:
        return sorted(self._hosts)

    def unknown(self, name: str) -> str:
        """Why ``name`` has no address out here, for explain(): the simulator can't know every host on
        the real internet, so it says which ones it has instead of claiming the name doesn't exist."""
        tld = name.lower().rstrip(".").rsplit(".", 1)[-1]
        if tld in _NEVER_RESOLVE:
            return f"{name}: names under .{tld} never resolve (RFC 6761)"
        return (
            f"{name} is not part of the simulated outside world (known: {', '.join(self.names())}); "
            f"add it with lab.world.add_host({name!r})"
        )

    @property
    def hosts(self) -> list[HostSpec]:
        """Every server as data (the data file's entries, then the ones added), for other backends."""
        return [h.model_copy(deep=True) for h in self._specs]

    # -- answering
    def answer(self, name: str, port: int, tls: bool, request: Request, client_address: str | None = None) -> Reply:
        """What server ``name`` answers on ``port`` to ``request``. ``reply.delay``: how long it waits first.

        For a real server playing this world's host: it listens on the same port (with TLS when the
        world says so) and sends back this Reply. ``client_address`` is the address httpbin echoes as
        ``origin``; the cluster's public address by default.
        """
        host = self.host(name)
        listener = host.listeners.get(port)
        if listener is None:
            raise WorldError(f"{host.name} does not listen on port {port} (it listens on {sorted(host.listeners)})")
        if listener.tls != tls:
            raise WorldError(f"{host.name}:{port} {'speaks' if listener.tls else 'does not speak'} TLS")
        return listener.behaviour(request, self.visit(port, tls, client_address))

    def visit(self, port: int, tls: bool, client_address: str | None) -> Visit:
        return Visit(
            port, tls, client_address or self.client_address, format_datetime(self.date, usegmt=True), self.rng
        )

    # -- changing it
    def add_host(
        self,
        name: str,
        behaviour: str = "httpbin",
        *,
        settings: dict[str, Any] | None = None,
        address: str | None = None,
        also: Iterable[str] = (),
        ports: Iterable[int] = (80, 443),
        tls_ports: Iterable[int] | None = None,
        http2: bool | None = None,
        latency: float = 0.05,
        certificate: Iterable[str] | None = None,
    ) -> ExternalHost:
        """Add a server for your own experiments. Bad input is refused and nothing changes.

        It answers every port in ``ports`` with ``behaviour`` (``httpbin``, ``static-page``, ``site``,
        ``redirect-to-https``; ``settings`` are that behaviour's ``with`` fields), with TLS on
        ``tls_ports`` (default: 443 when listed); ``http2`` (default: on) is negotiated on those. The
        address defaults to a free one in 203.0.113.200-254 and the certificate to the host's names.

        Example: ``lab.world.add_host("api.example.com")`` (an httpbin), or
        ``lab.world.add_host("shop.example.com", "static-page", settings={"body": "hello\\n"})``.
        """
        ports = list(ports)
        tls_ports = [p for p in ports if p == 443] if tls_ports is None else list(tls_ports)
        stray = [p for p in tls_ports if p not in ports]
        if stray:
            raise WorldError(f"tls_ports: {stray} not in ports {ports}")
        if http2 and not tls_ports:
            raise WorldError("http2: negotiated in the TLS handshake (ALPN), and no port has TLS (tls_ports)")
        entry: dict[str, Any] = {
            "name": name,
            "also": list(also),
            "address": address,
            "latency": latency,
            "ports": [
                {
                    "port": p,
                    "tls": p in tls_ports,
                    "http2": p in tls_ports and http2 is not False,
                    "behaviour": behaviour,
                    "with": settings or {},
                }
                for p in ports
            ],
        }
        if certificate is not None:
            entry["certificate"] = list(certificate)
        return self.add_hosts([entry])[0]

    def add_hosts(self, entries: list[dict[str, Any]]) -> list[ExternalHost]:
        """Add servers written as ``labs/common/world.yaml`` writes them (``address`` may be left out),
        e.g. from a notebook parameter. All or nothing: one bad entry and none is added."""
        if not isinstance(entries, list):
            raise WorldError(f"add_hosts takes a list of host entries, not {type(entries).__name__}")
        places = [f"host {i + 1} ({_entry_name(e)})" for i, e in enumerate(entries)]
        specs = [parse_host(e, where) for e, where in zip(entries, places, strict=True)]
        taken = set(self._servers) | {s.address for s in specs if s.address}
        for spec in specs:
            if spec.address is None:
                spec.address = self._free_address(taken)
                taken.add(spec.address)
        hosts = self._prepare(specs, places, added=True)
        self._commit(specs, hosts)
        return hosts

    def remove_host(self, name: str) -> None:
        """Remove a server added with add_host; the data file's servers stay."""
        host = self.host(name)
        if not host.added:
            raise WorldError(f"{host.name} comes from labs/common/world.yaml; only hosts you added can be removed")
        for n in host.names:
            del self._hosts[n]
        del self._servers[host.ip]
        self._specs = [s for s in self._specs if s.name != host.name]

    def _prepare(self, specs: list[HostSpec], places: list[str], *, added: bool) -> list[ExternalHost]:
        """Check every new server against the world and each other, and build it; change nothing."""
        names = set(self._hosts)
        addresses = {a: h.name for a, h in self._servers.items()}
        hosts = []
        for spec, where in zip(specs, places, strict=True):
            for n in spec.names:
                if n in names:
                    raise WorldError(f"{where}: {n} is already part of the simulated outside world")
            if spec.address in addresses:
                raise WorldError(f"{where}.address: {spec.address} is already {addresses[spec.address]}'s address")
            if spec.address == self.client_address:
                raise WorldError(f"{where}.address: {spec.address} is the cluster's own public address")
            assert spec.address is not None  # the data file requires it; add_hosts fills it in
            listeners = {p.port: _listener(p, f"{where}.ports[{i}]") for i, p in enumerate(spec.ports)}
            _check_site_hosts(spec, where)
            cert = spec.certificate
            identity = Identity(cert[0], tuple(cert), PUBLIC_ROOT) if cert else None
            hosts.append(
                ExternalHost(
                    spec.name, tuple(spec.names), spec.address, identity, spec.latency, listeners, self.visit, added
                )
            )
            names.update(spec.names)
            addresses[spec.address] = spec.name
        return hosts

    def _commit(self, specs: list[HostSpec], hosts: list[ExternalHost]) -> None:
        for spec, host in zip(specs, hosts, strict=True):
            for n in host.names:
                self._hosts[n] = host
            self._servers[host.ip] = host
            self._specs.append(spec)

    def _free_address(self, taken: set[str]) -> str:
        free = next((a for a in _FREE_ADDRESSES if a not in taken and a != self.client_address), None)
        if free is None:
            raise WorldError("no free address left in 203.0.113.200-254; pass address= (RFC 5737 ranges)")
        return free

    # -- showing it
    def __rich__(self) -> Table:
        table = Table(title="The simulated outside world", title_justify="left")
        for column in ("names", "address", "ports: behaviour", "from"):
            table.add_column(column)
        for host in self._servers.values():
            table.add_row(*host.summary())
        return table

    def __str__(self) -> str:
        return "\n".join("  ".join(h.summary()) for h in self._servers.values())

    def __repr__(self) -> str:
        return f"<World: {len(self._servers)} servers, names {', '.join(self.names())}>"


def _listener(spec: PortSpec, where: str) -> Listener:
    return Listener(spec.port, spec.tls, spec.http2, build(spec.behaviour, spec.settings, where), spec.behaviour)


def _check_site_hosts(spec: HostSpec, where: str) -> None:
    """A site page for a name the server doesn't have could never be served: refuse it."""
    for i, port in enumerate(spec.ports):
        if port.behaviour != "site":
            continue
        for j, page in enumerate(port.settings.get("pages") or []):
            host = str(page.get("host") or "").lower()
            if host and host not in spec.names:
                raise WorldError(
                    f"{where}.ports[{i}].with.pages[{j}].host: {host} is not one of this server's names "
                    f"({', '.join(spec.names)}); add it to also"
                )


def _entry_name(entry: object) -> str:
    return str(entry.get("name", "?")) if isinstance(entry, dict) else "?"
