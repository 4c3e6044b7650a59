"""istio-init's traffic capture: the iptables rules it writes into a sidecar pod's network namespace.

The rules follow Istio's own istio-iptables golden files (tools/istio-iptables/pkg/capture/testdata:
``empty``, ``inbound-ports-wildcard``, ``ip-range``, ``outbound-ports-include``, ``kube-virt-interfaces``)
for the options the sidecar injector passes: ``-p 15001 -z 15006 -u 1337 -g 1337 -m REDIRECT -i
<includeOutboundIPRanges> -x <excludeOutboundIPRanges> -b <includeInboundPorts> -d <excludeInboundPorts>
-o <excludeOutboundPorts>``. DNS capture (istio-agent's proxy on 15053) and IPv6 are not modelled and
are refused by name rather than ignored.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..errors import LabkitError
from . import netns

#: The ports Istio's injector always excludes from inbound capture (status, health, metrics).
DEFAULT_EXCLUDE_INBOUND_PORTS = "15090,15021,15020"
INBOUND_TUNNEL_PORT = "15008"
LOOPBACK = "127.0.0.1/32"


class CaptureError(LabkitError):
    """A capture setting is not valid or not modelled; nothing was applied."""


@dataclass(frozen=True)
class CaptureConfig:
    """The istio-init settings, named after the pod annotations that set them (``traffic.sidecar.istio.io/...``)."""

    include_outbound_ip_ranges: str = "*"
    exclude_outbound_ip_ranges: str = ""
    exclude_outbound_ports: str = ""
    include_outbound_ports: str = ""
    include_inbound_ports: str = "*"
    exclude_inbound_ports: str = DEFAULT_EXCLUDE_INBOUND_PORTS
    proxy_port: int = 15001
    inbound_capture_port: int = 15006
    proxy_uid: int = 1337
    proxy_gid: int = 1337


#: What the injector gives a pod without any traffic.sidecar.istio.io annotation.
ISTIO_DEFAULT = CaptureConfig()


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _ports(value: str, field: str) -> list[str]:
    out = []
    for item in _split(value):
        if not item.isdigit() or not 0 < int(item) < 65536:
            raise CaptureError(f"{field}: {item!r} is not a port number (1-65535)")
        out.append(str(int(item)))
    return out


def _cidrs(value: str, field: str, *, wildcard_ok: bool) -> list[str] | None:
    """The IPv4 networks in ``value``; None for the wildcard ``*``."""
    items = _split(value)
    if "*" in items:
        if not wildcard_ok:
            raise CaptureError(f"{field}: '*' is not allowed here (istio-iptables rejects it too)")
        return None
    out = []
    for item in items:
        try:
            net = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise CaptureError(f"{field}: {item!r} is not an IP address range (CIDR)") from None
        if net.version != 4:
            raise CaptureError(
                f"{field}: {item!r} is IPv6; the lab network is IPv4 only",
                hint="Use IPv4 ranges; IPv6 capture is not modelled.",
            )
        out.append(str(net))
    return out


def nat_rules(cfg: CaptureConfig) -> list[str]:
    """The nat table, as ``iptables-restore`` lines (without the ``*nat``/``COMMIT`` frame)."""
    include_in = cfg.include_inbound_ports.strip()
    inbound_ports = None if include_in == "*" else _ports(include_in, "includeInboundPorts")
    exclude_in = _ports(cfg.exclude_inbound_ports, "excludeInboundPorts")
    exclude_out_ports = _ports(cfg.exclude_outbound_ports, "excludeOutboundPorts")
    include_out_ports = _ports(cfg.include_outbound_ports, "includeOutboundPorts")
    exclude_ranges = _cidrs(cfg.exclude_outbound_ip_ranges, "excludeOutboundIPRanges", wildcard_ok=False) or []
    include_ranges = _cidrs(cfg.include_outbound_ip_ranges, "includeOutboundIPRanges", wildcard_ok=True)

    rules = [
        ":ISTIO_INBOUND - [0:0]",
        ":ISTIO_REDIRECT - [0:0]",
        ":ISTIO_IN_REDIRECT - [0:0]",
        ":ISTIO_OUTPUT - [0:0]",
        f"-A ISTIO_INBOUND -p tcp --dport {INBOUND_TUNNEL_PORT} -j RETURN",
        f"-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports {cfg.proxy_port}",
        f"-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports {cfg.inbound_capture_port}",
    ]
    # Inbound: everything ('*') but the excluded ports, or only the listed ports.
    if inbound_ports is None:
        rules.append("-A PREROUTING -p tcp -j ISTIO_INBOUND")
        rules += [f"-A ISTIO_INBOUND -p tcp --dport {p} -j RETURN" for p in exclude_in]
        rules.append("-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT")
    elif inbound_ports:
        rules.append("-A PREROUTING -p tcp -j ISTIO_INBOUND")
        rules += [f"-A ISTIO_INBOUND -p tcp --dport {p} -j ISTIO_IN_REDIRECT" for p in inbound_ports]

    rules.append("-A OUTPUT -j ISTIO_OUTPUT")
    # Port exclusions come before everything else in ISTIO_OUTPUT, for TCP and UDP alike.
    for port in exclude_out_ports:
        rules.append(f"-A ISTIO_OUTPUT -p tcp --dport {port} -j RETURN")
        rules.append(f"-A ISTIO_OUTPUT -p udp --dport {port} -j RETURN")
    # Connections from the inbound passthrough cluster's bind address.
    rules.append("-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN")
    loopback_included = include_ranges is not None and any(
        _in_loopback(ipaddress.ip_network(r)) for r in include_ranges
    )
    for match in (f"--uid-owner {cfg.proxy_uid}", f"--gid-owner {cfg.proxy_gid}"):
        # The proxy calling its own pod through a service address goes back in through the inbound side.
        rules.append(
            f"-A ISTIO_OUTPUT -o lo ! -d {LOOPBACK} -p tcp ! --dport {INBOUND_TUNNEL_PORT} "
            f"-m owner {match} -j ISTIO_IN_REDIRECT"
        )
        if not loopback_included:
            # The app calling itself over lo is not captured.
            rules.append(f"-A ISTIO_OUTPUT -o lo -m owner ! {match} -j RETURN")
        # The proxy's own outbound traffic is never captured again (uid/gid 1337 exempt).
        rules.append(f"-A ISTIO_OUTPUT -m owner {match} -j RETURN")
    rules.append(f"-A ISTIO_OUTPUT -d {LOOPBACK} -j RETURN")
    rules += [f"-A ISTIO_OUTPUT -d {cidr} -j RETURN" for cidr in exclude_ranges]
    rules += [f"-A ISTIO_OUTPUT -p tcp --dport {p} -j ISTIO_REDIRECT" for p in include_out_ports]
    if include_ranges is None:
        rules.append("-A ISTIO_OUTPUT -j ISTIO_REDIRECT")
    else:
        rules += [f"-A ISTIO_OUTPUT -d {cidr} -j ISTIO_REDIRECT" for cidr in include_ranges]
    return rules


def restore_input(cfg: CaptureConfig) -> str:
    return "\n".join(["*nat", *nat_rules(cfg), "COMMIT", ""])


def apply(ns: str, cfg: CaptureConfig, iptables_restore: str) -> None:
    """Write the rules into namespace ``ns`` (its nat table only; the host's tables are never touched)."""
    text = restore_input(cfg)  # validates before anything is changed
    netns.run(ns, [iptables_restore], input=text)


def saved(ns: str, iptables: str) -> str:
    """``iptables-save -t nat`` inside ``ns``: what the kernel really holds."""
    return netns.run(ns, [f"{iptables}-save", "-t", "nat"])


def _in_loopback(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return isinstance(network, ipaddress.IPv4Network) and network.subnet_of(ipaddress.IPv4Network("127.0.0.0/8"))
