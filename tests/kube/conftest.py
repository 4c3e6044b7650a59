"""Fakes for the Kubernetes client boundary: the dynamic client, the typed APIs, the exec stream, a clock.

They are handed out through fixtures so the test modules need no import path set up for them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError

from labkit.kube import KubeBackend
from labkit.kube.apply import Objects
from labkit.manifests import selector_matches
from labkit.patch import merge_patch

# -- kubeconfig files


def write_kubeconfig(path: Path, contexts: list[str], current: str | None) -> str:
    """A kubeconfig with one cluster on a port nothing listens on, and the given contexts."""
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "lab", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "lab", "user": {"token": "not-a-real-token"}}],
        "contexts": [{"name": name, "context": {"cluster": "lab", "user": "lab"}} for name in contexts],
    }
    if current:
        config["current-context"] = current
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Callable[..., str]:
    """``kubeconfig(["kind-x", "docker-desktop"], current="kind-x")`` -> path of a fresh kubeconfig."""

    def make(contexts: list[str], current: str | None = None, name: str = "config") -> str:
        return write_kubeconfig(tmp_path / name, contexts, current if current is not None else contexts[0])

    return make


@pytest.fixture(autouse=True)
def _no_ambient_allow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests decide for themselves whether a context is allowed by the environment."""
    monkeypatch.delenv("LABKIT_ALLOW_CONTEXT", raising=False)


# -- the dynamic client


