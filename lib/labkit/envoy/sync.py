"""The control plane's state made real: one real pod per simulated pod, its Envoy config, its
NetworkPolicy rules, kube-proxy's Service rules and the Service names it resolves.

``MeshSync.run()`` is idempotent and cheap when nothing changed. It creates a namespace (and an Envoy,
for a sidecar or a gateway) for each pod the Mesh's controllers made, removes pods that are gone,
translates what each proxy sees now (``Mesh.view_for``: config istiod has pushed, after the push delay)
with ``labkit.xds``, writes it through the proxy's file-watched xDS when it changed and waits until Envoy
has taken it (versions accepted, nothing warming).
"""

from __future__ import annotations

import copy
import json
import time
from typing import TYPE_CHECKING, Any

from ..errors import LabkitError, NotReady
from ..sim.cluster import ROUTER, SIDECAR, proxy_role, target_port
from ..sim.netpol import Peer
from ..xds import gateway_config, sidecar_config
from ..xds.config import EnvoyConfig
from ..xds.secrets import secret
from . import apps, kubeproxy, netns
from . import netpol as netpol_rules
from .capture import CaptureConfig
from .material import material_of
from .meshca import MeshCa
from .plane import DataPlane, Pod
from .proxy import EnvoyProxy

if TYPE_CHECKING:
    from ..sim.mesh import Mesh

#: How long a proxy may take to accept a new config and finish warming it.
APPLY_TIMEOUT = 10.0
CLUSTER_DOMAIN = "cluster.local"

#: The traffic.sidecar.istio.io annotations istio-init reads, and the CaptureConfig field each sets.
CAPTURE_ANNOTATIONS = {
    "traffic.sidecar.istio.io/includeOutboundIPRanges": "include_outbound_ip_ranges",
    "traffic.sidecar.istio.io/excludeOutboundIPRanges": "exclude_outbound_ip_ranges",
    "traffic.sidecar.istio.io/includeOutboundPorts": "include_outbound_ports",
    "traffic.sidecar.istio.io/excludeOutboundPorts": "exclude_outbound_ports",
    "traffic.sidecar.istio.io/includeInboundPorts": "include_inbound_ports",
    "traffic.sidecar.istio.io/excludeInboundPorts": "exclude_inbound_ports",
}


#: A proxy's config just written: pod key, proxy, xDS version, the kinds to wait for, and whether to wait
#: for warming to end (not while a secret it uses is undelivered: that keeps it warming on purpose).
_Written = tuple[str, EnvoyProxy, str, tuple[str, ...], bool]


class SyncError(LabkitError):
    """The data plane could not be brought in line with the control plane."""


def pod_key(pod: dict[str, Any]) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"


def capture_of(pod: dict[str, Any]) -> CaptureConfig:
    """istio-init's settings from the pod's annotations; one it does not build is refused by name."""
    annotations = pod["metadata"].get("annotations") or {}
    settings: dict[str, Any] = {}
    for name, value in annotations.items():
        if not name.startswith("traffic.sidecar.istio.io/"):
            continue
        field = CAPTURE_ANNOTATIONS.get(name)
        if field is None:
            raise SyncError(
                f"pod {pod_key(pod)}: annotation {name} is not built by the envoy backend's istio-init",
                hint=f"remove it, or use one of {', '.join(sorted(CAPTURE_ANNOTATIONS))}",
            )
        settings[field] = str(value)
    if "traffic.sidecar.istio.io/excludeInboundPorts" in annotations:
        # The injector appends its own exclusions (status, health, metrics) to the pod's list.
        settings["exclude_inbound_ports"] = ",".join(
            x for x in (settings["exclude_inbound_ports"], CaptureConfig().exclude_inbound_ports) if x
        )
    return CaptureConfig(**settings)


def service_names(svc: dict[str, Any]) -> list[str]:
    """The names a pod resolves to the Service's cluster IP (no search path: /etc/hosts has none)."""
    name, ns = svc["metadata"]["name"], svc["metadata"]["namespace"]
    return [f"{name}.{ns}.svc.{CLUSTER_DOMAIN}", f"{name}.{ns}.svc", f"{name}.{ns}"]


