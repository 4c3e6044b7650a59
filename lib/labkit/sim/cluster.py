"""The simulated cluster's Kubernetes side: namespaces, workloads, services, addresses and DNS."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
from collections.abc import Callable
from typing import Any

from ..errors import LabkitError
from ..manifests import Ref, selector_matches
from .capture import injection
from .store import ObjectStore

POD_CIDR = ipaddress.ip_network("10.244.0.0/16")
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")
CLUSTER_DOMAIN = "cluster.local"
PROXY_IMAGE = "docker.io/istio/proxyv2"
SIDECAR = "sidecar"
ROUTER = "router"
EXTERNAL_NAME = "ExternalName"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # ties an EndpointSlice to its Service
MAX_CNAME_HOPS = 8  # a CNAME chain longer than this (or a loop) does not resolve


class Cluster:
    """Read helpers over the store plus the controllers that turn Deployments into Pods."""

    def __init__(self, store: ObjectStore, istio_namespace: str, proxy_image: str) -> None:
        self.store = store
        self.istio_namespace = istio_namespace
        self.proxy_image = proxy_image
        self._next_pod_ip = 10
        self._next_service_ip = 10
        #: Where cluster DNS sends names it does not own (CoreDNS's ``forward`` to the node's resolver).
        #: The mesh points it at the outside world; without one, outside names don't resolve.
        self.upstream_dns: Callable[[str], str | None] = lambda _name: None

    # -- lookups
    def namespace_labels(self, name: str) -> dict[str, str]:
        ns = self.store.raw("", "Namespace", None, name)
        return dict((ns or {}).get("metadata", {}).get("labels") or {})

    def pods(self, namespace: str | None = None, selector: Any = None) -> list[dict[str, Any]]:
        return [p for p in self.store.select("", "Pod", namespace) if selector_matches(selector, _labels(p))]

    def pod_by_ip(self, ip: str) -> dict[str, Any] | None:
        return next((p for p in self.pods() if p.get("status", {}).get("podIP") == ip), None)

    def services(self) -> list[dict[str, Any]]:
        return self.store.select("", "Service")

    def service_by_ip(self, ip: str) -> dict[str, Any] | None:
        return next((s for s in self.services() if s["spec"].get("clusterIP") == ip), None)

    def service_endpoints(self, service: dict[str, Any]) -> list[dict[str, Any]]:
        """Where traffic to a Service goes: its selector's ready pods; for a Service without selector,
        the addresses of its ``Endpoints`` and ``EndpointSlice`` objects (Kubernetes "Services without
        selectors"); an ``ExternalName`` Service has none (it is only a DNS name).

        Callers read endpoints as pods (``status.podIP``, labels, named container ports); an address
        outside the cluster comes as a pod-shaped record with no labels: no sidecar, so no mutual TLS.
        """
        spec = service.get("spec") or {}
        if spec.get("type") == EXTERNAL_NAME:
            return []
        selector = spec.get("selector")
        if selector:
            return [p for p in self.pods(service["metadata"]["namespace"], selector) if is_ready(p)]
        return [self._address_endpoint(service, ip, ports) for ip, ports in self._manual_endpoints(service)]

    def _manual_endpoints(self, service: dict[str, Any]) -> list[tuple[str, dict[str, int]]]:
        """(ip, {port name: port}) from the Service's Endpoints object (same name) and its EndpointSlices
        (label kubernetes.io/service-name), ready addresses only, in order, each address once."""
        ns, name = service["metadata"]["namespace"], service["metadata"]["name"]
        found: list[tuple[str, dict[str, int]]] = []
        endpoints = self.store.raw("", "Endpoints", ns, name)
        for subset in (endpoints or {}).get("subsets") or []:
            ports = {p.get("name", ""): int(p["port"]) for p in subset.get("ports") or []}
            found += [(a["ip"], ports) for a in subset.get("addresses") or []]  # notReadyAddresses get no traffic
        for eps in self.store.select("discovery.k8s.io", "EndpointSlice", ns, f"{SERVICE_NAME_LABEL}={name}"):
            ports = {p.get("name", ""): int(p["port"]) for p in eps.get("ports") or []}
            for ep in eps.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready", True) is not False:  # unset means ready
                    found += [(ip, ports) for ip in ep.get("addresses") or []]
        first: dict[str, dict[str, int]] = {}
        for ip, ports in found:
            first.setdefault(ip, ports)  # a mirrored EndpointSlice repeats the Endpoints' addresses
        return list(first.items())

    def _address_endpoint(self, service: dict[str, Any], ip: str, ports: dict[str, int]) -> dict[str, Any]:
        for sp in service["spec"].get("ports") or []:
            target = sp.get("targetPort", sp["port"])
            named = ports.get(sp.get("name", ""))
            if named is not None and isinstance(target, int) and named != target:
                # For these Services the endpoint's port is what counts; the simulator's network uses
                # targetPort, so a difference would be silently wrong: refuse it instead.
                raise LabkitError(
                    f"Service {service['metadata']['namespace']}/{service['metadata']['name']}: endpoint port "
                    f"{sp.get('name', '')!r} is {named} but its targetPort is {target}; the offline simulator "
                    "sends Service traffic to the targetPort only",
                    hint="give the Service port a targetPort equal to the endpoint's port",
                )
        return {
            "metadata": {"namespace": service["metadata"]["namespace"], "labels": {}},
            "spec": {"containers": [{"ports": [{"name": n, "containerPort": p} for n, p in ports.items() if n]}]},
            "status": {"podIP": ip},
        }

    def resolve(self, name: str, from_namespace: str) -> str | None:
        """Cluster DNS (Kubernetes "DNS for Services and Pods"), with the pod's search path
        (ns.svc, svc, cluster domain): a Service's cluster IP; for an ``ExternalName`` Service a CNAME
        to its external name, which is looked up in turn; other names go upstream."""
        name = name.lower().rstrip(".")
        for _hop in range(MAX_CNAME_HOPS):
            svc = self._service_named(name, from_namespace)
            if svc is None:
                return None if _in_cluster_domain(name) else self.upstream_dns(name)
            if svc["spec"].get("type") != EXTERNAL_NAME:
                return svc["spec"].get("clusterIP")
            name = str(svc["spec"].get("externalName", "")).lower().rstrip(".")  # the CNAME target
        return None  # a CNAME loop or an over-long chain: no answer

    def _service_named(self, name: str, from_namespace: str) -> dict[str, Any] | None:
        for candidate in (
            name,
            f"{name}.{from_namespace}.svc.{CLUSTER_DOMAIN}",
            f"{name}.svc.{CLUSTER_DOMAIN}",
            f"{name}.{CLUSTER_DOMAIN}",
        ):
            parts = candidate.split(".")
            if len(parts) == 5 and parts[2:] == ["svc", *CLUSTER_DOMAIN.split(".")]:
                svc = self.store.raw("", "Service", parts[1], parts[0])
                if svc:
                    return svc
        return None

    def pod_file(self, pod: dict[str, Any], container: str, path: str) -> bytes | None:
        """A file a container sees through a Secret or ConfigMap volume, or None."""
        volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
        spec = next((c for c in pod["spec"].get("containers", []) if c["name"] == container), None)
        for mount in (spec or {}).get("volumeMounts") or []:
            prefix = mount["mountPath"].rstrip("/") + "/"
            if not path.startswith(prefix):
                continue
            key = path[len(prefix) :]
            volume = volumes.get(mount["name"]) or {}
            ns = pod["metadata"]["namespace"]
            if "secret" in volume:
                secret = self.store.raw("", "Secret", ns, volume["secret"]["secretName"])
                if secret and key in (secret.get("data") or {}):
                    return base64.b64decode(secret["data"][key])
                if secret and key in (secret.get("stringData") or {}):
                    return secret["stringData"][key].encode()
            if "configMap" in volume:
                cm = self.store.raw("", "ConfigMap", ns, volume["configMap"]["name"])
                if cm and key in (cm.get("data") or {}):
                    return cm["data"][key].encode()
        return None

    # -- controllers
    def admit_service(self, svc: dict[str, Any]) -> None:
        spec = svc.setdefault("spec", {})
        if spec.get("type") == EXTERNAL_NAME:
            # An ExternalName Service is a DNS alias only: the API server allocates no cluster IP
            # (kubectl get svc shows <none>) and rejects one that is set.
            if spec.get("clusterIP") or spec.get("clusterIPs"):
                raise LabkitError("spec.clusterIP: Forbidden: may not be set for type ExternalName")
            spec.pop("clusterIP", None)  # an update carries the (absent) old one along as None
        elif not spec.get("clusterIP"):
            spec["clusterIP"] = str(SERVICE_CIDR.network_address + self._next_service_ip)
            self._next_service_ip += 1
        for port in spec.get("ports", []):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port["port"])

    def reconcile(self) -> None:
        """Run the Deployment controller: one ready pod per replica with the current template."""
        for deploy in self.store.select("apps", "Deployment"):
            ns, name = deploy["metadata"]["namespace"], deploy["metadata"]["name"]
            template = deploy["spec"]["template"]
            template_hash = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
            owned = [p for p in self.pods(ns) if _owner(p) == name]
            current = [p for p in owned if _labels(p).get("pod-template-hash") == template_hash]
            for stale in [p for p in owned if p not in current]:
                self.store.remove(_ref(stale))
            for i in range(len(current), int(deploy["spec"].get("replicas", 1))):
                self._create_pod(deploy, template, template_hash, i)
            deploy["status"] = {
                # The controller reacts at once, so it has always seen the latest spec.
                "observedGeneration": deploy["metadata"].get("generation", 1),
                "replicas": deploy["spec"].get("replicas", 1),
                "updatedReplicas": deploy["spec"].get("replicas", 1),
                "readyReplicas": deploy["spec"].get("replicas", 1),
                "availableReplicas": deploy["spec"].get("replicas", 1),
            }
        # Pods whose Deployment is gone go with it.
        deployments = {
            (d["metadata"]["namespace"], d["metadata"]["name"]) for d in self.store.select("apps", "Deployment")
        }
        for pod in self.pods():
            owner = _owner(pod)
            if owner and (pod["metadata"]["namespace"], owner) not in deployments:
                self.store.remove(_ref(pod))

    def _create_pod(self, deploy: dict, template: dict, template_hash: str, index: int) -> None:
        ns, name = deploy["metadata"]["namespace"], deploy["metadata"]["name"]
        suffix = hashlib.sha256(f"{template_hash}{index}{self._next_pod_ip}".encode()).hexdigest()[:5]
        meta = json.loads(json.dumps(template.get("metadata") or {}))
        labels = {**(meta.get("labels") or {}), "pod-template-hash": template_hash}
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                **meta,
                "name": f"{name}-{template_hash[:9]}-{suffix}",
                "namespace": ns,
                "labels": labels,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name}],
            },
            "spec": json.loads(json.dumps(template.get("spec") or {})),
        }
        self.admit_pod(pod)
        self.store.put(pod)

    def admit_pod(self, pod: dict[str, Any]) -> None:
        """What the API server's admission does: sidecar injection, an IP, and (at once) readiness."""
        if self.injects(pod):
            pod["spec"]["containers"].append(
                {"name": "istio-proxy", "image": self.proxy_image, "args": ["proxy", SIDECAR]}
            )
            annotations = pod["metadata"].setdefault("annotations", {})
            annotations["sidecar.istio.io/status"] = '{"containers":["istio-proxy"]}'
            pod["metadata"]["labels"]["security.istio.io/tlsMode"] = "istio"
        ip = str(POD_CIDR.network_address + self._next_pod_ip)
        self._next_pod_ip += 1
        pod["status"] = {
            "phase": "Running",
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {"name": c["name"], "ready": True, "started": True, "image": c.get("image", "")}
                for c in pod["spec"].get("containers", [])
            ],
        }

    def injects(self, pod: dict[str, Any]) -> bool:
        """Istio's injection webhook: its namespace and object selectors, then the pod's own
        ``sidecar.istio.io/inject`` label (or the deprecated annotation); see capture.injection."""
        return injection(pod, self.namespace_labels(pod["metadata"]["namespace"])).yes


