"""The simulator's world as the real servers need it: each server's names, address, ports and certificate.

Two shapes of ``World`` exist: the first one keeps ``hosts`` as a dict of ``ExternalHost`` with ``plain``
and ``secure`` handlers (ports 80 and 443); the data-file one (``labs/common/world.yaml``) keeps
``hosts`` as a list of host specs and each ``ExternalHost`` has ``listeners`` by port. Both answer a
connection with ``ExternalHost.accept(Connection) -> Outcome``, which is what the servers call, so both
backends answer alike. This module is the one place that knows the two shapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import LabkitError


class WorldShapeError(LabkitError):
    """The world holds something the real servers can't serve; nothing was started."""


@dataclass(frozen=True)
class Port:
    number: int
    tls: bool
    http2: bool


@dataclass(frozen=True)
class Server:
    host: Any  # the world's ExternalHost: ``accept(Connection) -> Outcome`` answers for it
    name: str
    names: tuple[str, ...]  # every name that resolves to it
    ip: str
    ports: tuple[Port, ...]
    certificate: tuple[str, ...]  # the names its certificate carries


def servers(world: Any) -> list[Server]:
    hosts = world.hosts
    if isinstance(hosts, dict):  # name -> ExternalHost with plain/secure handlers
        return [_from_handlers(h) for h in hosts.values()]
    return [_from_listeners(world.at(spec.address)) for spec in hosts]  # host specs from the data file


def _cert_names(host: Any, names: tuple[str, ...]) -> tuple[str, ...]:
    identity = getattr(host, "identity", None)
    return tuple(identity.names) if identity is not None and identity.names else names


def _from_handlers(host: Any) -> Server:
    if getattr(host, "extra_ports", None):
        raise WorldShapeError(
            f"world host {host.name} has extra_ports {sorted(host.extra_ports)}; only its plain (80) and "
            "secure (443) handlers are served",
            hint="Leave extra_ports empty, or describe the host in labs/common/world.yaml.",
        )
    ports = []
    if host.plain is not None:
        ports.append(Port(80, tls=False, http2=False))
    if host.secure is not None:
        ports.append(Port(443, tls=True, http2=bool(getattr(host, "h2", False))))
    names = (host.name,)
    return Server(host, host.name, names, host.ip, tuple(ports), _cert_names(host, names))


def _from_listeners(host: Any) -> Server:
    ports = tuple(Port(li.port, li.tls, li.http2) for li in sorted(host.listeners.values(), key=lambda li: li.port))
    names = tuple(host.names)
    return Server(host, host.name, names, host.ip, ports, _cert_names(host, names))
