"""NetworkPolicy, as a CNI that enforces it decides: per connection, egress of the source pod and
ingress of the destination pod. A pod no policy selects is unrestricted in that direction."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from ..selectors import label_selector_matches


@dataclass(frozen=True)
class Peer:
    """One end of a connection: its IP, and its pod and namespace when it is in the cluster."""

    ip: str
    namespace: str | None = None
    labels: dict[str, str] | None = None
    namespace_labels: dict[str, str] | None = None
    named_ports: dict[str, int] | None = None


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str


def _policy_types(policy: dict[str, Any]) -> list[str]:
    spec = policy.get("spec") or {}
    if spec.get("policyTypes"):
        return spec["policyTypes"]
    return ["Ingress", "Egress"] if "egress" in spec else ["Ingress"]


def _peer_matches(rule_peer: dict[str, Any], peer: Peer, policy_ns: str) -> bool:
    if "ipBlock" in rule_peer:
        block = rule_peer["ipBlock"]
        ip = ipaddress.ip_address(peer.ip)
        if ip not in ipaddress.ip_network(block["cidr"], strict=False):
            return False
        return not any(ip in ipaddress.ip_network(e, strict=False) for e in block.get("except") or [])
    if peer.namespace is None:  # outside the cluster: only ipBlock can match it
        return False
    if "namespaceSelector" in rule_peer:
        if not label_selector_matches(rule_peer["namespaceSelector"], peer.namespace_labels or {}):
            return False
    elif peer.namespace != policy_ns:
        return False
    return "podSelector" not in rule_peer or label_selector_matches(rule_peer["podSelector"], peer.labels or {})


def _port_matches(rule_ports: list[dict[str, Any]] | None, port: int, protocol: str, dst: Peer) -> bool:
    if not rule_ports:
        return True
    for p in rule_ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        value = p.get("port")
        if value is None:
            return True
        if isinstance(value, str):
            value = (dst.named_ports or {}).get(value)
            if value is None:
                continue
        if value <= port <= p.get("endPort", value):
            return True
    return False


def evaluate(policies: list[dict[str, Any]], src: Peer, dst: Peer, port: int, protocol: str = "TCP") -> Verdict:
    """Whether ``src`` may open ``dst:port``. Both directions must allow it."""
    for direction, subject, other, key, peers_key in (
        ("Egress", src, dst, "egress", "to"),
        ("Ingress", dst, src, "ingress", "from"),
    ):
        if subject.namespace is None:
            continue
        selecting = [
            p
            for p in policies
            if p["metadata"]["namespace"] == subject.namespace
            and direction in _policy_types(p)
            and label_selector_matches((p.get("spec") or {}).get("podSelector"), subject.labels or {})
        ]
        if not selecting:
            continue
        allowed_by = None
        for policy in selecting:
            for rule in (policy.get("spec") or {}).get(key) or []:
                peers = rule.get(peers_key)
                if (not peers or any(_peer_matches(x, other, policy["metadata"]["namespace"]) for x in peers)) and (
                    _port_matches(rule.get("ports"), port, protocol, dst)
                ):
                    allowed_by = policy["metadata"]["name"]
                    break
            if allowed_by:
                break
        names = ", ".join(p["metadata"]["name"] for p in selecting)
        if not allowed_by:
            return Verdict(
                False,
                f"{direction.lower()} denied: NetworkPolicy {names} in {subject.namespace} "
                f"selects the pod and no rule allows {protocol} {other.ip}:{port}",
            )
    return Verdict(True, "allowed")
