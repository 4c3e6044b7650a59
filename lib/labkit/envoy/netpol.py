"""NetworkPolicy as iptables rules in each pod's namespace, so a denied connection really times out.

The decision is the simulator's (``sim.netpol.evaluate``, a CNI that enforces NetworkPolicy): for every
pod, every address it could reach (each pod, each server of the world) and every port something
listens on there is judged once; a pod with anything denied gets, in its own ``filter`` table, ACCEPT
rules for what is allowed and a DROP for the rest (kindnet drops, so the client sees a timeout). Loopback
(the sidecar's redirect) and replies stay open. Only TCP is built: the pods have no DNS server to
reach, and a policy rule for another protocol is refused by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import LabkitError
from ..sim.netpol import Peer, evaluate


class NetworkPolicyNotBuilt(LabkitError):
    """A NetworkPolicy shape the envoy backend does not turn into iptables rules."""


@dataclass(frozen=True)
class Target:
    peer: Peer
    ports: tuple[int, ...]


def check(policies: Iterable[dict[str, Any]]) -> None:
    """Refuse what the rules do not build: protocols other than TCP (and UDP, which nothing here uses)."""
    for policy in policies:
        name = f"NetworkPolicy {policy['metadata'].get('namespace')}/{policy['metadata']['name']}"
        spec = policy.get("spec") or {}
        for direction in ("ingress", "egress"):
            for i, rule in enumerate(spec.get(direction) or []):
                for j, port in enumerate(rule.get("ports") or []):
                    if port.get("protocol", "TCP") not in ("TCP", "UDP"):
                        raise NetworkPolicyNotBuilt(
                            f"{name}: spec.{direction}[{i}].ports[{j}].protocol {port['protocol']} is not built "
                            "by the envoy backend (TCP and UDP only)",
                            hint="use protocol TCP, or run this lab on a kind cluster",
                        )


def filter_table(policies: list[dict[str, Any]], src: Peer, targets: Iterable[Target]) -> str | None:
    """``iptables-restore`` input for the pod ``src``: None when nothing it can reach is denied."""
    allowed: list[tuple[str, int]] = []
    denied = False
    for target in targets:
        if target.peer.ip == src.ip:
            continue
        for port in target.ports:
            if evaluate(policies, src, target.peer, port).allowed:
                allowed.append((target.peer.ip, port))
            else:
                denied = True
    if not denied:
        return None
    lines = [
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":FORWARD ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        # A CNI judges what leaves the pod, never its loopback: the sidecar's redirect to 127.0.0.1:15001
        # is seen here with its translated address, and the pod reaching itself stays inside too.
        "-A OUTPUT -o lo -j ACCEPT",
        "-A OUTPUT -d 127.0.0.0/8 -j ACCEPT",
        f"-A OUTPUT -d {src.ip}/32 -j ACCEPT",
        "-A OUTPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
    ]
    lines += [f"-A OUTPUT -d {ip}/32 -p tcp -m tcp --dport {port} -j ACCEPT" for ip, port in sorted(set(allowed))]
    lines += ["-A OUTPUT -j DROP", "COMMIT", ""]
    return "\n".join(lines)


OPEN = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
