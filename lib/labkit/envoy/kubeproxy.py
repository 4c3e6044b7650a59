"""kube-proxy's Service rules (iptables mode), written into every pod's network namespace.

A connection to a Service's cluster IP and port is sent to one of its endpoints (DNAT, the
``KUBE-SERVICES`` chain of the nat table, one endpoint picked at random with the ``statistic`` match as
kube-proxy does), and a Service port with no endpoint is rejected (the filter table, ``REJECT`` with
``icmp-port-unreachable``: the client sees "connection refused"). ExternalName and headless Services
get no rules: they are DNS only.

On a node these rules sit in the node's namespace, which a pod's packets cross after the pod's own
rules. Here they sit in each pod's namespace after istio-init's: nat ``OUTPUT`` jumps to
``ISTIO_OUTPUT`` first and to ``KUBE-SERVICES`` after it, so the application's connection is still
redirected to its sidecar, and only what leaves the pod (the sidecar's own connection, or a pod without
one) meets the Service rule, as on a node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import LabkitError

CHAIN = "KUBE-SERVICES"
#: What the OUTPUT chain gets once per pod, after istio-init's own jump.
JUMP = f"-A OUTPUT -j {CHAIN}"
PROTOCOLS = {"TCP": "tcp", "UDP": "udp"}


class ServiceRuleError(LabkitError):
    """A Service shape these rules do not build; nothing was written."""


@dataclass(frozen=True)
class ServicePort:
    """One cluster IP and port, and where kube-proxy sends it (``ip:port`` of each endpoint)."""

    cluster_ip: str
    port: int
    protocol: str  # iptables' name: tcp or udp
    endpoints: tuple[str, ...]


def service_ports(
    services: list[dict[str, Any]],
    endpoints_of: Callable[[dict[str, Any]], list[dict[str, Any]]],
    target_port: Callable[[dict[str, Any], dict[str, Any]], int],
) -> list[ServicePort]:
    """The rules' input from the Services: ``endpoints_of`` gives a Service's ready endpoints (as pod
    records) and ``target_port`` the port a Service port reaches on one of them."""
    out = []
    for svc in services:
        spec = svc.get("spec") or {}
        ip = spec.get("clusterIP")
        if spec.get("type") == "ExternalName" or not ip or ip == "None":
            continue
        endpoints = endpoints_of(svc)
        for sp in spec.get("ports") or []:
            protocol = sp.get("protocol", "TCP")
            if protocol not in PROTOCOLS:
                meta = svc["metadata"]
                raise ServiceRuleError(
                    f"Service {meta['namespace']}/{meta['name']}: port {sp['port']} protocol {protocol} is not "
                    "built by the envoy backend's kube-proxy rules (TCP and UDP only)",
                    hint="use protocol TCP, or run this lab on a kind cluster",
                )
            targets = tuple(f"{ep['status']['podIP']}:{target_port(sp, ep)}" for ep in endpoints)
            out.append(ServicePort(ip, int(sp["port"]), PROTOCOLS[protocol], targets))
    return out


def nat_input(ports: list[ServicePort], *, with_jump: bool) -> str:
    """``iptables-restore --noflush`` input: the ``KUBE-SERVICES`` chain anew (declaring it flushes it),
    and, the first time, OUTPUT's jump to it."""
    lines = ["*nat", f":{CHAIN} - [0:0]"]
    for sp in ports:
        match = f"-A {CHAIN} -d {sp.cluster_ip}/32 -p {sp.protocol} -m {sp.protocol} --dport {sp.port}"
        for i, target in enumerate(sp.endpoints):
            left = len(sp.endpoints) - i
            # kube-proxy's even spread: endpoint i is taken with probability 1/(endpoints left).
            pick = f" -m statistic --mode random --probability {1 / left:.5f}" if left > 1 else ""
            lines.append(f"{match}{pick} -j DNAT --to-destination {target}")
    if with_jump:
        lines.append(JUMP)
    lines += ["COMMIT", ""]
    return "\n".join(lines)


def reject_rules(ports: list[ServicePort]) -> list[str]:
    """Filter-table OUTPUT rules for Service ports with no endpoint: refused, as kube-proxy does."""
    return [
        f"-A OUTPUT -d {sp.cluster_ip}/32 -p {sp.protocol} -m {sp.protocol} --dport {sp.port} "
        "-j REJECT --reject-with icmp-port-unreachable"
        for sp in ports
        if not sp.endpoints
    ]


def with_rejects(filter_table: str, rejects: list[str]) -> str:
    """A filter table (``iptables-restore`` input) with the reject rules first in OUTPUT."""
    if not rejects:
        return filter_table
    lines = filter_table.splitlines()
    at = max(i for i, line in enumerate(lines) if line.startswith(":")) + 1
    return "\n".join([*lines[:at], *rejects, *lines[at:]]) + "\n"