class FakeInstance:
    """Stands in for kubernetes.dynamic.ResourceInstance: only ``to_dict`` is used."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._data)


def not_found(what: str) -> NotFoundError:
    return NotFoundError(ApiException(status=404, reason="Not Found", body=f'{{"message": "{what} not found"}}'))


class FakeResource:
    def __init__(self, store: FakeDynamic, api_version: str, kind: str, namespaced: bool) -> None:
        self.store = store
        self.api_version = api_version
        self.kind = kind
        self.namespaced = namespaced
        # what API discovery tells about a resource
        self.group_version = api_version
        self.group = api_version.split("/")[0] if "/" in api_version else ""
        self.verbs = ["create", "delete", "get", "list", "patch", "watch"]
        self.preferred = True

    def _key(self, name: str | None, namespace: str | None) -> tuple:
        return (self.api_version, self.kind, namespace, name)

    def server_side_apply(self, body=None, name=None, namespace=None, **kwargs):
        self.store.calls.append(("server_side_apply", self.kind, name, namespace, kwargs))
        self.store.applied.append(copy.deepcopy(body))
        if self.store.reject.get(name):
            raise self.store.reject[name]
        stored = copy.deepcopy(body)
        stored.setdefault("metadata", {})["resourceVersion"] = str(len(self.store.calls))
        self.store.objects[self._key(name, namespace)] = stored
        return FakeInstance(stored)

    def delete(self, name=None, namespace=None, **kwargs):
        self.store.calls.append(("delete", self.kind, name, namespace, kwargs))
        if self.store.objects.pop(self._key(name, namespace), None) is None:
            raise not_found(f"{self.kind} {name}")
        return FakeInstance({"kind": "Status", "status": "Success"})

    def get(self, name=None, namespace=None, label_selector=None, **kwargs):
        self.store.calls.append(("get", self.kind, name, namespace, {"label_selector": label_selector, **kwargs}))
        objects = self.store.view()
        if name:
            obj = objects.get(self._key(name, namespace))
            if obj is None:
                raise not_found(f"{self.kind} {name}")
            return FakeInstance(obj)
        items = [
            {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}  # as list responses are
            for (av, kind, ns, _), obj in objects.items()
            if av == self.api_version
            and kind == self.kind
            and (namespace is None or ns == namespace)
            and selector_matches(label_selector, (obj.get("metadata") or {}).get("labels"))
        ]
        return FakeInstance({"kind": f"{self.kind}List", "items": items})

    def patch(self, body=None, name=None, namespace=None, **kwargs):
        self.store.calls.append(("patch", self.kind, name, namespace, {"body": body, **kwargs}))
        key = self._key(name, namespace)
        if key not in self.store.objects:
            raise not_found(f"{self.kind} {name}")
        self.store.objects[key] = merge_patch(self.store.objects[key], body)
        return FakeInstance(self.store.objects[key])


class FakeResources:
    def __init__(self, store: FakeDynamic) -> None:
        self.store = store

    def get(self, api_version: str, kind: str) -> FakeResource:
        if (api_version, kind) not in self.store.kinds:
            raise ResourceNotFoundError(f"No matches found for {{'api_version': {api_version!r}, 'kind': {kind!r}}}")
        return FakeResource(self.store, api_version, kind, self.store.kinds[(api_version, kind)])

    def search(self) -> list[FakeResource]:
        """API discovery: every kind the fake serves, each at one version, all listable."""
        return [FakeResource(self.store, av, kind, namespaced) for (av, kind), namespaced in self.store.kinds.items()]


class FakeDynamic:
    """A DynamicClient that knows a few kinds and records every call as (verb, kind, name, namespace, kwargs)."""

    def __init__(self) -> None:
        self.kinds: dict[tuple[str, str], bool] = {
            ("v1", "Namespace"): False,
            ("v1", "ConfigMap"): True,
            ("v1", "Pod"): True,
            ("apps/v1", "Deployment"): True,
            ("networking.istio.io/v1", "ServiceEntry"): True,
            ("networking.istio.io/v1", "Gateway"): True,
        }
        self.objects: dict[tuple, dict[str, Any]] = {}
        self.calls: list[tuple] = []
        #: every server-side apply body, as sent
        self.applied: list[dict[str, Any]] = []
        self.reject: dict[str, Exception] = {}
        self.resources = FakeResources(self)
        #: when set, Pods are read from here (API-shaped dicts) instead of ``objects``: one cluster whose
        #: typed API (FakeCore.pods) and dynamic client show the same pods
        self.pods: Callable[[], list[dict[str, Any]]] | None = None

    def view(self) -> dict[tuple, dict[str, Any]]:
        """The objects reads see."""
        if self.pods is None:
            return self.objects
        pods = {("v1", "Pod", p["metadata"].get("namespace"), p["metadata"]["name"]): p for p in self.pods()}
        return {**{k: v for k, v in self.objects.items() if k[:2] != ("v1", "Pod")}, **pods}


@pytest.fixture
def dynamic() -> FakeDynamic:
    return FakeDynamic()


# -- typed APIs


class FakeCore:
    """CoreV1Api for pods, logs and ConfigMaps; ``connect_get_namespaced_pod_exec`` is only a target for stream."""

    def __init__(self, api_client: Any = None) -> None:
        self.api_client = api_client
        self.pods: list[k8s.V1Pod] = []
        self.configmaps: dict[tuple[str, str], k8s.V1ConfigMap] = {}
        self.log_text = ""
        #: (namespace, pod, container) -> log lines; other containers answer ``log_text``
        self.pod_logs: dict[tuple[str, str, str], list[str]] = {}
        self.log_error: Exception | None = None
        self.calls: list[tuple] = []

    def list_namespaced_pod(self, namespace, label_selector=None, **kwargs):
        self.calls.append(("list_namespaced_pod", namespace, label_selector))
        items = [
            p
            for p in self.pods
            if p.metadata.namespace == namespace and selector_matches(label_selector, p.metadata.labels)
        ]
        return k8s.V1PodList(items=items)

    def read_namespaced_config_map(self, name, namespace, **kwargs):
        self.calls.append(("read_namespaced_config_map", name, namespace))
        if (namespace, name) not in self.configmaps:
            raise ApiException(status=404, reason="Not Found")
        return self.configmaps[(namespace, name)]

    def read_namespaced_pod_log(self, name, namespace, **kwargs):
        self.calls.append(("read_namespaced_pod_log", name, namespace, kwargs))
        if self.log_error:
            raise self.log_error
        lines = self.pod_logs.get((namespace, name, kwargs.get("container")))
        return self.log_text if lines is None else "".join(f"{line}\n" for line in lines)

    def connect_get_namespaced_pod_exec(self, *args, **kwargs):  # pragma: no cover - never called directly
        raise AssertionError("the exec API must be called through kubernetes.stream.stream")


class FakeApps:
    def __init__(self) -> None:
        self.deployments: list[k8s.V1Deployment] = []
        self.daemonsets: list[k8s.V1DaemonSet] = []
        #: when set, each list_namespaced_deployment call pops the next list of deployments
        self.deployment_sequence: list[list[k8s.V1Deployment]] = []

    def list_namespaced_deployment(self, namespace, label_selector=None, **kwargs):
        if self.deployment_sequence:
            self.deployments = self.deployment_sequence.pop(0)
        items = [
            d
            for d in self.deployments
            if d.metadata.namespace == namespace and selector_matches(label_selector, d.metadata.labels)
        ]
        return k8s.V1DeploymentList(items=items)

    def list_daemon_set_for_all_namespaces(self, **kwargs):
        return k8s.V1DaemonSetList(items=self.daemonsets)


class FakeVersion:
    def __init__(self, git_version: str = "v1.31.0", error: Exception | None = None) -> None:
        self.git_version = git_version
        self.error = error

    def get_code(self, **kwargs):
        if self.error:
            raise self.error
        return SimpleNamespace(git_version=self.git_version)


@pytest.fixture
def core() -> FakeCore:
    return FakeCore()


@pytest.fixture
def apps() -> FakeApps:
    return FakeApps()


# -- model builders (real client models, so attribute names are checked against the library)


def container_status(name: str, ready: bool, waiting: str | None = None) -> k8s.V1ContainerStatus:
    if waiting:
        state = k8s.V1ContainerState(waiting=k8s.V1ContainerStateWaiting(reason=waiting))
    else:
        state = k8s.V1ContainerState(running=k8s.V1ContainerStateRunning())
    return k8s.V1ContainerStatus(name=name, ready=ready, image=f"{name}:1", image_id="", restart_count=0, state=state)


def make_pod(
    name: str,
    namespace: str = "lab",
    labels: dict[str, str] | None = None,
    phase: str = "Running",
    ready: dict[str, bool] | None = None,
    native_sidecar: dict[str, bool] | None = None,
    deleting: bool = False,
) -> k8s.V1Pod:
    """A pod whose containers (name -> ready) are ordinary; ``native_sidecar`` ones are restartable inits."""
    ready = {"sleep": True, "istio-proxy": True} if ready is None else ready
    native_sidecar = native_sidecar or {}
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(
            name=name,
            namespace=namespace,
            labels=labels if labels is not None else {"app": "sleep"},
            deletion_timestamp="2025-01-01T00:00:00Z" if deleting else None,
        ),
        spec=k8s.V1PodSpec(
            containers=[k8s.V1Container(name=c, image=f"{c}:1") for c in ready],
            init_containers=[k8s.V1Container(name=c, image=f"{c}:1", restart_policy="Always") for c in native_sidecar]
            or None,
        ),
        status=k8s.V1PodStatus(
            phase=phase,
            container_statuses=[container_status(c, r) for c, r in ready.items()],
            init_container_statuses=[container_status(c, r) for c, r in native_sidecar.items()] or None,
        ),
    )


def make_deployment(
    name: str,
    namespace: str = "lab",
    labels: dict[str, str] | None = None,
    replicas: int = 1,
    generation: int = 1,
    observed: int = 1,
    updated: int = 1,
    available: int = 1,
    image: str = "curlimages/curl:8.5.0",
    container: str = "app",
) -> k8s.V1Deployment:
    labels = labels if labels is not None else {"app": "sleep"}
    return k8s.V1Deployment(
        metadata=k8s.V1ObjectMeta(name=name, namespace=namespace, generation=generation, labels=labels),
        spec=k8s.V1DeploymentSpec(
            replicas=replicas,
            selector=k8s.V1LabelSelector(match_labels=labels),
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels=labels),
                spec=k8s.V1PodSpec(containers=[k8s.V1Container(name=container, image=image)]),
            ),
        ),
        status=k8s.V1DeploymentStatus(
            observed_generation=observed,
            replicas=replicas,
            updated_replicas=updated,
            available_replicas=available,
        ),
    )


def make_daemonset(name: str, image: str, namespace: str = "kube-system") -> k8s.V1DaemonSet:
    labels = {"app": name}
    return k8s.V1DaemonSet(
        metadata=k8s.V1ObjectMeta(name=name, namespace=namespace),
        spec=k8s.V1DaemonSetSpec(
            selector=k8s.V1LabelSelector(match_labels=labels),
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels=labels),
                spec=k8s.V1PodSpec(containers=[k8s.V1Container(name=f"{name}-cni", image=image)]),
            ),
        ),
    )


@pytest.fixture
def models() -> SimpleNamespace:
    return SimpleNamespace(
        pod=make_pod,
        deployment=make_deployment,
        daemonset=make_daemonset,
        container_status=container_status,
        not_found=not_found,
    )


# -- time


class FakeClock:
    """A monotonic clock that only moves when something sleeps or waits on it."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# -- the exec websocket