def proxy_role(pod: dict[str, Any]) -> str | None:
    """``sidecar`` or ``router`` (a gateway) when the pod runs Envoy, else None."""
    for c in pod.get("spec", {}).get("containers", []):
        if c.get("name") == "istio-proxy":
            args = c.get("args") or []
            return ROUTER if ROUTER in args else SIDECAR
    return None


def is_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and all(c.get("ready") for c in status.get("containerStatuses", []))


def _in_cluster_domain(name: str) -> bool:
    return name == CLUSTER_DOMAIN or name.endswith("." + CLUSTER_DOMAIN)


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def _owner(pod: dict[str, Any]) -> str | None:
    refs = pod["metadata"].get("ownerReferences") or []
    return next((r["name"] for r in refs if r.get("kind") == "Deployment"), None)


def _ref(obj: dict[str, Any]) -> Ref:
    return Ref.of(obj)


def target_port(spec_port: dict[str, Any], pod: dict[str, Any]) -> int:
    """The pod port a Service port sends to: a number, or a named container port."""
    target = spec_port.get("targetPort", spec_port["port"])
    if isinstance(target, int):
        return target
    for c in pod["spec"].get("containers", []):
        for p in c.get("ports") or []:
            if p.get("name") == target:
                return p["containerPort"]
    return spec_port["port"]
