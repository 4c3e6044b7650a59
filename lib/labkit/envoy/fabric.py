"""The run's private network: a bridge in its own namespace, every other namespace cabled to it.

Both ends of each veth pair are created inside project namespaces (``ip -n <fabric> link add ... peer
... netns <target>``), so no interface ever appears in the host's namespace and nothing routes to the
host's network. Every host on the bridge is on-link: pods get a default route out of ``eth0`` and answer
ARP for their own addresses, so the internet namespace can hold the world's addresses as /32s.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import netns

BRIDGE = "br0"
POD_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/16"


class Fabric:
    def __init__(self, name: str) -> None:
        self.name = name
        self._ports = 0

    def create(self) -> None:
        netns.create(self.name)
        netns.sh(["ip", "-n", self.name, "link", "add", BRIDGE, "type", "bridge"])
        netns.sh(["ip", "-n", self.name, "link", "set", BRIDGE, "up"])

    def attach(self, target: str, addresses: Sequence[str], *, ifname: str = "eth0") -> None:
        """Cable namespace ``target`` to the bridge with ``addresses`` (CIDR notation) on ``ifname``."""
        self._ports += 1
        port = f"p{self._ports}"
        ip = ["ip", "-n", self.name]
        netns.sh([*ip, "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", target])
        netns.sh([*ip, "link", "set", port, "master", BRIDGE, "up"])
        inside = ["ip", "-n", target]
        for addr in addresses:
            netns.sh([*inside, "addr", "add", addr, "dev", ifname])
        netns.sh([*inside, "link", "set", ifname, "up"])
        # On-link default: every address on the bridge answers its own ARP; nothing beyond the bridge exists.
        netns.sh([*inside, "route", "add", "default", "dev", ifname])
