"""The simulated mesh: one object that owns the clock, the API objects, the network and the proxies."""

from __future__ import annotations

import ipaddress
import random
import uuid
from typing import Any

from ..manifests import Ref
from ..meshconfig import MESH_CONFIGMAP
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
        return group == ISTIO or (kind == "ConfigMap" and ns == self.options.istio_namespace and name == MESH_CONFIGMAP)

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
        self.cluster.reconcile()
        return stored

    def remove(self, ref: Ref) -> bool:
        removed = self.store.remove(ref) is not None
        if ref.kind == "Namespace" and removed:
            for inner in self.store.refs_in(ref.name):
                self.store.remove(inner)
        self.cluster.reconcile()
        return removed

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
        registry = build(self.cluster.services(), list(self.store.pushed(ISTIO, "ServiceEntry")))
        scope = Scope.build(
            pod,
            registry,
            list(self.store.pushed(ISTIO, "VirtualService")),
            list(self.store.pushed(ISTIO, "DestinationRule")),
            list(self.store.pushed(ISTIO, "Sidecar")),
            mesh,
            gateway=proxy_role(pod) == ROUTER,
        )
        return ProxyView(
            mesh=mesh,
            scope=scope,
            gateways=list(self.store.pushed(ISTIO, "Gateway")),
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