class FakeWS:
    """The WSClient surface exec uses. ``frames`` is what each ``update`` delivers ({channel: text});
    when they run out the socket closes, unless ``hang`` is set: then each update just lets time pass."""

    def __init__(self, frames: list[dict[int, str]], clock: FakeClock, hang: bool = False) -> None:
        self.frames = list(frames)
        self.clock = clock
        self.hang = hang
        self.open = True
        self.closed = False
        self.buffers: dict[int, str] = {}
        self.updates: list[float] = []

    def is_open(self) -> bool:
        return self.open

    def update(self, timeout: float = 0) -> None:
        self.updates.append(timeout)
        if not self.open:
            return
        if self.frames:
            for channel, data in self.frames.pop(0).items():
                self.buffers[channel] = self.buffers.get(channel, "") + data
            self.clock.t += 0.01
            return
        if self.hang:
            self.clock.t += timeout
        else:
            self.open = False

    def read_channel(self, channel: int, timeout: float = 0) -> str:
        return self.buffers.pop(channel, "")

    def close(self, **kwargs) -> None:
        self.closed = True
        self.open = False


class FakeStream:
    """Replaces kubernetes.stream.stream: records the call and hands back a FakeWS."""

    def __init__(self, ws: FakeWS | None = None, error: Exception | None = None) -> None:
        self.ws = ws
        self.error = error
        self.calls: list[tuple[Any, tuple, dict]] = []

    def __call__(self, api_method, *args, **kwargs):
        self.calls.append((api_method, args, kwargs))
        if self.error:
            raise self.error
        return self.ws


