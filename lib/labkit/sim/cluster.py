"""The simulated cluster's Kubernetes side: namespaces, workloads, services, addresses and DNS."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
from typing import Any

from ..manifests import Ref, selector_matches
from .capture import injection
from .store import ObjectStore

POD_CIDR = ipaddress.ip_network("10.244.0.0/16")
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/16")
CLUSTER_DOMAIN = "cluster.local"
PROXY_IMAGE = "docker.io/istio/proxyv2"
SIDECAR = "sidecar"
ROUTER = "router"


class Cluster:
    """Read helpers over the store plus the controllers that turn Deployments into Pods."""

    def __init__(self, store: ObjectStore, istio_namespace: str, proxy_image: str) -> None:
        self.store = store
        self.istio_namespace = istio_namespace
        self.proxy_image = proxy_image
        self._next_pod_ip = 10
        self._next_service_ip = 10

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
        selector = service["spec"].get("selector")
        if not selector:
            return []
        return [p for p in self.pods(service["metadata"]["namespace"], selector) if is_ready(p)]

    def resolve(self, name: str, from_namespace: str) -> str | None:
        """Cluster DNS: Service names with the pod's search path (ns.svc, svc, cluster domain)."""
        name = name.lower().rstrip(".")
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
                    return svc["spec"].get("clusterIP")
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
        if not spec.get("clusterIP"):
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


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def _owner(pod: dict[str, Any]) -> str | None:
    refs = pod["metadata"].get("ownerReferences") or []
    return next((r["name"] for r in refs if r.get("kind") == "Deployment"), None)


def _ref(obj: dict[str, Any]) -> Ref:
    return Ref.of(obj)
