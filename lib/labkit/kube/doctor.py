"""``labkit doctor`` on a real cluster: is it a cluster the labs can run on, and if not, how to fix it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException

from ..backend import NETWORK_POLICY_ITEM, DoctorItem
from ..meshconfig import DEFAULT_OUTBOUND_POLICY, MESH_CONFIGMAP, mesh_text, parse_mesh
from ..snapshot import MANAGED_SELECTOR, find_managed
from .apierror import is_not_found, message_of
from .context import root_cause
from .wait import pod_problems

#: Installs Istio with what the egress labs need: istiod, the egress gateway, access logs on stdout.
INSTALL_ISTIO = "istioctl install -y --set profile=demo"
ADD_EGRESS_GATEWAY = (
    "istioctl install -y --set profile=demo   # or add "
    "--set 'components.egressGateways[0].name=istio-egressgateway' "
    "--set 'components.egressGateways[0].enabled=true' to the flags you installed Istio with"
)
ENABLE_ACCESS_LOG = "istioctl install -y --set profile=demo --set meshConfig.accessLogFile=/dev/stdout"
#: Undoes what an interrupted lab left: labkit's objects, the outbound policy, namespace labels.
RESET = "labkit reset"
EGRESS_SELECTOR = "istio=egressgateway"
ISTIOD_SELECTOR = "app=istiod"
#: kind v0.24.0 (kindnetd v20240813-...) is the first whose kindnet enforces NetworkPolicy.
KINDNET_POLICY_SINCE = 20240813
#: DaemonSet names of CNIs known to enforce NetworkPolicy.
ENFORCING_CNIS = {
    "calico-node": "Calico",
    "cilium": "Cilium",
    "weave-net": "Weave Net",
    "kube-router": "kube-router",
}
TIMEOUT = 5.0


def image_tag(image: str) -> str:
    """``docker.io/istio/pilot:1.24.0`` -> ``1.24.0``; digests are dropped; no tag -> ``latest``."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


def _kind_cluster(context: str) -> str:
    return context[len("kind-") :] if context.startswith("kind-") else "<name>"


def not_answering(context: str, why: str) -> DoctorItem:
    """The finding, and its fix, for an API server that does not answer (a stopped kind cluster, mostly)."""
    return DoctorItem(
        "Kubernetes",
        False,
        f"{context} did not answer: {why}",
        fix=f"kubectl --context {context} cluster-info   # a stopped kind cluster: "
        f"docker start {_kind_cluster(context)}-control-plane",
    )


