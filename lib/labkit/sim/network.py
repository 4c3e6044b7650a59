"""Packets between addresses: NetworkPolicy, Services to pods, pods to gateways, and the internet.

The network is a table from address to endpoint: a pod (its app, or the gateway it runs) or a host
of the outside world. A Service's cluster IP is not in it: connections to it go to one ready pod.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..trace import Trace
from . import netpol
from .cluster import ROUTER, proxy_role, target_port
from .gateway import Gateway
from .messages import REFUSED, TIMEOUT, Connection, Outcome

if TYPE_CHECKING:
    from .mesh import Mesh
    from .world import ExternalHost

HOP_LATENCY = 0.001  # inside the cluster


@dataclass(frozen=True)
class Endpoint:
    """What answers at one address: a pod, or a host outside the cluster."""

    ip: str
    pod: dict[str, Any] | None = None
    host: ExternalHost | None = None


class Network:
    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh

    def endpoints(self) -> dict[str, Endpoint]:
        """Every address that answers, now: the pods' IPs and the outside world's."""
        table = {h.ip: Endpoint(h.ip, host=h) for h in self.mesh.world.servers()}
        for pod in self.mesh.cluster.pods():
            ip = (pod.get("status") or {}).get("podIP")
            if ip:
                table[ip] = Endpoint(ip, pod=pod)
        return table

    def endpoint(self, ip: str) -> Endpoint | None:
        return self.endpoints().get(ip)

    def peer(self, ip: str) -> netpol.Peer:
        pod = self.mesh.cluster.pod_by_ip(ip)
        if pod is None:
            return netpol.Peer(ip)
        ns = pod["metadata"]["namespace"]
        named = {
            p["name"]: p["containerPort"]
            for c in pod["spec"].get("containers", [])
            for p in c.get("ports") or []
            if p.get("name")
        }
        return netpol.Peer(ip, ns, pod["metadata"].get("labels") or {}, self.mesh.cluster.namespace_labels(ns), named)

    def allowed(self, src_ip: str, dst_ip: str, port: int, protocol: str = "TCP") -> netpol.Verdict:
        if not self.mesh.options.enforce_network_policy:
            return netpol.Verdict(True, "this cluster does not enforce NetworkPolicy")
        policies = self.mesh.store.select("networking.k8s.io", "NetworkPolicy")
        return netpol.evaluate(policies, self.peer(src_ip), self.peer(dst_ip), port, protocol)

    def connect(self, conn: Connection, trace: Trace, origin: str) -> Outcome:
        """Open ``conn`` from ``conn.src_ip``: Service VIPs go to a ready pod; policy may drop it."""
        dst_ip, port = conn.dst_ip, conn.dst_port
        svc = self.mesh.cluster.service_by_ip(dst_ip)
        if svc is not None:
            endpoints = self.mesh.cluster.service_endpoints(svc)
            spec_port = next((p for p in svc["spec"].get("ports", []) if p["port"] == port), None)
            if not endpoints or spec_port is None:
                hop = trace.hop(f"Service {svc['metadata']['namespace']}/{svc['metadata']['name']}")
                hop.outcome = f"no ready endpoint for port {port}: connection refused"
                return Outcome.failed(REFUSED, hop.outcome)
            pod = endpoints[0]
            dst_ip = pod["status"]["podIP"]
            port = target_port(spec_port, pod)
            conn = replace(conn, dst_ip=dst_ip, dst_port=port)  # everything else, a tunnel too, goes along
        verdict = self.allowed(conn.src_ip, dst_ip, port)
        if not verdict.allowed:
            hop = trace.hop(f"network ({origin} → {dst_ip}:{port})")
            hop.step("NetworkPolicy", verdict.reason)
            hop.outcome = "packets dropped: the connection attempt times out"
            return Outcome.failed(TIMEOUT, verdict.reason)
        endpoint = self.endpoint(dst_ip)
        if endpoint is not None and endpoint.pod is not None:
            return self._to_pod(endpoint.pod, conn, trace)
        host = endpoint.host if endpoint is not None else None
        if host is not None:
            self.mesh.world.date = self.mesh.clock.datetime()  # servers stamp their Date header from it
            hop = trace.hop(f"external host {host.name} ({dst_ip}:{port})")
            out = host.accept(conn)
            hop.outcome = _describe(out)
            return out
        hop = trace.hop(f"network → {dst_ip}:{port}")
        hop.outcome = "no host at that address: the connection attempt times out"
        return Outcome.failed(TIMEOUT, "no route to host")

    def _to_pod(self, pod: dict[str, Any], conn: Connection, trace: Trace) -> Outcome:
        proxy = self.mesh.proxy(pod) if proxy_role(pod) == ROUTER else None
        out = proxy.inbound(conn, trace) if isinstance(proxy, Gateway) else self.mesh.apps.serve(pod, conn, trace)
        out.elapsed += HOP_LATENCY
        return out


def _describe(out: Outcome) -> str:
    if out.reply is not None:
        return f"answers {out.reply.status} {out.reply.reason} (HTTP/{out.reply.http_version})"
    return f"{out.failure}: {out.detail}"