@pytest.fixture
def ws_factory(clock: FakeClock) -> Callable[..., FakeWS]:
    def make(frames: list[dict[int, str]], hang: bool = False) -> FakeWS:
        return FakeWS(frames, clock, hang)

    return make


@pytest.fixture
def fake_stream(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeStream]:
    """``fake_stream(ws)`` installs a FakeStream in labkit.kube.exec and returns it."""

    def install(ws: FakeWS | None = None, error: Exception | None = None) -> FakeStream:
        fake = FakeStream(ws, error)
        monkeypatch.setattr("labkit.kube.exec.stream", fake)
        return fake

    return install


MESH = "accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n"


@pytest.fixture
def backend(kubeconfig, fakes, dynamic, models):
    """A KubeBackend on kind-labs whose API objects are fakes describing a healthy lab cluster."""
    b = KubeBackend(kubeconfig=kubeconfig(["kind-labs"]))
    b.clients.core = fakes.Core()
    b.clients.apps = fakes.Apps()
    b.clients.version = fakes.Version("v1.31.0")
    b.objects = Objects(dynamic)
    b.clients.core.pods = [
        models.pod(
            "istio-egressgateway-7f9c",
            namespace="istio-system",
            labels={"istio": "egressgateway"},
            ready={"istio-proxy": True},
        )
    ]
    b.clients.core.configmaps[("istio-system", "istio")] = k8s.V1ConfigMap(data={"mesh": MESH})
    b.clients.apps.deployments = [
        models.deployment(
            "istiod",
            namespace="istio-system",
            labels={"app": "istiod"},
            image="docker.io/istio/pilot:1.24.2",
            container="discovery",
        )
    ]
    b.clients.apps.daemonsets = [models.daemonset("kindnet", "docker.io/kindest/kindnetd:v20240813-c6f155d6")]
    return b


@pytest.fixture
def cluster(backend, dynamic, clock, monkeypatch) -> SimpleNamespace:
    """The ``backend`` fixture as one cluster a ``Lab`` can drive: pods are ``core.pods`` for the typed API and
    the dynamic client alike, the ConfigMap ``istio`` and the usual namespaces exist, and the backend runs on
    the fake clock. ``on_tick(fn)`` registers ``fn(now)``, called whenever the backend sleeps: the cluster changes
    (rollouts, log flushes) only while the lab waits, so every run takes the same steps."""
    monkeypatch.delenv("LABKIT_RECORD_DIR", raising=False)  # checks and manifests stay in memory
    ticks: list[Callable[[float], None]] = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        for tick in list(ticks):
            tick(clock())

    monkeypatch.setattr(backend, "now", clock)
    monkeypatch.setattr(backend, "sleep", sleep)
    core, apps = backend.clients.core, backend.clients.apps
    dynamic.pods = lambda: [backend.clients.serialize(p) for p in core.pods]
    for kind in ("Secret", "Service", "ServiceAccount"):
        dynamic.kinds[("v1", kind)] = True
    for name in ("default", "istio-system", "kube-system"):
        dynamic.objects[("v1", "Namespace", None, name)] = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        }
    dynamic.objects[("v1", "ConfigMap", "istio-system", "istio")] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "istio", "namespace": "istio-system"},
        "data": {"mesh": MESH, "meshNetworks": "networks: {}"},
    }
    return SimpleNamespace(backend=backend, core=core, apps=apps, dynamic=dynamic, clock=clock, on_tick=ticks.append)


@pytest.fixture
def fakes() -> SimpleNamespace:
    return SimpleNamespace(
        Core=FakeCore, Apps=FakeApps, Version=FakeVersion, Dynamic=FakeDynamic, Instance=FakeInstance
    )
