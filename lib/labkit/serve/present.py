"""Objects as the API returns them: the served apiVersion, and the fields a real control plane fills in.

The simulator models behaviour (which pods exist, whether they are ready); it leaves out fields the
kubelet and controllers report but the labs never read. Typed clients need some of them: the Python
client refuses a container status without ``restartCount`` or ``imageID``, and an owner reference
without ``uid``. This module completes a copy on the way out; the stored object is left alone.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from ..sim.store import ObjectStore
from . import crds
from .resources import ADMISSION, APIEXTENSIONS, RBAC, Resource

NODE = "labkit-sim-control-plane"
NODE_IP = "172.18.0.2"
#: Kinds whose list items carry no apiVersion/kind (Go's typed lists); custom resources keep them.
_TYPED_GROUPS = frozenset({"", "apps", "networking.k8s.io", "discovery.k8s.io", RBAC, ADMISSION, APIEXTENSIONS})


def served(
    obj: Mapping[str, Any],
    resource: Resource,
    version: str,
    store: ObjectStore,
    born: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A deep copy of a stored object, completed and converted to ``version``.

    ``born`` maps uids of objects the simulator made itself (pods of a Deployment, the initial
    cluster) to when the server first saw them: the simulator stamps them all with its fixed epoch,
    which would make ``kubectl get`` print ages of months, or ``<invalid>`` for a future date.
    """
    out = copy.deepcopy(dict(obj))
    out["apiVersion"] = resource.api_version(version)
    out["kind"] = resource.kind
    meta = out.setdefault("metadata", {})
    if born and meta.get("uid") in born:
        meta["creationTimestamp"] = born[meta["uid"]]
    complete(out, store)
    return out


def list_item(obj: dict[str, Any], resource: Resource) -> dict[str, Any]:
    if resource.group in _TYPED_GROUPS:
        return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    return obj


def _stable_uid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "labkit-sim/" + "/".join(parts)))


def complete(obj: dict[str, Any], store: ObjectStore) -> None:
    """Fill in, in place, what a control plane would have reported."""
    meta = obj.setdefault("metadata", {})
    namespace = meta.get("namespace")
    for ref in meta.get("ownerReferences") or []:
        if not ref.get("uid"):
            group = ref.get("apiVersion", "").rpartition("/")[0]
            owner = store.raw(group, ref.get("kind", ""), namespace, ref.get("name", ""))
            owner_uid = ((owner or {}).get("metadata") or {}).get("uid")
            ref["uid"] = owner_uid or _stable_uid(namespace or "", ref.get("kind", ""), ref.get("name", ""))
            ref.setdefault("controller", True)
            ref.setdefault("blockOwnerDeletion", True)
    kind = obj.get("kind")
    if kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
    elif kind == "Pod":
        _complete_pod(obj)
    elif kind == "CustomResourceDefinition" and "status" not in obj:
        obj["status"] = crds.status(obj)


def _complete_pod(pod: dict[str, Any]) -> None:
    meta, spec = pod["metadata"], pod.setdefault("spec", {})
    status = pod.setdefault("status", {})
    started = meta.get("creationTimestamp")
    spec.setdefault("nodeName", NODE)
    spec.setdefault("restartPolicy", "Always")
    status.setdefault("hostIP", NODE_IP)
    if status.get("podIP"):
        status.setdefault("podIPs", [{"ip": status["podIP"]}])
    if started:
        status.setdefault("startTime", started)
    status.setdefault("qosClass", "BestEffort")
    ready = all(c.get("ready") for c in status.get("containerStatuses") or [])
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    for name in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"):
        value = "True" if name in ("Initialized", "PodScheduled", "PodReadyToStartContainers") or ready else "False"
        conditions.setdefault(name, {"type": name, "status": value})
    status["conditions"] = [conditions[k] for k in conditions]
    images = {c.get("name"): c.get("image", "") for c in spec.get("containers") or []}
    for cs in status.get("containerStatuses") or []:
        image = cs.get("image") or images.get(cs.get("name"), "")
        digest = hashlib.sha256(image.encode()).hexdigest()
        cs["image"] = image
        cs.setdefault("imageID", f"{image.split(':')[0]}@sha256:{digest}")
        cs.setdefault(
            "containerID", "containerd://" + hashlib.sha256(f"{meta.get('uid')}{cs.get('name')}".encode()).hexdigest()
        )
        cs.setdefault("restartCount", 0)
        cs.setdefault("started", bool(cs.get("ready")))
        cs.setdefault("state", {"running": {"startedAt": started}} if started else {"running": {}})
