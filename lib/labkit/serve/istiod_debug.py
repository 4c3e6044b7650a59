"""istiod's debug endpoint in the simulated istiod pod: ``pilot-discovery request GET /debug/syncz``.

istiod answers ``/debug/syncz`` with one ``SyncStatus`` per connected proxy (pilot/pkg/xds/debug.go):
its ID ``<pod>.<namespace>``, type, cluster and Istio version, and per xDS type the nonce last sent
and the nonce last acknowledged. Here a nonce names config: the acknowledged one what the proxy holds
(the writes of mesh config it depends on, by istiod's push filter ``kube.syncstate.reaches``, that
have reached it after the simulator's push delay, as ``sim.store`` keeps it); the sent one also the
writes still on their way. So a proxy is STALE from a write until it holds it, then SYNCED on a new
nonce. (istiod debounces writes into one push and Envoy acknowledges it in milliseconds; the
simulator delays each write on its own, so it shows the whole delay as one push in flight.)

Other debug paths are refused by name, and so is any other ``pilot-discovery`` command.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..kube.syncstate import XDS_TYPES, reaches
from ..meshconfig import ISTIO_NETWORKING_GROUP, MESH_CONFIGMAP
from ..sim.cluster import proxy_role
from ..sim.coverage import KINDS
from ..sim.topology import ISTIO_VERSION

if TYPE_CHECKING:
    from ..sim.mesh import Mesh

SYNCZ = "debug/syncz"
#: The Kubernetes cluster ID istiod reports by default (its CLUSTER_ID).
CLUSTER_ID = "Kubernetes"
#: The label of istiod's pods (istio-discovery chart).
ISTIOD_LABEL = ("app", "istiod")

Answer = tuple[str, str, int]


def handler(mesh: Mesh, pod: dict[str, Any]) -> Callable[[str], Answer] | None:
    """What ``pilot-discovery request GET <path>`` answers in ``pod``; None unless it is istiod's."""
    labels = pod.get("metadata", {}).get("labels") or {}
    key, value = ISTIOD_LABEL
    if labels.get(key) != value or pod["metadata"].get("namespace") != mesh.options.istio_namespace:
        return None
    return lambda path: request(mesh, path)


def request(mesh: Mesh, path: str) -> Answer:
    endpoint, _, query = path.lstrip("/").partition("?")
    if endpoint != SYNCZ or query:
        return "", f"debug path /{path.lstrip('/')}: not modelled by the offline simulator (/debug/syncz is)\n", 2
    # pilot-discovery prints the body and a newline (fmt.Println in pilot/pkg/request).
    return json.dumps(syncz(mesh), indent=4) + "\n", "", 0


def syncz(mesh: Mesh) -> list[dict[str, Any]]:
    """One SyncStatus per running pod with a proxy, in istiod's order (by proxy ID)."""
    out = []
    pods = [p for p in mesh.store.select("", "Pod") if proxy_role(p) and not p["metadata"].get("deletionTimestamp")]
    for pod in sorted(pods, key=lambda p: f"{p['metadata']['name']}.{p['metadata']['namespace']}"):
        if (pod.get("status") or {}).get("phase") != "Running":
            continue  # not connected to istiod yet
        role = proxy_role(pod) or ""
        held = _held(mesh, role)
        coming = _coming(mesh, role)
        acked = _nonce(held)
        sent = _nonce(held + coming) if coming else acked
        entry: dict[str, Any] = {
            "cluster_id": CLUSTER_ID,
            "proxy": f"{pod['metadata']['name']}.{pod['metadata']['namespace']}",
            "proxy_type": role,
            "istio_version": ISTIO_VERSION,
        }
        for xds_type in XDS_TYPES:
            entry[f"{xds_type}_sent"] = sent
            entry[f"{xds_type}_acked"] = acked
        out.append(entry)
    return out


def _held(mesh: Mesh, role: str) -> list[str]:
    """The pushed mesh config a proxy of this role depends on, each object by its resourceVersion."""
    istio_ns = mesh.options.istio_namespace
    held = []
    for kind in KINDS:
        for obj in mesh.store.pushed(ISTIO_NETWORKING_GROUP, kind):
            meta = obj["metadata"]
            if role in reaches(
                f"{ISTIO_NETWORKING_GROUP}/v1", kind, meta.get("namespace"), meta["name"], obj, istio_ns
            ):
                held.append(f"{kind}/{meta.get('namespace')}/{meta['name']}@{meta.get('resourceVersion')}")
    mesh_cm = mesh.store.pushed_one("", "ConfigMap", istio_ns, MESH_CONFIGMAP)
    if mesh_cm is not None:
        held.append(f"ConfigMap/{istio_ns}/{MESH_CONFIGMAP}@{mesh_cm['metadata'].get('resourceVersion')}")
    return held


def _coming(mesh: Mesh, role: str) -> list[str]:
    """Writes on their way to the proxies that concern a proxy of this role (a deletion: every role)."""
    istio_ns = mesh.options.istio_namespace
    out = []
    for change in mesh.store.pending():
        group = "" if change.kind == "ConfigMap" else ISTIO_NETWORKING_GROUP
        api_version = f"{group}/v1" if group else "v1"
        obj = None if change.deleted else mesh.store.raw(group, change.kind, change.namespace or None, change.name)
        if role in reaches(api_version, change.kind, change.namespace or None, change.name, obj, istio_ns):
            out.append(f"{change.kind}/{change.namespace}/{change.name}@{change.written}")
    return out


def _nonce(held: list[str]) -> str:
    """A UUID (as istiod's nonces are) naming a set of config."""
    digest = hashlib.sha256("\n".join(sorted(held)).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))
