"""The outside world's data: the format of ``labs/common/world.yaml`` and of hosts added at run time.

Everything is checked before anything changes: unknown fields, bad names, addresses outside the
documentation ranges, a port twice, HTTP/2 without TLS, and a behaviour's own settings. A problem is
reported with the path of the field, e.g. ``hosts[2].ports[1].with.status``.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .world_behaviours import WorldError, describe

#: RFC 5737's documentation ranges: addresses that never belong to a real host.
DOCUMENTATION_RANGES = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"^{_LABEL}(\.{_LABEL})+$")
_CERT_NAME = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*$")


def check_address(value: str) -> str:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IPv4 address") from None
    if not any(address in net for net in DOCUMENTATION_RANGES):
        ranges = ", ".join(str(n) for n in DOCUMENTATION_RANGES)
        raise ValueError(f"{value} is outside the documentation ranges the simulated world uses ({ranges})")
    return str(address)


def check_host_name(value: str) -> str:
    name = value.strip().lower().rstrip(".")
    if not _HOST_NAME.match(name):
        raise ValueError(f"{value!r} is not a host name like api.example.com (no wildcards, no scheme or port)")
    if name.endswith(".cluster.local"):
        raise ValueError(f"{value!r} is a cluster name; Services answer those, not the outside world")
    return name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PortSpec(_Strict):
    """One listening port and how it answers."""

    port: int = Field(ge=1, le=65535)
    tls: bool = False
    http2: bool = False  # negotiated through ALPN when the client offers h2
    behaviour: str
    settings: dict[str, Any] = Field(default_factory=dict, alias="with")

    @model_validator(mode="after")
    def _h2_needs_tls(self) -> PortSpec:
        if self.http2 and not self.tls:
            raise ValueError("http2 is negotiated in the TLS handshake (ALPN): set tls: true or drop http2")
        return self


class HostSpec(_Strict):
    """One server: its names, address, certificate and ports."""

    name: str
    also: list[str] = Field(default_factory=list)  # more names for the same server
    address: str | None = None  # required in the data file; hosts added at run time get a free one
    latency: float = Field(0.05, ge=0, le=10)  # seconds each way to reach it
    certificate: list[str] = Field(default_factory=list)  # names on its certificate; default: its names
    ports: list[PortSpec] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_host_name(value)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None else check_address(value)

    @field_validator("also")
    @classmethod
    def _also(cls, value: list[str]) -> list[str]:
        return [check_host_name(v) for v in value]

    @field_validator("certificate")
    @classmethod
    def _certificate(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _CERT_NAME.match(name.lower()):
                raise ValueError(f"{name!r} is not a certificate name like api.example.com or *.example.com")
        return [n.lower() for n in value]

    @model_validator(mode="after")
    def _consistent(self) -> HostSpec:
        ports = [p.port for p in self.ports]
        twice = sorted({p for p in ports if ports.count(p) > 1})
        if twice:
            raise ValueError(f"port {twice[0]} is listed twice")
        names = self.names
        if len(set(names)) != len(names):
            raise ValueError("a name is listed twice (name and also)")
        if any(p.tls for p in self.ports) and not self.certificate:
            self.certificate = list(names)
        return self

    @property
    def names(self) -> list[str]:
        return [self.name, *self.also]


class WorldSpec(_Strict):
    """The whole data file."""

    client_address: str  # the cluster's public address, as external servers see the client
    hosts: list[HostSpec]

    @field_validator("client_address")
    @classmethod
    def _client(cls, value: str) -> str:
        return check_address(value)

    @model_validator(mode="after")
    def _addresses(self) -> WorldSpec:
        missing = [h.name for h in self.hosts if h.address is None]
        if missing:
            raise ValueError(f"every host in the data file needs an address (missing: {', '.join(missing)})")
        return self


def parse_world(data: Any, source: str) -> WorldSpec:
    try:
        return WorldSpec.model_validate(data)
    except ValidationError as exc:
        raise WorldError(f"{source}: {describe(exc)}") from None


def parse_host(data: Any, where: str) -> HostSpec:
    try:
        return HostSpec.model_validate(data)
    except ValidationError as exc:
        raise WorldError(f"{where}: {describe(exc)}") from None


def load(path: Path) -> WorldSpec:
    """Read and check a world file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise WorldError(f"cannot read the outside world from {path}: {exc}") from None
    return parse_world(data, str(path))
