"""What a fresh simulated cluster holds: a kind cluster right after the lab set-up script ran."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ISTIO_VERSION = "1.27.1"


@dataclass(frozen=True)
class SimOptions:
    """How the simulated cluster starts. Each option mirrors a choice in the real set-up."""

    istio_namespace: str = "istio-system"
    egress_gateway: bool = True  # False: the learner sees the egress-gateway preflight fail
    outbound_policy: str = "ALLOW_ANY"
    access_log: bool = True  # meshConfig.accessLogFile: /dev/stdout
    enforce_network_policy: bool = True  # kindnet in kind >= v0.24 enforces NetworkPolicy
    push_delay: float = 1.0  # seconds before proxies see new Istio config
    seed: int = 0  # for weighted routing and fault percentages


def _ns(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    # The API server adds kubernetes.io/metadata.name to every namespace (Kubernetes >= 1.21).
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **(labels or {})}},
    }


def _deployment(
    ns: str, name: str, labels: dict[str, str], image: str, args: list[str] | None = None, container_name: str = ""
) -> dict:
    container: dict[str, Any] = {"name": container_name or ("istio-proxy" if args else name), "image": image}
    if args:
        container["args"] = args
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container]}},
        },
    }


def _daemonset(ns: str, name: str, labels: dict[str, str], image: str) -> dict:
    """kind runs its CNI, kindnet, as a DaemonSet; ``labkit doctor`` reads its image tag over the API."""
    daemonset = _deployment(ns, name, labels, image)
    daemonset["kind"] = "DaemonSet"
    del daemonset["spec"]["replicas"]
    return daemonset


def kindnet_tag(options: SimOptions) -> str:
    """kindnet enforces NetworkPolicy from v20240813 (kind v0.24) on; an older tag models a CNI that does not."""
    return "v20250512-df8de77b" if options.enforce_network_policy else "v20240202-8f1494ea"


def _service(ns: str, name: str, selector: dict[str, str], ports: list[tuple[str, int, int, str]]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": dict(selector)},
        "spec": {
            "selector": dict(selector),
            "ports": [{"name": n, "port": p, "targetPort": t, "protocol": proto} for n, p, t, proto in ports],
        },
    }


def mesh_text(options: SimOptions) -> str:
    lines = []
    if options.access_log:
        lines.append("accessLogFile: /dev/stdout")
    lines += [
        "defaultConfig:",
        "  discoveryAddress: istiod.istio-system.svc:15012",
        "enablePrometheusMerge: true",
        "rootNamespace: istio-system",
        "trustDomain: cluster.local",
        "outboundTrafficPolicy:",
        f"  mode: {options.outbound_policy}",
    ]
    return "\n".join(lines) + "\n"


def initial_objects(options: SimOptions) -> list[dict[str, Any]]:
    istio = options.istio_namespace
    proxy = f"docker.io/istio/proxyv2:{ISTIO_VERSION}"
    objects = [
        _ns("default", {"istio-injection": "enabled"}),
        _ns("kube-system"),
        _ns("kube-public"),
        _ns(istio),
        _deployment("kube-system", "coredns", {"k8s-app": "kube-dns"}, "registry.k8s.io/coredns/coredns:v1.12.0"),
        _service(
            "kube-system", "kube-dns", {"k8s-app": "kube-dns"}, [("dns", 53, 53, "UDP"), ("dns-tcp", 53, 53, "TCP")]
        ),
        _daemonset("kube-system", "kindnet", {"app": "kindnet"}, f"docker.io/kindest/kindnetd:{kindnet_tag(options)}"),
        # Istio's istiod chart names the container "discovery" (istio-discovery/templates/deployment.yaml).
        _deployment(
            istio,
            "istiod",
            {"app": "istiod", "istio": "pilot"},
            f"docker.io/istio/pilot:{ISTIO_VERSION}",
            container_name="discovery",
        ),
        _service(
            istio,
            "istiod",
            {"app": "istiod", "istio": "pilot"},
            [
                ("grpc-xds", 15010, 15010, "TCP"),
                ("https-dns", 15012, 15012, "TCP"),
                ("https-webhook", 443, 15017, "TCP"),
            ],
        ),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "istio", "namespace": istio, "labels": {"app": "istiod"}},
            "data": {"mesh": mesh_text(options), "meshNetworks": "networks: {}"},
        },
    ]
    if options.egress_gateway:
        labels = {"app": "istio-egressgateway", "istio": "egressgateway"}
        objects += [
            _deployment(istio, "istio-egressgateway", labels, proxy, args=["proxy", "router"]),
            _service(istio, "istio-egressgateway", labels, [("http2", 80, 8080, "TCP"), ("https", 443, 8443, "TCP")]),
        ]
    return objects
