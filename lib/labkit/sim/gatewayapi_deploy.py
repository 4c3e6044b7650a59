"""istiod's Gateway API controller duties besides the translation: it deploys a Gateway of class istio
(a ServiceAccount, Deployment and Service named ``<name>-istio``, pods labelled
``gateway.networking.k8s.io/gateway-name``), writes the status of Gateways and routes, and decides whether
a deployed gateway may be served the Secrets of its namespace."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .cluster import CLUSTER_DOMAIN
from .gatewayapi import (
    GATEWAY_NAME_LABEL,
    GROUP,
    ISTIO_CLASS,
    ROUTE_KIND_FOR_PROTOCOL,
    Translation,
    deployed_name,
)

Obj = dict[str, Any]

STATUS_PORT = 15021
MANAGED_LABEL = "gateway.istio.io/managed"
MANAGED_BY = "istio.io-gateway-controller"


def deployment(gw: Obj, proxy_image: str) -> list[Obj]:
    """The ServiceAccount, Deployment and Service istiod's deployment controller creates for a Gateway
    of class istio (pilot/pkg/config/kube/gateway/testdata/deployment/cluster-ip.yaml)."""
    ns, name = gw["metadata"]["namespace"], gw["metadata"]["name"]
    child = deployed_name(name)
    # istiod copies the Gateway's own labels and annotations onto what it creates
    # (testdata/deployment/copy-labels-annotations-enabled-infra-nil.yaml).
    own_labels = dict(gw["metadata"].get("labels") or {})
    annotations = dict(gw["metadata"].get("annotations") or {})
    labels = {**own_labels, MANAGED_LABEL: MANAGED_BY, GATEWAY_NAME_LABEL: name, "istio.io/gateway-name": name}
    owner = [{"apiVersion": gw["apiVersion"], "kind": "Gateway", "name": name, "uid": gw["metadata"].get("uid", "")}]

    def meta() -> Obj:
        return {"name": child, "namespace": ns, "labels": dict(labels), "annotations": dict(annotations),
                "ownerReferences": [dict(o) for o in owner]}  # fmt: skip

    pod_labels = {
        **own_labels,
        GATEWAY_NAME_LABEL: name,
        "istio.io/gateway-name": name,
        "service.istio.io/canonical-name": child,
        "service.istio.io/canonical-revision": "latest",
        "sidecar.istio.io/inject": "false",  # the pod is the proxy: no sidecar of its own
    }
    ports: list[Obj] = [{"name": "status-port", "port": STATUS_PORT, "protocol": "TCP", "appProtocol": "tcp"}]
    seen: set[int] = set()
    for listener in gw["spec"]["listeners"]:
        if listener["port"] in seen:
            continue
        seen.add(listener["port"])
        ports.append(
            {
                "name": port_name(listener["name"]),
                "port": listener["port"],
                "protocol": "TCP",
                "appProtocol": str(listener["protocol"]).lower(),
            }
        )
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta()},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta(),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {GATEWAY_NAME_LABEL: name}},
                "template": {
                    "metadata": {"labels": pod_labels, "annotations": {**annotations, "istio.io/rev": "default"}},
                    "spec": {
                        "serviceAccountName": child,
                        "containers": [
                            {
                                "name": "istio-proxy",
                                "image": proxy_image,
                                "args": ["proxy", "router"],
                                "ports": [{"containerPort": STATUS_PORT, "name": "status-port", "protocol": "TCP"}],
                            }
                        ],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(),
            "spec": {"type": "ClusterIP", "selector": {GATEWAY_NAME_LABEL: name}, "ports": ports},
        },
    ]


def port_name(listener: str) -> str:
    """istiod's Service port name for a listener: a listener name may hold dots and 253 characters, a
    port name neither (deploymentcontroller.go sanitizeListenerNameForPort)."""
    return listener.replace(".", "-")[:63]


def gateway_status(gw: Obj, service: Obj, attached_routes: Mapping[str, int], now: str) -> Obj:
    """What istiod writes to a deployed Gateway's status: Accepted and Programmed, the Service's
    address, and per listener the routes attached to it."""
    ns, generation = gw["metadata"]["namespace"], gw["metadata"].get("generation", 1)
    host = f"{service['metadata']['name']}.{ns}.svc.{CLUSTER_DOMAIN}"
    assigned = " and ".join(f"{host}:{p}" for p in sorted({lst["port"] for lst in gw["spec"]["listeners"]}))

    def condition(kind: str, reason: str, message: str) -> Obj:
        return {"type": kind, "status": "True", "reason": reason, "message": message,
                "observedGeneration": generation, "lastTransitionTime": now}  # fmt: skip

    listeners = []
    for lst in gw["spec"]["listeners"]:
        route_kind = ROUTE_KIND_FOR_PROTOCOL.get(lst["protocol"], "")
        listeners.append(
            {
                "name": lst["name"],
                "attachedRoutes": attached_routes.get(lst["name"], 0),
                "supportedKinds": [{"group": GROUP, "kind": route_kind}],
                "conditions": [
                    condition("Accepted", "Accepted", "No errors found"),
                    condition("NoConflicts", "NoConflicts", "No errors found") | {"status": "False"},
                    condition("Programmed", "Programmed", "No errors found"),
                    condition("ResolvedRefs", "ResolvedRefs", "No errors found"),
                ],
            }
        )
    return {
        "addresses": [{"type": "IPAddress", "value": service["spec"]["clusterIP"]}],
        "conditions": [
            condition("Accepted", "Accepted", "Resource accepted"),
            condition("Programmed", "Programmed", f"Resource programmed, assigned to service(s) {assigned}"),
        ],
        "listeners": listeners,
    }


def attached_counts(translation: Translation, gw: Obj) -> dict[str, int]:
    """Listener name -> how many routes attached to it."""
    ns, name = gw["metadata"]["namespace"], gw["metadata"]["name"]
    counts: dict[str, int] = {}
    for parents in translation.attached.values():
        for parent in parents:
            prefix = f"Gateway {ns}/{name} listener "
            if parent.startswith(prefix):
                listener = parent[len(prefix) :]
                counts[listener] = counts.get(listener, 0) + 1
    return counts


def route_status(route: Obj, attached: list[str], now: str, resolved: bool = True) -> Obj:
    """Per parentRef: Accepted when the route attached there (istiod's controller name), else
    Accepted False, naming why in the simulator's words."""
    ns, generation = route["metadata"]["namespace"], route["metadata"].get("generation", 1)
    parents = []
    for ref in route["spec"].get("parentRefs") or []:
        kind = ref.get("kind", "Gateway")
        prefix = f"{kind} {ns}/{ref['name']}"
        ok = any(p == prefix or p.startswith(prefix + " ") for p in attached)
        if ok:
            accepted = {"status": "True", "reason": "Accepted", "message": "Route was valid"}
        elif kind == "ServiceEntry":
            accepted = {"status": "False", "reason": "NoMatchingParent", "message": f"parent {prefix} not found"}
        else:
            accepted = {
                "status": "False",
                "reason": "NotAllowedByListeners",
                "message": f"no listener of {prefix} of class {ISTIO_CLASS} admits this route",
            }
        parents.append(
            {
                "parentRef": dict(ref),
                "controllerName": "istio.io/gateway-controller",
                "conditions": [
                    {"type": "Accepted", "observedGeneration": generation, "lastTransitionTime": now, **accepted},
                    {
                        "type": "ResolvedRefs",
                        "observedGeneration": generation,
                        "lastTransitionTime": now,
                        **(
                            {"status": "True", "reason": "ResolvedRefs", "message": "All references resolved"}
                            if resolved
                            else {
                                "status": "False",
                                "reason": "RefNotPermitted",
                                "message": "backendRef to another namespace not permitted by any ReferenceGrant",
                            }
                        ),
                    },
                ],
            }
        )
    return {"parents": parents}


# --------------------------------------------------------------------------- Secrets for a deployed gateway

RBAC = "rbac.authorization.k8s.io"


def is_deployed(pod: Obj) -> bool:
    """A pod of a Deployment istiod created for a Gateway (not the egress gateway Istio's charts install)."""
    return GATEWAY_NAME_LABEL in (pod["metadata"].get("labels") or {}) and proxy_is_router(pod)


def proxy_is_router(pod: Obj) -> bool:
    return any(c.get("name") == "istio-proxy" and "router" in (c.get("args") or []) for c in pod["spec"]["containers"])


def secret_access_problem(select: Callable[..., list[Obj]], pod: Obj) -> str | None:
    """Why istiod would not serve this deployed gateway a Secret of its namespace, or None when it would.

    istiod serves credentialName Secrets to a gateway only when the gateway's service account may list
    Secrets in its namespace; the deployment istiod creates grants none, so istio.io's mutual TLS task adds
    a Role and RoleBinding ``<gateway>-istio-sds`` (egress-gateway-tls-origination, Gateway API tab,
    snip_configure_mutual_tls_origination_for_egress_traffic_4). ``select`` is ObjectStore.select."""
    ns = pod["metadata"]["namespace"]
    account = pod["spec"].get("serviceAccountName") or "default"
    for binding in select(RBAC, "RoleBinding", ns):
        subjects = binding.get("subjects") or []
        if not any(
            s.get("kind") == "ServiceAccount" and s.get("name") == account and s.get("namespace", ns) == ns
            for s in subjects
        ):
            continue
        ref = binding.get("roleRef") or {}
        roles = select(RBAC, ref.get("kind", "Role"), ns if ref.get("kind") == "Role" else None)
        role = next((r for r in roles if r["metadata"]["name"] == ref.get("name")), None)
        if role is not None and any(_grants_secret_list(rule) for rule in role.get("rules") or []):
            return None
    return (
        f"service account {ns}/{account} may not list Secrets in {ns} (no RoleBinding grants it), so istiod "
        "does not serve the Secret to this gateway; add a Role and RoleBinding as istio.io's task does"
    )


def _grants_secret_list(rule: Obj) -> bool:
    def has(key: str, value: str) -> bool:
        items = rule.get(key) or []
        return value in items or "*" in items

    return has("apiGroups", "") and has("resources", "secrets") and has("verbs", "list")
