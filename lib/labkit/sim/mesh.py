"""The simulated mesh: one object that owns the clock, the API objects, the network and the proxies."""

from __future__ import annotations

import ipaddress
import random
import uuid
from typing import Any

from ..manifests import Ref
from ..meshconfig import MESH_CONFIGMAP
from . import gatewayapi, gatewayapi_deploy
from .apps import Apps
from .clock import VirtualClock
from .cluster import PROXY_IMAGE, ROUTER, Cluster, proxy_role
from .config import ISTIO, ProxyView, parse_mesh
from .credentials import Credentials
from .gateway import Gateway
from .network import Network
from .nginx import NginxServer, is_nginx
from .pki import Pki
from .registry import build
from .scope import Scope
from .sidecar import Sidecar
from .squid import SquidServer, is_squid
from .store import Key, ObjectStore
from .topology import ISTIO_VERSION, SimOptions, initial_objects
from .world import World


def _group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _group(obj: dict[str, Any]) -> str:
    return _group_of(str(obj.get("apiVersion") or ""))


class Mesh:
    def __init__(self, options: SimOptions | None = None, world: World | None = None) -> None:
        self.options = options or SimOptions()
        self.clock = VirtualClock()
        # Weighted routes and fault percentages roll these dice; a fixed seed makes runs repeatable.
        self.rng = random.Random(self.options.seed)
        self.store = ObjectStore(self.clock.now, self.options.push_delay, self._reaches_proxies)
        self.cluster = Cluster(self.store, self.options.istio_namespace, f"{PROXY_IMAGE}:{ISTIO_VERSION}")
        self.world = world or World()
        self.cluster.upstream_dns = self.world.resolve  # cluster DNS forwards outside names to the world
        self.network = Network(self)
        self._proxies: dict[str, Sidecar | Gateway] = {}
        self.apps = Apps()
        self.apps.register(is_nginx, NginxServer(self))
        self.apps.register(is_squid, SquidServer(self))
        self.credentials = Credentials(self)
        self.pki = Pki()
        self._logs: dict[tuple[str, str, str], list[tuple[float, str]]] = {}
        self._requests = 0
        delay, self.store.push_delay = self.store.push_delay, 0.0  # the initial config is already pushed
        for obj in initial_objects(self.options):
            self.put(obj)
        self.store.push_delay = delay

    def _reaches_proxies(self, key: Key) -> bool:
        group, kind, ns, name = key
        if group in (ISTIO, gatewayapi.GROUP):  # istiod pushes both, the Gateway API as Istio config
            return True
        return kind == "ConfigMap" and ns == self.options.istio_namespace and name == MESH_CONFIGMAP

    # -- the API server
    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        kind = obj.get("kind")
        existing = self.store.get(Ref.of(obj))
        if kind == "Service":
            if existing:  # the cluster IP is immutable
                obj.setdefault("spec", {}).setdefault("clusterIP", existing["spec"].get("clusterIP"))
            self.cluster.admit_service(obj)
        elif kind == "Pod" and not existing:
            self.cluster.admit_pod(obj)
        elif kind == "Pod" and existing:
            obj["status"] = existing.get("status")
        stored = self.store.put(obj)
        if self._deploys(stored):
            for child in gatewayapi_deploy.deployment(stored, self.cluster.proxy_image):
                self.put(child)
        self.cluster.reconcile()
        if _group(stored) == gatewayapi.GROUP or (kind == "ServiceEntry" and self._has_routes()):
            self._gateway_api_status()
        return self.store.get(Ref.of(stored)) or stored

    def remove(self, ref: Ref) -> bool:
        removed = self.store.remove(ref) is not None
        if ref.kind == "Namespace" and removed:
            for inner in self.store.refs_in(ref.name):
                self.store.remove(inner)
        if removed and ref.kind == "Gateway" and _group_of(ref.api_version) == gatewayapi.GROUP:
            # Kubernetes garbage collection: what the Gateway owns goes with it.
            name = gatewayapi.deployed_name(ref.name)
            for kind, api_version in (("Deployment", "apps/v1"), ("Service", "v1"), ("ServiceAccount", "v1")):
                self.store.remove(Ref(api_version, kind, ref.namespace, name))
        self.cluster.reconcile()
        if _group_of(ref.api_version) == gatewayapi.GROUP or (ref.kind == "ServiceEntry" and self._has_routes()):
            self._gateway_api_status()
        return removed

    # -- the Gateway API controller (istiod's deployment controller and status writer)
    def _deploys(self, obj: dict[str, Any]) -> bool:
        return (
            _group(obj) == gatewayapi.GROUP
            and obj.get("kind") == "Gateway"
            and obj["spec"].get("gatewayClassName") == gatewayapi.ISTIO_CLASS
        )

    def _has_routes(self) -> bool:
        """Whether a ServiceEntry write can change any route's status (without reading every object)."""
        return any(self.store.count(gatewayapi.GROUP, kind) for kind in gatewayapi.ROUTE_KINDS)

    def _gateway_api_objects(self, pushed: bool) -> list[dict[str, Any]]:
        kinds = ("Gateway", *gatewayapi.ROUTE_KINDS, "ReferenceGrant")
        if pushed:
            return self.store.pushed_group(gatewayapi.GROUP, kinds)
        return [o for kind in kinds for o in self.store.select(gatewayapi.GROUP, kind)]

    def _gateway_api_status(self) -> None:
        """Status as istiod writes it once it has read the objects (at once here, as API objects)."""
        translation = gatewayapi.translate(
            self._gateway_api_objects(False), lambda ns, name: self.store.raw(ISTIO, "ServiceEntry", ns, name)
        )
        now = self.clock.datetime().strftime("%Y-%m-%dT%H:%M:%SZ")
        for gw in self.store.select(gatewayapi.GROUP, "Gateway"):
            if not self._deploys(gw):
                continue
            ns, name = gw["metadata"]["namespace"], gw["metadata"]["name"]
            service = self.store.raw("", "Service", ns, gatewayapi.deployed_name(name))
            if service is not None:
                gw["status"] = gatewayapi_deploy.gateway_status(
                    gw, service, gatewayapi_deploy.attached_counts(translation, gw), now
                )
        for kind in gatewayapi.ROUTE_KINDS:
            for route in self.store.select(gatewayapi.GROUP, kind):
                key = (kind, route["metadata"]["namespace"], route["metadata"]["name"])
                attached = translation.attached.get(key, [])
                route["status"] = gatewayapi_deploy.route_status(
                    route, attached, now, key not in translation.not_permitted
                )

    # -- the proxies: one per pod that runs Envoy
    def proxy(self, pod: dict[str, Any]) -> Sidecar | Gateway:
        """The Envoy of ``pod``: its sidecar, or the gateway it runs (by the pod's ``proxy router`` args)."""
        uid = pod["metadata"]["uid"]
        found = self._proxies.get(uid)
        if found is None or found.pod is not pod:
            found = Gateway(self, pod) if proxy_role(pod) == ROUTER else Sidecar(self, pod)
            self._proxies[uid] = found
        return found

    # -- what proxies see
    def mesh_config(self) -> dict[str, Any]:
        """meshConfig as the proxies know it (the ``istio`` ConfigMap, once pushed)."""
        cm = self.store.pushed_one("", "ConfigMap", self.options.istio_namespace, MESH_CONFIGMAP)
        return parse_mesh((cm or {}).get("data", {}).get("mesh", ""))

    def view_for(self, pod: dict[str, Any]) -> ProxyView:
        """The config the proxy of ``pod`` holds now: what istiod pushed, narrowed to its Scope."""
        mesh = self.mesh_config()
        service_entries = list(self.store.pushed(ISTIO, "ServiceEntry"))
        registry = build(self.cluster.services(), service_entries)
        # Gateway API objects reach the proxies as the Istio config istiod converts them to.
        gateway_api = gatewayapi.Translation()
        objects = self._gateway_api_objects(True)
        if objects:
            entries = {(se["metadata"]["namespace"], se["metadata"]["name"]): se for se in service_entries}
            gateway_api = gatewayapi.translate(objects, lambda ns, name: entries.get((ns, name)))
        scope = Scope.build(
            pod,
            registry,
            list(self.store.pushed(ISTIO, "VirtualService")) + gateway_api.virtual_services,
            list(self.store.pushed(ISTIO, "DestinationRule")),
            list(self.store.pushed(ISTIO, "Sidecar")),
            mesh,
            gateway=proxy_role(pod) == ROUTER,
        )
        return ProxyView(
            mesh=mesh,
            scope=scope,
            # istiod binds a Gateway API Gateway to its own Service's pods, so only this namespace's count.
            gateways=list(self.store.pushed(ISTIO, "Gateway"))
            + [g for g in gateway_api.gateways if g["metadata"]["namespace"] == pod["metadata"]["namespace"]],
            root_namespace=mesh.get("rootNamespace", self.options.istio_namespace),
        )

    # -- DNS
    def resolve(self, name: str, namespace: str) -> str | None:
        """What a pod in ``namespace`` gets for ``name``: an IP as written, a cluster Service by the
        pod's search path, else a host of the outside world."""
        try:
            ipaddress.ip_address(name)
            return name
        except ValueError:
            pass
        return self.cluster.resolve(name, namespace) or self.world.resolve(name)

    # -- logs
    def write_log(self, pod: dict[str, Any], container: str, line: str) -> None:
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"], container)
        self._logs.setdefault(key, []).append((self.clock.now(), line))

    def logs(self, namespace: str, pod: str, container: str, since: float | None = None) -> list[str]:
        lines = self._logs.get((namespace, pod, container), [])
        cutoff = self.clock.now() - since if since is not None else float("-inf")
        return [line for t, line in lines if t >= cutoff]

    def request_id(self) -> str:
        self._requests += 1
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"labkit-sim-request-{self._requests}"))
