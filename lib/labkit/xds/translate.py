"""Entry points: the Envoy config istiod would give one proxy, from the config the simulator says it sees."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..sim.cluster import proxy_role
from ..sim.config import ProxyView
from ..sim.gateway import gateway_service_ports
from ..sim.registry import MeshService
from .accesslog import access_logs, listener_access_logs
from .clusters import Endpoints, Workload, outbound_clusters
from .config import EnvoyConfig
from .errors import TranslationError
from .gateway import GatewayInput, gateway_listeners, gateway_route_configs, servers
from .sidecar import SidecarInput, http_ports, outbound_listeners, route_config
from .tls import server_tls

if TYPE_CHECKING:
    from ..sim.mesh import Mesh

Pod = dict[str, Any]


def node_id(pod: Pod, gateway: bool) -> str:
    """istio-agent's node id: ``<type>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local``."""
    meta = pod["metadata"]
    kind = "router" if gateway else "sidecar"
    ip = (pod.get("status") or {}).get("podIP", "")
    return f"{kind}~{ip}~{meta['name']}.{meta['namespace']}~{meta['namespace']}.svc.cluster.local"


def translate(
    view: ProxyView, pod: Pod, endpoints: Endpoints, gateway_ports: dict[int, int] | None = None
) -> EnvoyConfig:
    """The Envoy config for ``pod``'s proxy. ``view`` is what it sees (Mesh.view_for); ``endpoints``
    gives a Service's ready pods; ``gateway_ports`` maps a gateway Service's ports to targetPorts."""
    _refuse_unmodelled_mesh(view.mesh)
    _refuse_unmodelled_sidecar(view)
    namespace = pod["metadata"]["namespace"]
    labels = dict(pod["metadata"].get("labels") or {})
    log, listener_log = access_logs(view.mesh), listener_access_logs(view.mesh)
    gateway = view.scope.is_gateway
    out = EnvoyConfig(node_id(pod, gateway))
    built = outbound_clusters(view, namespace, endpoints)
    out.clusters, out.secrets = built.clusters, list(built.secrets)
    if gateway:
        inp = GatewayInput(
            servers(view.gateways_on(labels, namespace), gateway_ports or {}),
            view.scope.virtual_services,
            namespace,
            labels,
            log,
            listener_log,
            view,
        )
        out.listeners = gateway_listeners(inp)
        out.routes = gateway_route_configs(inp)
        for server in inp.servers:
            if server.terminates_http:
                _, names = server_tls(server.spec, server.where)
                out.secrets += [n for n in names if n not in out.secrets]
    else:
        side = SidecarInput(view, namespace, labels, log, listener_log)
        out.listeners = outbound_listeners(side)
        out.routes = [route_config(side, port) for port in http_ports(side)]
    return out


#: Sidecar resource fields the translator builds (the Scope reads them); the rest are refused.
SIDECAR_FIELDS = {"workloadSelector", "egress", "outboundTrafficPolicy"}
EGRESS_FIELDS = {"hosts", "port"}


def _refuse_unmodelled_sidecar(view: ProxyView) -> None:
    choice = view.scope.sidecar
    spec = (choice.sidecar or {}).get("spec") or {}
    where = f"Sidecar {choice.name}"
    for key in sorted(set(spec) - SIDECAR_FIELDS):
        raise TranslationError(f"{where}: spec.{key} is not translated to Envoy config by labkit")
    for i, egress in enumerate(spec.get("egress") or []):
        for key in sorted(set(egress) - EGRESS_FIELDS):
            raise TranslationError(f"{where}: spec.egress[{i}].{key} is not translated to Envoy config by labkit")
        if str((egress.get("port") or {}).get("protocol", "")).upper() == "HTTP_PROXY":
            raise TranslationError(f"{where}: spec.egress[{i}].port.protocol HTTP_PROXY is not translated by labkit")


def _refuse_unmodelled_mesh(mesh: dict[str, Any]) -> None:
    for key in ("accessLogFormat", "accessLogEncoding", "defaultHttpRetryPolicy", "outboundClusterStatName"):
        if mesh.get(key):
            raise TranslationError(f"meshConfig.{key} is not translated to Envoy config by labkit")


# -- reading a simulated mesh -----------------------------------------------------------------------


def mesh_endpoints(mesh: Mesh) -> Endpoints:
    """A Service's ready pods in the simulated cluster, with their SPIFFE identities."""

    def lookup(svc: MeshService) -> list[tuple[Workload, str]]:
        out = []
        for pod in mesh.cluster.service_endpoints(svc.k8s or {}):
            ns = pod["metadata"]["namespace"]
            sa = pod["spec"].get("serviceAccountName", "default")
            ports = {
                p["name"]: p["containerPort"]
                for c in pod["spec"].get("containers") or []
                for p in c.get("ports") or []
                if p.get("name")
            }
            workload = Workload(pod["status"]["podIP"], dict(pod["metadata"].get("labels") or {}), sa, ports)
            out.append((workload, f"spiffe://cluster.local/ns/{ns}/sa/{sa}"))
        return out

    return lookup


def gateway_target_ports(mesh: Mesh, pod: Pod) -> dict[int, int]:
    """Service port → targetPort for the gateway pod (resolvePorts with the legacy label selector:
    the first Service port with that number wins; a named targetPort keeps the port)."""
    out: dict[int, int] = {}
    for p in gateway_service_ports(mesh.cluster.services(), pod):
        target = p.get("targetPort", p["port"])
        out.setdefault(int(p["port"]), int(target) if isinstance(target, int) else int(p["port"]))
    return out


def sidecar_config(mesh: Mesh, pod: Pod) -> EnvoyConfig:
    """The sidecar config of ``pod`` in the simulated mesh (refused for a gateway pod)."""
    if proxy_role(pod) == "router":
        raise TranslationError(f"pod {pod['metadata']['name']} runs a gateway; use gateway_config")
    return translate(mesh.view_for(pod), pod, mesh_endpoints(mesh))


def gateway_config(mesh: Mesh, pod: Pod) -> EnvoyConfig:
    """The gateway config of ``pod`` (a ``proxy router`` pod) in the simulated mesh."""
    if proxy_role(pod) != "router":
        raise TranslationError(f"pod {pod['metadata']['name']} is not a gateway; use sidecar_config")
    return translate(mesh.view_for(pod), pod, mesh_endpoints(mesh), gateway_target_ports(mesh, pod))