class Doctor:
    """The checks, each turning its API answers into one DoctorItem."""

    def __init__(
        self,
        clients: Any,
        context: str,
        allowed_because: str,
        istio_namespace: str,
        list_objects: Callable[..., list[dict[str, Any]]] | None = None,
    ) -> None:
        self.clients = clients
        self.context = context
        self.allowed_because = allowed_because
        self.ns = istio_namespace
        self.list_objects = list_objects
        self.kubectl = f"kubectl --context {context}"

    def run(self) -> list[DoctorItem]:
        items = [DoctorItem("kube context", True, f"{self.context} ({self.allowed_because})")]
        version = self._safe("Kubernetes", self.kubernetes)
        items.append(version)
        names = [
            "Istio",
            "egress gateway",
            "access logging",
            "outbound traffic policy",
            NETWORK_POLICY_ITEM,
            "leftovers",
        ]
        if not version.ok:
            return items + [DoctorItem(name, None, "skipped: the cluster did not answer") for name in names]
        mesh = self._mesh_config()
        checks: list[Callable[[], DoctorItem]] = [
            self.istio,
            self.egress_gateway,
            lambda: self.access_logging(mesh),
            lambda: self.outbound_policy(mesh),
            self.network_policy,
            self.leftovers,
        ]
        return items + [self._safe(name, check) for name, check in zip(names, checks, strict=True)]

    def _safe(self, name: str, check: Callable[[], DoctorItem]) -> DoctorItem:
        try:
            return check()
        except Exception as exc:  # a failing check is a finding, not a crash of the whole report
            return DoctorItem(name, False, f"could not check: {message_of(exc)}", fix=f"{self.kubectl} cluster-info")

    # -- the checks

    def kubernetes(self) -> DoctorItem:
        try:
            info = self.clients.version.get_code(_request_timeout=TIMEOUT)
        except Exception as exc:
            return not_answering(self.context, message_of(exc) if isinstance(exc, ApiException) else root_cause(exc))
        return DoctorItem("Kubernetes", True, info.git_version)

    def istio(self) -> DoctorItem:
        deployments = self.clients.apps.list_namespaced_deployment(
            self.ns, label_selector=ISTIOD_SELECTOR, _request_timeout=TIMEOUT
        ).items
        if not deployments:
            return DoctorItem("Istio", False, f"no istiod deployment in namespace {self.ns}", fix=INSTALL_ISTIO)
        versions = []
        for dep in deployments:
            containers = dep.spec.template.spec.containers
            main = next((c for c in containers if c.name == "discovery"), containers[0])
            versions.append(f"{image_tag(main.image)} ({dep.metadata.name})")
        return DoctorItem("Istio", True, ", ".join(versions))

    def egress_gateway(self) -> DoctorItem:
        pods = self.clients.core.list_namespaced_pod(
            self.ns, label_selector=EGRESS_SELECTOR, _request_timeout=TIMEOUT
        ).items
        pods = [p for p in pods if not p.metadata.deletion_timestamp]
        if not pods:
            return DoctorItem(
                "egress gateway",
                False,
                f"no pods labelled {EGRESS_SELECTOR} in namespace {self.ns}",
                fix=ADD_EGRESS_GATEWAY,
            )
        problems = [problem for pod in pods for problem in pod_problems(pod, self.kubectl)]
        if problems:
            return DoctorItem("egress gateway", False, problems[0].message, fix=problems[0].hint)
        names = ", ".join(p.metadata.name for p in pods)
        return DoctorItem("egress gateway", True, f"ready: {names}")

    def _mesh_config(self) -> dict[str, Any] | Exception:
        """meshConfig from the ``mesh`` key of ConfigMap ``istio`` (an error, kept to report per check;
        a config that does not parse is one, reported as "could not check")."""
        try:
            cm = self.clients.core.read_namespaced_config_map(MESH_CONFIGMAP, self.ns, _request_timeout=TIMEOUT)
            return parse_mesh(mesh_text({"data": cm.data}))
        except Exception as exc:
            return exc

    def _mesh_missing(self, name: str, mesh: Exception) -> DoctorItem:
        if is_not_found(mesh):
            return DoctorItem(
                name,
                False,
                f"no ConfigMap {MESH_CONFIGMAP} in namespace {self.ns}: Istio is not installed",
                INSTALL_ISTIO,
            )
        raise mesh

    def access_logging(self, mesh: dict[str, Any] | Exception) -> DoctorItem:
        name = "access logging"
        if isinstance(mesh, Exception):
            return self._mesh_missing(name, mesh)
        if mesh.get("accessLogFile"):
            return DoctorItem(name, True, f"meshConfig.accessLogFile={mesh['accessLogFile']}")
        telemetry = self._telemetry_access_logging()
        if telemetry:
            return DoctorItem(name, True, f"Telemetry {self.ns}/{telemetry} turns on access logs")
        return DoctorItem(
            name,
            False,
            "off: meshConfig.accessLogFile is not set, so lab.logs(...) will show no requests",
            fix=ENABLE_ACCESS_LOG,
        )

    def _telemetry_access_logging(self) -> str | None:
        """A mesh-wide Telemetry resource that enables access logging, if any."""
        if self.list_objects is None:
            return None
        try:
            items = self.list_objects("telemetry.istio.io/v1", "Telemetry", self.ns)
        except Exception:
            return None
        for item in items:
            spec = item.get("spec") or {}
            if spec.get("accessLogging") and not spec.get("selector"):
                return (item.get("metadata") or {}).get("name", "?")
        return None

    def outbound_policy(self, mesh: dict[str, Any] | Exception) -> DoctorItem:
        name = "outbound traffic policy"
        if isinstance(mesh, Exception):
            return self._mesh_missing(name, mesh)
        mode = (mesh.get("outboundTrafficPolicy") or {}).get("mode")
        if mode and mode != DEFAULT_OUTBOUND_POLICY:
            # Lab 01 starts by showing ALLOW_ANY; a lab that stopped halfway leaves REGISTRY_ONLY.
            return DoctorItem(
                name, False, f"{mode}: the labs start from ALLOW_ANY (did a lab stop halfway?)", fix=RESET
            )
        return DoctorItem(name, True, mode or f"{DEFAULT_OUTBOUND_POLICY} (the default; not set in meshConfig)")

    def leftovers(self) -> DoctorItem:
        """Objects an earlier lab created and never deleted, found by labkit's label."""
        if self.list_objects is None:
            return DoctorItem("leftovers", None, "not checked")
        found = find_managed(self.list_objects)
        if not found:
            return DoctorItem("leftovers", True, f"no objects labelled {MANAGED_SELECTOR}")
        names = ", ".join(str(m.ref) for m in found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
        return DoctorItem("leftovers", False, f"{len(found)} object(s) from an earlier lab run: {names}", fix=RESET)

    def network_policy(self) -> DoctorItem:
        name = NETWORK_POLICY_ITEM
        daemonsets = self.clients.apps.list_daemon_set_for_all_namespaces(_request_timeout=TIMEOUT).items
        for ds in daemonsets:
            ds_name = ds.metadata.name
            if ds_name in ENFORCING_CNIS:
                return DoctorItem(name, True, f"enforced ({ENFORCING_CNIS[ds_name]} is the CNI)")
        for ds in daemonsets:
            if ds.metadata.name == "kindnet":
                return self._kindnet(ds)
        return DoctorItem(name, None, "unknown: the CNI is not one labkit recognises")

    def _kindnet(self, ds: Any) -> DoctorItem:
        name = NETWORK_POLICY_ITEM
        containers = ds.spec.template.spec.containers
        image = next((c.image for c in containers if "kindnetd" in (c.image or "")), containers[0].image)
        tag = image_tag(image)
        match = re.match(r"v(\d{8})", tag)
        if not match:
            return DoctorItem(name, None, f"unknown: kindnet {tag} (can't tell its version)")
        if int(match.group(1)) >= KINDNET_POLICY_SINCE:
            return DoctorItem(name, True, f"enforced (kindnet {tag}, kind >= v0.24)")
        cluster = _kind_cluster(self.context)
        return DoctorItem(
            name,
            False,
            f"not enforced: kindnet {tag} is from kind < v0.24, so NetworkPolicy objects have no effect",
            fix=f"install kind >= v0.24, then: kind delete cluster --name {cluster} && "
            f"kind create cluster --name {cluster}",
        )
