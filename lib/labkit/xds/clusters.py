"""Outbound clusters as istiod builds them (Istio 1.27, pilot/pkg/networking/core/cluster.go and
cluster_builder.go): one ``outbound|port||host`` per service port, one per DestinationRule subset,
plus PassthroughCluster and BlackHoleCluster.

There is no EDS server here, so Kubernetes Services become STATIC clusters of their pods' addresses
(what EDS would have delivered), with the pods' tlsMode label as endpoint metadata for auto mTLS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..sim.config import ProxyView
from ..sim.registry import MeshService, Port
from .envoy import CLUSTER, HTTP_PROTOCOL_OPTIONS, Obj, address
from .errors import TranslationError
from .names import BLACKHOLE, PASSTHROUGH, ClusterRef
from .tls import upstream_tls

#: meshConfig defaults: connectTimeout 10s, dnsRefreshRate 60s.
CONNECT_TIMEOUT = "10s"
DNS_REFRESH_RATE = "60s"
#: applyConnectionPool defaults: every circuit breaker wide open.
MAX = 4294967295
CIRCUIT_BREAKERS = {
    "thresholds": [
        {
            "max_connections": MAX,
            "max_pending_requests": MAX,
            "max_requests": MAX,
            "max_retries": MAX,
            "track_remaining": True,
        }
    ]
}
#: DestinationRule loadBalancer.simple → Envoy lb_policy (applyLoadBalancer); LEAST_REQUEST is Istio's default.
LB_POLICIES = {
    None: "LEAST_REQUEST",
    "UNSPECIFIED": "LEAST_REQUEST",
    "LEAST_REQUEST": "LEAST_REQUEST",
    "LEAST_CONN": "LEAST_REQUEST",
    "ROUND_ROBIN": "ROUND_ROBIN",
    "RANDOM": "RANDOM",
}
#: trafficPolicy fields translated here (tls and loadBalancer.simple); others are refused by name.
POLICY_FIELDS = {"tls", "loadBalancer", "portLevelSettings"}
HTTP2 = {"HTTP2", "GRPC", "GRPC-WEB"}
#: WorkloadEntry fields of a ServiceEntry endpoint that are translated (others are refused by name).
ENDPOINT_FIELDS = {"address", "ports", "labels"}


@dataclass(frozen=True)
class Workload:
    """One endpoint of a Kubernetes Service: a ready pod behind it."""

    ip: str
    labels: dict[str, str]
    service_account: str
    container_ports: dict[str, int] = field(default_factory=dict)


#: The pods behind a Kubernetes Service (what EDS would deliver), and their SPIFFE identities.
Endpoints = Callable[[MeshService], list[tuple[Workload, str]]]


def passthrough_cluster() -> Obj:
    """buildDefaultPassthroughCluster: the original destination, HTTP/1 or HTTP/2 as the client spoke."""
    return {
        "@type": CLUSTER,
        "name": PASSTHROUGH,
        "type": "ORIGINAL_DST",
        "connect_timeout": CONNECT_TIMEOUT,
        "lb_policy": "CLUSTER_PROVIDED",
        "circuit_breakers": CIRCUIT_BREAKERS,
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": HTTP_PROTOCOL_OPTIONS,
                "common_http_protocol_options": {"idle_timeout": "300s"},
                "use_downstream_protocol_config": {"http_protocol_options": {}, "http2_protocol_options": {}},
            }
        },
    }


def blackhole_cluster() -> Obj:
    """buildBlackHoleCluster: STATIC with no endpoints, so every connection fails (UH)."""
    return {
        "@type": CLUSTER,
        "name": BLACKHOLE,
        "type": "STATIC",
        "connect_timeout": CONNECT_TIMEOUT,
        "lb_policy": "ROUND_ROBIN",
    }


@dataclass
class ClusterSet:
    clusters: list[Obj] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)

    def add(self, cluster: Obj, secrets: list[str]) -> None:
        self.clusters.append(cluster)
        self.secrets += [s for s in secrets if s not in self.secrets]


def outbound_clusters(view: ProxyView, namespace: str, endpoints: Endpoints) -> ClusterSet:
    """Every cluster the proxy holds: each service it sees, each port, each subset of its DestinationRule."""
    out = ClusterSet()
    for svc in view.registry:
        dr = view.destination_rule(svc.hostname, namespace)
        subsets = [s.get("name", "") for s in (dr or {}).get("spec", {}).get("subsets") or []]
        for port in svc.ports:
            for subset in ["", *subsets]:
                cluster, secrets = outbound_cluster(view, svc, port, subset, namespace, endpoints)
                out.add(cluster, secrets)
    out.add(blackhole_cluster(), [])
    out.add(passthrough_cluster(), [])
    return out


def outbound_cluster(
    view: ProxyView, svc: MeshService, port: Port, subset: str, namespace: str, endpoints: Endpoints
) -> tuple[Obj, list[str]]:
    ref = ClusterRef(svc.hostname, port.number, subset)
    dr = view.destination_rule(svc.hostname, namespace)
    policy = _policy(dr, subset, port.number)
    discovery = _discovery_type(svc)
    if discovery == "ORIGINAL_DST" and port.target_port and port.target_port != port.number:
        raise TranslationError(f"{svc.source}: targetPort with resolution NONE is not translated by labkit")
    cluster: Obj = {"@type": CLUSTER, "name": ref.name, "type": discovery, "connect_timeout": CONNECT_TIMEOUT}
    cluster["lb_policy"] = "CLUSTER_PROVIDED" if discovery == "ORIGINAL_DST" else _lb_policy(policy, ref)
    if discovery in ("STRICT_DNS", "LOGICAL_DNS"):
        cluster.update(dns_lookup_family="V4_ONLY", dns_refresh_rate=DNS_REFRESH_RATE, respect_dns_ttl=True)
    labels = _subset_labels(dr, subset)
    pods = [(w, i) for w, i in endpoints(svc) if _selects(labels, w.labels)] if svc.is_kubernetes else []
    if discovery != "ORIGINAL_DST":
        cluster["load_assignment"] = load_assignment(ref.name, svc, port, pods, labels)
    cluster["circuit_breakers"] = CIRCUIT_BREAKERS
    cluster["metadata"] = _metadata(svc, port, subset, dr)
    http2 = port.protocol in HTTP2
    identities = sorted({identity for _, identity in pods})
    auto_mtls = identities if _runs_sidecars(pods) else None
    settings = view.tls_for(svc.hostname, port.number, subset or None, namespace)
    tls = upstream_tls(settings, ref, http2, auto_mtls, identities)
    if tls.transport_socket is not None:
        cluster["transport_socket"] = tls.transport_socket
    if tls.transport_socket_matches is not None:
        cluster["transport_socket_matches"] = tls.transport_socket_matches
    options = _protocol_options(http2, tls.auto_sni, tls.auto_san_validation)
    if options is not None:
        cluster["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": options
        }
    return cluster, tls.secrets


def _discovery_type(svc: MeshService) -> str:
    """convertResolution: DNS → STRICT_DNS, DNS_ROUND_ROBIN → LOGICAL_DNS, STATIC → STATIC, NONE →
    ORIGINAL_DST; a Kubernetes Service would be EDS and is STATIC here (its pods' addresses)."""
    kinds = {
        "DNS": "STRICT_DNS",
        "DNS_ROUND_ROBIN": "LOGICAL_DNS",
        "STATIC": "STATIC",
        "NONE": "ORIGINAL_DST",
        "CLUSTER": "STATIC",
    }
    if svc.resolution not in kinds:
        raise TranslationError(f"{svc.source}: resolution {svc.resolution} is not translated by labkit")
    return kinds[svc.resolution]


def _policy(dr: dict[str, Any] | None, subset: str, port: int) -> dict[str, Any]:
    """The traffic policy for this cluster, subset over top level (tls is chosen by ProxyView.tls_for)."""
    if dr is None:
        return {}
    spec = dr["spec"]
    layers = [spec.get("trafficPolicy") or {}]
    if subset:
        layers.append(
            next((s.get("trafficPolicy") or {} for s in spec.get("subsets") or [] if s.get("name") == subset), {})
        )
    merged: dict[str, Any] = {}
    where = f"DestinationRule {dr['metadata']['namespace']}/{dr['metadata']['name']}"
    for layer in layers:
        unknown = sorted(set(layer) - POLICY_FIELDS)
        if unknown:
            raise TranslationError(f"{where}: trafficPolicy.{unknown[0]} is not translated to Envoy config by labkit")
        for pls in layer.get("portLevelSettings") or []:
            extra = sorted(set(pls) - {"port", "tls", "loadBalancer"})
            if extra:
                raise TranslationError(f"{where}: portLevelSettings[].{extra[0]} is not translated by labkit")
            if (pls.get("port") or {}).get("number") == port and pls.get("loadBalancer"):
                merged["loadBalancer"] = pls["loadBalancer"]
        if layer.get("loadBalancer") and "loadBalancer" not in merged:
            merged["loadBalancer"] = layer["loadBalancer"]
    return merged


def _lb_policy(policy: dict[str, Any], ref: ClusterRef) -> str:
    lb = policy.get("loadBalancer") or {}
    extra = sorted(set(lb) - {"simple"})
    if extra or lb.get("simple") not in LB_POLICIES:
        what = extra[0] if extra else f"simple {lb.get('simple')}"
        raise TranslationError(f"{ref.name}: loadBalancer {what} is not translated by labkit")
    return LB_POLICIES[lb.get("simple")]


def _target_port(svc: MeshService, port: Port, workload: Workload | None = None) -> int:
    """Where endpoints listen: a ServiceEntry's targetPort, a Service's numeric (or named) targetPort."""
    if svc.is_kubernetes:
        spec: dict[str, Any] = next(
            (p for p in (svc.k8s or {})["spec"].get("ports", []) if p.get("port") == port.number), {}
        )
        target = spec.get("targetPort", port.number)
        if isinstance(target, str):
            if workload is None or target not in workload.container_ports:
                raise TranslationError(f"{svc.source}: named targetPort {target!r} has no container port")
            return workload.container_ports[target]
        return int(target)
    return port.target_port or port.number


def _subset_labels(dr: dict[str, Any] | None, subset: str) -> dict[str, str]:
    if not subset or dr is None:
        return {}
    found: dict[str, Any] = next((s for s in dr["spec"].get("subsets") or [] if s.get("name") == subset), {})
    return dict(found.get("labels") or {})


def _selects(labels: dict[str, str], have: dict[str, str]) -> bool:
    return all(have.get(k) == v for k, v in labels.items())


def load_assignment(
    name: str, svc: MeshService, port: Port, pods: list[tuple[Workload, str]], subset_labels: dict[str, str]
) -> Obj:
    """The endpoints: a Service's pods, a ServiceEntry's ``endpoints``, else its host name (DNS); a
    subset keeps those whose labels its ``labels`` select (buildSubsetCluster)."""
    lb_endpoints = []
    if svc.is_kubernetes:
        for pod, _ in pods:
            ep: Obj = {
                "endpoint": {"address": address(pod.ip, _target_port(svc, port, pod))},
                "load_balancing_weight": 1,
            }
            mode = pod.labels.get("security.istio.io/tlsMode")
            if mode:
                ep["metadata"] = {"filter_metadata": {"envoy.transport_socket_match": {"tlsMode": mode}}}
            lb_endpoints.append(ep)
    elif svc.endpoints:
        for raw in svc.endpoints:
            unknown = sorted(set(raw) - ENDPOINT_FIELDS)
            if unknown:
                raise TranslationError(f"{svc.source}: endpoints[].{unknown[0]} is not translated by labkit")
        for raw in (e for e in svc.endpoints if _selects(subset_labels, e.get("labels") or {})):
            number = (raw.get("ports") or {}).get(port.name) or _target_port(svc, port)
            lb_endpoints.append({"endpoint": {"address": address(raw["address"], number)}, "load_balancing_weight": 1})
    elif svc.resolution in ("DNS", "DNS_ROUND_ROBIN"):
        lb_endpoints.append(
            {"endpoint": {"address": address(svc.hostname, _target_port(svc, port))}, "load_balancing_weight": 1}
        )
    endpoints = [{"locality": {}, "lb_endpoints": lb_endpoints, "load_balancing_weight": 1}] if lb_endpoints else []
    return {"cluster_name": name, "endpoints": endpoints}


def _runs_sidecars(pods: list[tuple[Workload, str]]) -> bool:
    """Auto mTLS applies when the endpoints run a sidecar (their tlsMode label is ``istio``)."""
    return any(p.labels.get("security.istio.io/tlsMode") == "istio" for p, _ in pods)


def _metadata(svc: MeshService, port: Port, subset: str, dr: dict[str, Any] | None) -> Obj:
    istio: Obj = {
        "default_original_port": port.number,
        "services": [{"host": svc.hostname, "name": svc.name or svc.hostname, "namespace": svc.namespace}],
    }
    if dr is not None:
        meta = dr["metadata"]
        istio["config"] = (
            f"/apis/networking.istio.io/v1alpha3/namespaces/{meta['namespace']}/destination-rule/{meta['name']}"
        )
    if subset:
        istio["subset"] = subset
    return {"filter_metadata": {"istio": istio}}


def _protocol_options(http2: bool, auto_sni: bool, auto_san: bool) -> Obj | None:
    """setH2Options / setAutoSniAndAutoSanValidation, with istiod's explicit HTTP/1 default when only
    auto_sni is set (clusterWrapper.build: upstream_protocol_options is required)."""
    if not (http2 or auto_sni or auto_san):
        return None
    out: Obj = {"@type": HTTP_PROTOCOL_OPTIONS}
    if auto_sni or auto_san:
        upstream: Obj = {}
        if auto_sni:
            upstream["auto_sni"] = True
        if auto_san:
            upstream["auto_san_validation"] = True
        out["upstream_http_protocol_options"] = upstream
    out["explicit_http_config"] = {"http2_protocol_options": {}} if http2 else {"http_protocol_options": {}}
    return out