class MeshSync:
    def __init__(self, mesh: Mesh, plane: DataPlane) -> None:
        self.mesh = mesh
        self.plane = plane
        self.ca = MeshCa()
        self._uids: dict[str, str] = {}
        self._applied: dict[str, str] = {}  # pod key -> the config last delivered, as JSON
        self._filters: dict[str, str] = {}  # pod key -> the filter table last written
        self._pending: dict[str, str] = {}  # pod key -> the config written, until Envoy has accepted it
        self._services: dict[str, str] = {}  # pod key -> the KUBE-SERVICES chain last written
        self._hosts: dict[str, str] = {}  # Service name -> the cluster IP the pods resolve it to
        self.apps: dict[str, apps.App] = {}  # pod key -> its running application (nginx)

    # -- everything

    def run(self) -> None:
        pods = {pod_key(p): p for p in self.mesh.cluster.pods()}
        for key in list(self.plane.pods):
            pod = pods.get(key)
            if pod is None or self._uids.get(key) != pod["metadata"].get("uid"):
                self._remove(key)
        self._sync_hosts()
        for key, pod in pods.items():
            if key not in self.plane.pods:
                self._add(pod)
        # Every changed proxy gets its files first, then each is waited for: the proxies load at once.
        written: list[_Written] = []
        for key, pod in pods.items():
            if proxy_role(pod) is not None:
                written += self._configure(pod, self.plane.pods[key])
        for key, proxy, version, kinds, warm in written:
            proxy.wait_applied(version, kinds, timeout=APPLY_TIMEOUT)
            if warm:
                _wait_warm(proxy, APPLY_TIMEOUT)
            self._applied[key] = self._pending.pop(key)
        services = self._service_ports()
        self._sync_service_rules(services)
        self._sync_network_policy(pods, kubeproxy.reject_rules(services))

    def preview(self) -> None:
        """Build what every proxy will get once istiod has pushed what is stored now, without delivering
        it: a config labkit cannot build is refused here (by name), before any proxy could need it."""
        future = copy.deepcopy(self.mesh)
        future.clock.sleep(future.options.push_delay)
        netpol_rules.check(future.store.select("networking.k8s.io", "NetworkPolicy"))
        kubeproxy.service_ports(future.cluster.services(), future.cluster.service_endpoints, target_port)
        for pod in future.cluster.pods():
            apps.check(pod)
            role = proxy_role(pod)
            if role == SIDECAR:
                capture_of(pod)
                sidecar_config(future, pod)
            elif role == ROUTER:
                gateway_config(future, pod)

    # -- pods

    def _add(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        role = proxy_role(pod)
        ip = pod["status"]["podIP"]
        if role == ROUTER:
            self.plane.add_pod(meta["name"], meta["namespace"], proxy="router", capture=None, ip=ip)
        elif role == SIDECAR:
            self.plane.add_pod(meta["name"], meta["namespace"], proxy="sidecar", capture=capture_of(pod), ip=ip)
        else:
            self.plane.add_pod(meta["name"], meta["namespace"], proxy=None, capture=None, ip=ip)
        self._uids[pod_key(pod)] = meta.get("uid", "")
        app = apps.start(self.mesh.store, pod, self.plane.pods[pod_key(pod)], self.plane.run)
        if app is not None:
            self.apps[pod_key(pod)] = app

    def _remove(self, key: str) -> None:
        namespace, name = key.split("/", 1)
        app = self.apps.pop(key, None)
        if app is not None:
            app.stop()
        self.plane.remove_pod(name, namespace)
        for table in (self._uids, self._applied, self._filters, self._services):
            table.pop(key, None)

    def _sync_hosts(self) -> None:
        """Every Service name resolves to its current cluster IP; names of deleted Services no longer do."""
        wanted: dict[str, str] = {}
        for svc in self.mesh.cluster.services():
            ip = svc["spec"].get("clusterIP")
            if svc["spec"].get("type") == "ExternalName":
                # Cluster DNS answers an ExternalName Service with a CNAME; a hosts file can only flatten it.
                ip = self.mesh.resolve(svc["spec"].get("externalName", ""), svc["metadata"]["namespace"])
            if ip and ip != "None":
                wanted.update({name: ip for name in service_names(svc)})
        for name, ip in wanted.items():
            if self._hosts.get(name) != ip:
                self.plane.add_host(name, ip)
        for name in set(self._hosts) - set(wanted):
            self.plane.remove_host(name)
        self._hosts = wanted

    # -- proxies

    def translation(self, pod: dict[str, Any]) -> EnvoyConfig:
        return gateway_config(self.mesh, pod) if proxy_role(pod) == ROUTER else sidecar_config(self.mesh, pod)

    def _configure(self, pod: dict[str, Any], real: Pod) -> list[_Written]:
        """Write the proxy's config when it changed; what to wait for (nothing when it did not change)."""
        proxy = real.proxy
        if proxy is None:
            return []
        config = self.translation(pod)
        material = material_of(self.mesh, pod, self.ca, self.plane.ca_pem)
        xds = proxy.xds
        listeners = _with_sources(config.listeners, xds)
        clusters = _with_sources(config.clusters, xds)
        # A secret without content is never delivered (istiod does not push a credential it cannot read):
        # whatever uses it keeps warming, and its file is removed.
        materials = {name: material(name) for name in config.secrets}
        secrets = [secret(name, m) for name, m in materials.items() if m is not None]
        wanted = json.dumps([listeners, clusters, config.routes, secrets, sorted(materials)], sort_keys=True)
        key = pod_key(pod)
        if self._applied.get(key) == wanted:
            return []
        missing = [name for name, m in materials.items() if m is None]
        version = xds.apply(
            listeners=listeners, clusters=clusters, routes=config.routes, secrets=secrets, undelivered_secrets=missing
        )
        kinds = ("listeners", "clusters", "routes") if config.routes else ("listeners", "clusters")
        self._pending[key] = wanted  # recorded as applied once Envoy has taken it
        return [(key, proxy, version, kinds, not missing)]

    # -- NetworkPolicy

    # -- kube-proxy

    def _service_ports(self) -> list[kubeproxy.ServicePort]:
        cluster = self.mesh.cluster
        return kubeproxy.service_ports(cluster.services(), cluster.service_endpoints, target_port)

    def _sync_service_rules(self, services: list[kubeproxy.ServicePort]) -> None:
        """Each pod's KUBE-SERVICES chain, rewritten where the Services or their endpoints changed."""
        chain = kubeproxy.nat_input(services, with_jump=False)
        for key, real in self.plane.pods.items():
            if self._services.get(key) == chain:
                continue
            text = chain if key in self._services else kubeproxy.nat_input(services, with_jump=True)
            netns.run(real.ns, [self.plane.tools.iptables_restore, "--noflush"], input=text)
            self._services[key] = chain

    def _sync_network_policy(self, pods: dict[str, dict[str, Any]], rejects: list[str]) -> None:
        policies = list(self.mesh.store.select("networking.k8s.io", "NetworkPolicy"))
        if not self.mesh.options.enforce_network_policy:
            policies = []
        netpol_rules.check(policies)
        peers = {key: self._peer(pod) for key, pod in pods.items()}
        ports = self._ports(pods)
        targets = [netpol_rules.Target(peer, ports) for peer in peers.values()]
        targets += [
            netpol_rules.Target(Peer(ip), ports)
            for ip in sorted({ip for _, ip in self.plane.hosts})
            if ip not in {p.ip for p in peers.values()}
        ]
        for key, real in self.plane.pods.items():
            text = netpol_rules.filter_table(policies, peers[key], targets) if policies else None
            text = kubeproxy.with_rejects(text or netpol_rules.OPEN, rejects)
            if self._filters.get(key, netpol_rules.OPEN) != text:
                netns.run(real.ns, [self.plane.tools.iptables_restore], input=text)
                self._filters[key] = text

    def _peer(self, pod: dict[str, Any]) -> Peer:
        ns = pod["metadata"]["namespace"]
        named = {
            p["name"]: p["containerPort"]
            for c in pod["spec"].get("containers") or []
            for p in c.get("ports") or []
            if p.get("name")
        }
        return Peer(
            pod["status"]["podIP"],
            ns,
            dict(pod["metadata"].get("labels") or {}),
            self.mesh.cluster.namespace_labels(ns),
            named,
        )

    def _ports(self, pods: dict[str, dict[str, Any]]) -> tuple[int, ...]:
        """Every port something may listen on: containers, Services' targets, the world's servers."""
        found: set[int] = set()
        for pod in pods.values():
            for c in pod["spec"].get("containers") or []:
                found.update(int(p["containerPort"]) for p in c.get("ports") or [] if p.get("containerPort"))
        for svc in self.mesh.cluster.services():
            for p in svc["spec"].get("ports") or []:
                found.add(int(p["port"]))
                if isinstance(p.get("targetPort"), int):
                    found.add(int(p["targetPort"]))
        internet = self.plane.internet
        if internet is not None:
            found.update(port.number for server in internet.servers for port in server.ports)
        return tuple(sorted(found))


def _with_sources(resources: list[dict[str, Any]], xds: Any) -> list[dict[str, Any]]:
    """istiod's config sources (ADS, istio-agent's SDS) pointed at the proxy's watched files instead."""
    out = json.loads(json.dumps(resources))
    stack: list[Any] = [out]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            rds = node.get("rds")
            if isinstance(rds, dict) and "route_config_name" in rds:
                rds["config_source"] = xds.rds_source(rds["route_config_name"])
            if "sds_config" in node and "name" in node:
                node["sds_config"] = xds.sds_source(node["name"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


def _wait_warm(proxy: Any, timeout: float) -> None:
    """Envoy has no listener or cluster still warming (waiting for its routes, secrets or endpoints)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = proxy.admin("/stats?filter=warming")
        counts = {}
        for line in body.splitlines() if status == 200 else []:
            name, _, value = line.partition(": ")
            if value.strip().isdigit():
                counts[name] = int(value)
        if (
            counts.get("cluster_manager.warming_clusters", 0) == 0
            and counts.get("listener_manager.total_listeners_warming", 0) == 0
        ):
            return
        if time.monotonic() > deadline:
            raise NotReady(f"Envoy of {proxy.pod}.{proxy.namespace} still warming after {timeout:g} s: {counts}")
        time.sleep(0.02)
