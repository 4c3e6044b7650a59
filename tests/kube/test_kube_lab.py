"""A ``Lab`` on ``KubeBackend``: what labs 03–05 do, down to the client calls a real cluster would get.

The cluster is the ``cluster`` fixture (conftest.py): fake typed and dynamic clients that agree on their pods,
a fake exec stream, and a fake clock that only moves while the lab waits, so retries cost no real time.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from kubernetes.client.exceptions import ApiException
from rich.console import Console

from labkit import ExpectationFailed, Lab, LabkitError, certs, lab_file, nginxconf
from labkit.curl.remote import MARKER
from labkit.kube.apply import MERGE_PATCH

GATEWAY_POD = "istio-egressgateway-7f9c"  # the ready gateway of the ``backend`` fixture
GATEWAY_LOGS = {"namespace": "istio-system", "selector": "istio=egressgateway"}  # lab 03's ``gateway_logs``
RESTARTED = "kubectl.kubernetes.io/restartedAt"
HOST = "edition.cnn.com"
SUCCESS = '{"metadata":{},"status":"Success"}'


@pytest.fixture
def lab(cluster) -> Lab:
    return Lab(cluster.backend, name="kube-lab", console=Console(file=io.StringIO(), width=200))


def calls(cluster, verb: str, kind: str) -> list[tuple]:
    return [c for c in cluster.dynamic.calls if c[0] == verb and c[1] == kind]


def pod_reads(cluster) -> list[tuple[str | None, str | None, str | None]]:
    """(name, namespace, label selector) of every Pod read (get or list) through the dynamic client."""
    return [(c[2], c[3], c[4]["label_selector"]) for c in calls(cluster, "get", "Pod")]


def log_reads(cluster) -> list[tuple[str, str, str]]:
    """(pod, namespace, container) of every log read."""
    return [(c[1], c[2], c[3]["container"]) for c in cluster.core.calls if c[0] == "read_namespaced_pod_log"]


def namespace_labels(cluster, name: str) -> dict[str, str]:
    namespace = cluster.dynamic.objects.get(("v1", "Namespace", None, name)) or {"metadata": {}}
    return namespace["metadata"].get("labels") or {}


def access_line(n: int, code: int = 301, cluster_name: str = f"outbound|80||{HOST}", flags: str = "-") -> str:
    """One line of Envoy's default text access log."""
    return (
        f'[2025-01-01T10:00:{n:02d}.000Z] "GET /politics HTTP/1.1" {code} {flags} via_upstream - "-" 0 0 5 4 '
        f'"-" "curl/8.16.0" "req-{n}" "{HOST}" "151.101.3.5:80" {cluster_name} '
        "10.244.0.7:52000 10.244.0.7:8080 10.244.0.12:41234 - -"
    )


# -- the egress gateway preflight


def test_require_egress_gateway_finds_the_ready_gateway(lab, cluster):
    assert lab.require_egress_gateway() == GATEWAY_POD
    check = lab.checks[-1]
    assert check.passed and check.attempts == 1
    assert check.command == "kubectl get pods -n istio-system -l istio=egressgateway"
    assert pod_reads(cluster) == [(None, "istio-system", "istio=egressgateway")]
    assert cluster.clock.sleeps == []


@pytest.mark.parametrize("gateway", ["missing", "not ready"])
def test_require_egress_gateway_fails_with_the_install_command(lab, cluster, models, gateway):
    # istiod is ready in the same namespace: only the selector tells it from a gateway
    cluster.core.pods = [models.pod("istiod-5d8", "istio-system", labels={"app": "istiod"}, ready={"discovery": True})]
    if gateway == "not ready":
        cluster.core.pods.append(
            models.pod(GATEWAY_POD, "istio-system", labels={"istio": "egressgateway"}, ready={"istio-proxy": False})
        )
    start = cluster.clock()
    with pytest.raises(ExpectationFailed) as err:
        lab.require_egress_gateway()
    hint = err.value.hint
    assert hint.startswith("install it: istioctl install ")
    # Flags with brackets are quoted, so the command also pastes into zsh (no glob "no matches found").
    for flag in (
        "'components.egressGateways[0].name=istio-egressgateway'",
        "'components.egressGateways[0].enabled=true'",
        "meshConfig.accessLogFile=/dev/stdout",
    ):
        assert f"--set {flag}" in hint
    check = err.value.check
    assert not check.passed and lab.checks == [check]
    assert "no ready pod with istio=egressgateway in istio-system" in check.actual
    # It kept trying for the 60 s a real cluster gets, all of it on the fake clock.
    assert check.attempts == 61 and cluster.clock() - start == 60 and set(cluster.clock.sleeps) == {1.0}


def test_require_egress_gateway_waits_for_the_gateway_to_become_ready(lab, cluster, models):
    labels = {"istio": "egressgateway"}
    cluster.core.pods = [models.pod(GATEWAY_POD, "istio-system", labels=labels, ready={"istio-proxy": False})]
    ready_at = cluster.clock() + 3

    def become_ready(now: float) -> None:
        if now >= ready_at:
            cluster.core.pods = [models.pod(GATEWAY_POD, "istio-system", labels=labels, ready={"istio-proxy": True})]

    cluster.on_tick(become_ready)
    assert lab.require_egress_gateway() == GATEWAY_POD
    assert lab.checks[-1].passed and lab.checks[-1].attempts == 4


# -- logs of the gateway


def test_logs_reads_each_gateway_pod_by_selector_with_the_proxy_container(lab, cluster, models):
    second = "istio-egressgateway-8a1d"
    cluster.core.pods += [
        models.pod(second, "istio-system", labels={"istio": "egressgateway"}, ready={"istio-proxy": True}),
        models.pod("istiod-5d8", "istio-system", labels={"app": "istiod"}, ready={"discovery": True}),
    ]
    cluster.core.pod_logs = {
        ("istio-system", GATEWAY_POD, "istio-proxy"): [access_line(1), access_line(2)],
        ("istio-system", second, "istio-proxy"): [access_line(3)],
        ("istio-system", "istiod-5d8", "discovery"): ["istiod is not a gateway"],
    }

    lines = lab.logs(namespace="istio-system", selector="istio=egressgateway", container="istio-proxy")

    assert lines == [access_line(1), access_line(2), access_line(3)]  # one string per line, no newlines
    assert pod_reads(cluster) == [(None, "istio-system", "istio=egressgateway")]
    assert log_reads(cluster) == [
        (GATEWAY_POD, "istio-system", "istio-proxy"),
        (second, "istio-system", "istio-proxy"),
    ]
    reads = [c[3] for c in cluster.core.calls if c[0] == "read_namespaced_pod_log"]
    assert all("since_seconds" not in kwargs for kwargs in reads)

    lab.logs(since_seconds=30, **GATEWAY_LOGS)
    assert cluster.core.calls[-1][3]["since_seconds"] == 30


# -- verify_curl with log_contains: the request must leave a new line in the gateway's log


class Egress:
    """Stands in for kubernetes.stream.stream: each exec is one curl from the client.

    The first ``direct`` requests leave the mesh directly (the route through the gateway is still on its way);
    later ones go through ``gateway`` pod, whose access log gets a line for each. With ``flush`` the line shows
    up only once the clock has moved on that far, as Envoy writes its access log every second.
    """

    def __init__(self, cluster, ws_factory, *, direct: int = 0, gateway: str = GATEWAY_POD, flush: float = 0.0):
        self.cluster = cluster
        self.ws_factory = ws_factory
        self.direct = direct
        self.gateway_log = cluster.core.pod_logs.setdefault(("istio-system", gateway, "istio-proxy"), [])
        self.flush = flush
        self.pending: list[tuple[float, str]] = []
        self.execs: list[dict[str, Any]] = []
        cluster.on_tick(self.tick)

    def __call__(self, api_method: Callable, pod: str, namespace: str, **kwargs: Any):
        self.execs.append({"pod": pod, "namespace": namespace, **kwargs})
        n = len(self.execs)
        if n > self.direct:
            self.pending.append((self.cluster.clock() + self.flush, access_line(n)))
            self.tick(self.cluster.clock())
        headers = "HTTP/1.1 301 Moved Permanently\r\nlocation: https://edition.cnn.com/politics\r\n\r\n"
        headers += "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\n\r\n"
        return self.ws_factory([{1: f"{headers}\n{MARKER} rc=0\n"}, {3: SUCCESS}])

    def tick(self, now: float) -> None:
        due = [line for at, line in self.pending if at <= now]
        self.pending = [(at, line) for at, line in self.pending if at > now]
        self.gateway_log += due


def verify_through_gateway(lab: Lab, **kwargs: Any):
    """Lab 03's check: the request goes through the gateway, and the gateway logs it."""
    return lab.verify_curl(
        f"http://{HOST}/politics",
        *("-sSL", "-o", "/dev/null", "-D", "-"),
        client="sleep",
        namespace="lab",
        statuses=[301, 200],
        log_contains=f"outbound|80||{HOST}",
        log_source=GATEWAY_LOGS,
        **kwargs,
    )


@pytest.fixture
def client_pod(cluster, models) -> str:
    cluster.core.pods.append(models.pod("sleep-6f8c", "lab"))
    return "sleep-6f8c"


def test_verify_curl_waits_for_a_new_gateway_log_line(lab, cluster, client_pod, ws_factory, monkeypatch):
    # A line from an earlier run already matches: only a line this request leaves may count.
    cluster.core.pod_logs[("istio-system", GATEWAY_POD, "istio-proxy")] = [access_line(0)]
    egress = Egress(cluster, ws_factory, direct=2)
    monkeypatch.setattr("labkit.kube.exec.stream", egress)

    r = verify_through_gateway(lab)

    assert [resp.status for resp in r.responses] == [301, 200]
    check = lab.checks[-1]
    assert check.passed and check.attempts == len(egress.execs) == 3  # the two direct requests did not count
    assert cluster.clock.sleeps  # retried on the fake clock
    for call in egress.execs:
        assert (call["pod"], call["namespace"], call["container"]) == (client_pod, "lab", "sleep")
        assert call["command"][:2] == ["sh", "-c"] and call["command"][-1] == f"http://{HOST}/politics"
    # the gateway log is read before and after each request, through the gateway's istio-proxy container
    reads = log_reads(cluster)
    assert set(reads) == {(GATEWAY_POD, "istio-system", "istio-proxy")} and len(reads) >= 2 * 3
    assert "logged 'outbound|80||edition.cnn.com'" in check.expected


def test_verify_curl_fails_when_the_gateway_logs_nothing_new(lab, cluster, client_pod, ws_factory, monkeypatch):
    cluster.core.pod_logs[("istio-system", GATEWAY_POD, "istio-proxy")] = [access_line(0)]
    egress = Egress(cluster, ws_factory, direct=1000)  # every request bypasses the gateway
    monkeypatch.setattr("labkit.kube.exec.stream", egress)

    with pytest.raises(ExpectationFailed) as err:
        verify_through_gateway(lab, within=5)

    check = err.value.check
    assert "no new line with 'outbound|80||edition.cnn.com' in the log of istio=egressgateway" in check.actual
    assert check.attempts == len(egress.execs) > 1  # the status matched every time; the log never did
    assert "statuses [301, 200]" in check.actual
    assert cluster.core.pod_logs[("istio-system", GATEWAY_POD, "istio-proxy")] == [access_line(0)]


def test_verify_curl_sees_a_line_envoy_flushes_a_second_later(lab, cluster, client_pod, ws_factory, monkeypatch):
    egress = Egress(cluster, ws_factory, flush=1.0)
    monkeypatch.setattr("labkit.kube.exec.stream", egress)
    verify_through_gateway(lab, within=10)
    assert lab.checks[-1].passed


@pytest.mark.parametrize(
    "served_by",
    [
        "istio-egressgateway-zz99",  # listed last
        "istio-egressgateway-0a00",  # listed first
    ],
)
def test_verify_curl_with_two_gateway_replicas(lab, cluster, models, client_pod, ws_factory, monkeypatch, served_by):
    labels = {"istio": "egressgateway"}
    cluster.core.pods = [
        models.pod(name, "istio-system", labels=labels, ready={"istio-proxy": True})
        for name in ("istio-egressgateway-0a00", "istio-egressgateway-zz99")
    ] + [models.pod(client_pod, "lab")]
    for name in ("istio-egressgateway-0a00", "istio-egressgateway-zz99"):
        cluster.core.pod_logs[("istio-system", name, "istio-proxy")] = [access_line(0, 404, "-", "NR")]
    monkeypatch.setattr("labkit.kube.exec.stream", Egress(cluster, ws_factory, gateway=served_by))
    verify_through_gateway(lab, within=3)
    assert lab.checks[-1].passed and lab.checks[-1].attempts == 1


# -- namespace labels and cleanup


def test_label_namespace_merge_patches_and_cleanup_restores(lab, cluster):
    ns = ("v1", "Namespace", None, "istio-system")
    cluster.dynamic.objects[ns]["metadata"]["labels"]["team"] = "mesh"
    before = dict(namespace_labels(cluster, "istio-system"))

    lab.label_namespace("istio-system", {"istio": "system", "team": None})
    assert namespace_labels(cluster, "istio-system") == {
        "kubernetes.io/metadata.name": "istio-system",
        "istio": "system",
    }
    lab.label_namespace("istio-system", {"istio": "changed-again"})
    lab.label_namespace("kube-system", {"kube-system": "true"})
    assert not lab.is_clean

    patches = calls(cluster, "patch", "Namespace")
    assert [(c[2], c[3], c[4]["body"], c[4]["content_type"]) for c in patches] == [
        ("istio-system", None, {"metadata": {"labels": {"istio": "system", "team": None}}}, MERGE_PATCH),
        ("istio-system", None, {"metadata": {"labels": {"istio": "changed-again"}}}, MERGE_PATCH),
        ("kube-system", None, {"metadata": {"labels": {"kube-system": "true"}}}, MERGE_PATCH),
    ]

    done = lab.cleanup()

    restores = calls(cluster, "patch", "Namespace")[3:]
    # old values come back; keys the lab added go away (null in a merge patch deletes them)
    assert {c[2]: c[4]["body"] for c in restores} == {
        "istio-system": {"metadata": {"labels": {"istio": None, "team": "mesh"}}},
        "kube-system": {"metadata": {"labels": {"kube-system": None}}},
    }
    assert namespace_labels(cluster, "istio-system") == before
    assert namespace_labels(cluster, "kube-system") == {"kubernetes.io/metadata.name": "kube-system"}
    assert "restored labels of namespace istio-system" in done and lab.is_clean
    lab.cleanup()
    assert len(calls(cluster, "patch", "Namespace")) == 5  # nothing left to restore


def test_cleanup_does_not_patch_a_namespace_the_lab_created(lab, cluster, monkeypatch):
    lab.apply(lab_file("common", "namespace.yaml"), name="test-egress")
    lab.label_namespace("test-egress", {"istio-injection": "enabled"})
    assert namespace_labels(cluster, "test-egress")["istio-injection"] == "enabled"

    # On a real cluster a deleted namespace stays readable while it terminates.
    objects, delete = cluster.dynamic.objects, cluster.backend.delete

    def delete_slowly(ref):
        key = ("v1", "Namespace", None, ref.name)
        terminating = {**objects.get(key, {}), "status": {"phase": "Terminating"}}
        gone = delete(ref)
        if ref.kind == "Namespace":
            objects[key] = terminating
        return gone

    monkeypatch.setattr(cluster.backend, "delete", delete_slowly)
    done = lab.cleanup()

    assert [c[2] for c in calls(cluster, "delete", "Namespace")] == ["test-egress"]
    assert done == ["deleted Namespace/test-egress"]
    assert lab.get("Namespace", "test-egress")["status"]["phase"] == "Terminating"
    patched = [c[2] for c in calls(cluster, "patch", "Namespace")]
    assert patched == ["test-egress"]  # the label itself, never a restore
    assert lab.is_clean
    lab.cleanup()
    assert [c[2] for c in calls(cluster, "patch", "Namespace")] == ["test-egress"]


# -- Secrets from generated certificate files


def test_secrets_from_generated_files_are_server_side_applied(lab, cluster, tmp_path):
    pki = certs.generate_lab_pki(tmp_path / "pki")
    cluster.dynamic.objects[("v1", "Namespace", None, "mesh-external")] = {"metadata": {"name": "mesh-external"}}
    lab.apply(
        [
            certs.secret_manifest("nginx-server-certs", "mesh-external", cert=pki.server_cert, key=pki.server_key),
            certs.secret_manifest("nginx-ca-certs", "mesh-external", ca=pki.ca_cert),
            nginxconf.configmap(server_name="my-nginx.mesh-external.svc.cluster.local"),
        ],
        namespace="mesh-external",
    )
    lab.apply(
        certs.secret_manifest(
            "client-credential", "istio-system", cert=pki.client_cert, key=pki.client_key, ca=pki.ca_cert
        )
    )

    applies = calls(cluster, "server_side_apply", "Secret")
    assert [(c[2], c[3]) for c in applies] == [
        ("nginx-server-certs", "mesh-external"),
        ("nginx-ca-certs", "mesh-external"),
        ("client-credential", "istio-system"),
    ]
    for call in applies:
        assert call[4] == {"field_manager": "labkit", "force_conflicts": True, "_request_timeout": 30}
    bodies = {b["metadata"]["name"]: b for b in cluster.dynamic.applied if b["kind"] == "Secret"}
    files = {
        "nginx-server-certs": {"tls.crt": pki.server_cert, "tls.key": pki.server_key},
        "nginx-ca-certs": {"ca.crt": pki.ca_cert},
        "client-credential": {"tls.crt": pki.client_cert, "tls.key": pki.client_key, "ca.crt": pki.ca_cert},
    }
    for name, expected in files.items():
        body = bodies[name]
        assert {key: base64.b64decode(value) for key, value in body["data"].items()} == {
            key: path.read_bytes() for key, path in expected.items()
        }
        assert body["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "labkit", "labkit.io/lab": "kube-lab"}
        assert body["type"] == "Opaque"

    lab.cleanup()
    deleted = [(c[1], c[2]) for c in cluster.dynamic.calls if c[0] == "delete"]
    assert deleted == [
        ("Secret", "client-credential"),
        ("ConfigMap", "nginx-configmap"),
        ("Secret", "nginx-ca-certs"),
        ("Secret", "nginx-server-certs"),
    ]


# -- containers of the client pod


def test_containers_of_the_client_pod(lab, cluster, models):
    cluster.core.pods += [
        models.pod("sleep-old", "lab", ready={"sleep": True}, deleting=True),  # the pod a restart replaces
        models.pod("sleep-new", "lab"),
        models.pod("sleep-plain", "plain", ready={"sleep": True}),
        models.pod("other-1", "plain", labels={"app": "other"}),
    ]
    assert lab.containers("lab", "sleep") == ["sleep", "istio-proxy"]
    assert lab.containers("plain", "sleep") == ["sleep"]
    # list the client pods by label, then read the running one by name
    assert pod_reads(cluster) == [
        (None, "lab", "app=sleep"),
        ("sleep-new", "lab", None),
        (None, "plain", "app=sleep"),
        ("sleep-plain", "plain", None),
    ]
    with pytest.raises(LabkitError, match="no client pod app=sleep in namespace empty"):
        lab.containers("empty", "sleep")


def test_containers_counts_a_native_sidecar(lab, cluster, models):
    cluster.core.pods.append(models.pod("sleep-1", "lab", ready={"sleep": True}, native_sidecar={"istio-proxy": True}))
    assert lab.containers("lab", "sleep") == ["sleep", "istio-proxy"]


# -- rollout restart


class DeploymentController:
    """Rolls a Deployment out, one step per second, once its pod template's restartedAt annotation changes.

    The new pod gets a sidecar when its namespace has ``istio-injection=enabled`` at that time. ``delay`` holds
    the controller back that many seconds; with ``stall`` the new pod never becomes ready.
    """

    def __init__(self, cluster, models, namespace: str, name: str, *, delay: float = 0.0, stall: bool = False):
        self.cluster, self.models = cluster, models
        self.namespace, self.name = namespace, name
        self.start = cluster.clock() + delay
        self.stall = stall
        self.step = 0
        self.done: str | None = None
        cluster.on_tick(self)

    def template_stamp(self) -> str | None:
        dep = self.cluster.dynamic.objects[("apps/v1", "Deployment", self.namespace, self.name)]
        return ((dep["spec"]["template"].get("metadata") or {}).get("annotations") or {}).get(RESTARTED)

    def new_pod(self, stamp: str, ready: bool):
        labels = namespace_labels(self.cluster, self.namespace)
        containers = [self.name, "istio-proxy"] if labels.get("istio-injection") == "enabled" else [self.name]
        pod = self.models.pod(
            f"{self.name}-new", self.namespace, labels={"app": self.name}, ready=dict.fromkeys(containers, ready)
        )
        pod.metadata.annotations = {RESTARTED: stamp}
        return pod

    def __call__(self, now: float) -> None:
        stamp = self.template_stamp()
        if now < self.start or stamp is None or stamp == self.done:
            return
        self.step += 1
        dep = next(d for d in self.cluster.apps.deployments if d.metadata.name == self.name)
        pods = self.cluster.core.pods
        new = f"{self.name}-new"
        if self.step == 1:  # the spec changed; the controller has not caught up
            dep.metadata.generation += 1
        elif self.step == 2:  # a new ReplicaSet, its pod starting, the old pod still serving
            dep.status.observed_generation = dep.metadata.generation
            dep.status.replicas, dep.status.updated_replicas, dep.status.available_replicas = 2, 1, 1
            pods.append(self.new_pod(stamp, ready=False))
        elif self.step == 3 and not self.stall:  # the new pod is ready, the old one terminates
            for pod in pods:
                if pod.metadata.namespace == self.namespace and pod.metadata.name != new:
                    pod.metadata.deletion_timestamp = "2025-01-01T10:00:00Z"
            pods[:] = [p for p in pods if p.metadata.name != new] + [self.new_pod(stamp, ready=True)]
            dep.status.replicas = 1
        elif self.step == 4 and not self.stall:  # the old pod is gone
            pods[:] = [p for p in pods if not p.metadata.deletion_timestamp]
            self.done = stamp


def deploy_client(lab: Lab, cluster, models, namespace: str, name: str = "sleep") -> str:
    """lab.deploy_client on a cluster where the Deployment's pod runs at once (no sidecar yet)."""
    cluster.apps.deployments.append(models.deployment(name, namespace, labels={"app": name}, container=name))
    cluster.core.pods.append(models.pod(f"{name}-old", namespace, labels={"app": name}, ready={name: True}))
    return lab.deploy_client(namespace=namespace, name=name)


def test_lab04_restart_after_labelling_gives_the_client_a_sidecar(lab, cluster, models):
    ns = "test-egress"
    lab.apply(lab_file("common", "namespace.yaml"), name=ns)
    assert deploy_client(lab, cluster, models, ns) == "sleep-old"
    assert lab.containers(ns, "sleep") == ["sleep"]
    DeploymentController(cluster, models, ns, "sleep")

    lab.label_namespace(ns, {"istio-injection": "enabled"})
    stamp = f"{cluster.clock():.3f}"
    new = lab.restart("sleep", ns)

    assert new == "sleep-new"
    (patch,) = calls(cluster, "patch", "Deployment")
    assert patch[2:4] == ("sleep", ns)
    assert patch[4]["body"] == {"spec": {"template": {"metadata": {"annotations": {RESTARTED: stamp}}}}}
    assert patch[4]["content_type"] == MERGE_PATCH
    # Right after the patch the old pod was still the ready one; restart waited three controller steps (a
    # second each) until the new pod was ready.
    assert cluster.clock.sleeps == [1.0, 1.0, 1.0]
    pod = lab.get("Pod", new, ns)
    assert pod["metadata"]["annotations"][RESTARTED] == stamp
    assert all(s["ready"] for s in pod["status"]["containerStatuses"])
    assert lab.containers(ns, "sleep") == ["sleep", "istio-proxy"]

    lab.cleanup()
    assert [c[2] for c in calls(cluster, "patch", "Namespace")] == [ns]  # the lab's own namespace is deleted
    assert [(c[1], c[2]) for c in cluster.dynamic.calls if c[0] == "delete"][-1] == ("Namespace", ns)


def test_restart_gives_up_when_no_new_pod_appears(lab, cluster, models):
    deploy_client(lab, cluster, models, "lab")  # no controller: the old pod stays, without the annotation
    start = cluster.clock()
    with pytest.raises(LabkitError, match="deployment lab/sleep did not roll out new pods in 5s"):
        lab.restart("sleep", "lab", timeout=5)
    assert cluster.clock() - start == 5


def test_restart_keeps_to_its_timeout(lab, cluster, models):
    deploy_client(lab, cluster, models, "lab")
    DeploymentController(cluster, models, "lab", "sleep", delay=8, stall=True)  # starts late, never finishes
    start = cluster.clock()
    with pytest.raises(LabkitError):
        lab.restart("sleep", "lab", timeout=10)
    assert cluster.clock() - start <= 11


# -- the outbound traffic policy in the istio ConfigMap

# Hand-edited: a comment, key order and quoting that a YAML round trip would not keep.
MESH_TEXT = """\
# edited by hand
defaultConfig:
  discoveryAddress: istiod.istio-system.svc:15012
  proxyMetadata: {}
accessLogFile: /dev/stdout
enablePrometheusMerge: true
rootNamespace: istio-system
trustDomain: "cluster.local"
"""


def mesh_text(cluster) -> str:
    return cluster.dynamic.objects[("v1", "ConfigMap", "istio-system", "istio")]["data"]["mesh"]


def test_set_outbound_policy_patches_only_the_mode_and_cleanup_restores_the_text(lab, cluster):
    cluster.dynamic.objects[("v1", "ConfigMap", "istio-system", "istio")]["data"]["mesh"] = MESH_TEXT
    assert lab.outbound_policy() == "ALLOW_ANY"

    lab.set_outbound_policy("REGISTRY_ONLY")

    (patch,) = calls(cluster, "patch", "ConfigMap")
    assert patch[2:4] == ("istio", "istio-system") and patch[4]["content_type"] == MERGE_PATCH
    assert list(patch[4]["body"]) == ["data"] and list(patch[4]["body"]["data"]) == ["mesh"]
    assert yaml.safe_load(patch[4]["body"]["data"]["mesh"]) == {
        **yaml.safe_load(MESH_TEXT),
        "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
    }
    assert lab.outbound_policy() == "REGISTRY_ONLY"
    stored = cluster.dynamic.objects[("v1", "ConfigMap", "istio-system", "istio")]
    assert stored["data"]["meshNetworks"] == "networks: {}"  # the merge patch left the other key alone

    lab.set_outbound_policy("ALLOW_ANY")
    done = lab.cleanup()

    assert mesh_text(cluster) == MESH_TEXT  # the very text from before the first change
    assert calls(cluster, "patch", "ConfigMap")[-1][4]["body"] == {"data": {"mesh": MESH_TEXT}}
    assert "restored the mesh config (outbound policy)" in done and lab.is_clean
    lab.cleanup()
    assert len(calls(cluster, "patch", "ConfigMap")) == 3


@pytest.mark.parametrize("mode", ["DENY_ALL", "registry_only", ""])
def test_a_bad_outbound_policy_patches_nothing(lab, cluster, mode):
    with pytest.raises(ValueError, match="is not one of ALLOW_ANY, REGISTRY_ONLY"):
        lab.set_outbound_policy(mode)
    assert cluster.dynamic.calls == [] and lab.is_clean
    lab.cleanup()
    assert calls(cluster, "patch", "ConfigMap") == []


# -- does the CNI enforce NetworkPolicy


@pytest.mark.parametrize(
    ("daemonset", "image", "enforced"),
    [
        ("kindnet", "docker.io/kindest/kindnetd:v20240813-c6f155d6", True),  # kind v0.24.0
        ("kindnet", "docker.io/kindest/kindnetd:v20250512-df8de77b", True),
        ("kindnet", "docker.io/kindest/kindnetd:v20240730-75a5af0c", False),  # kind v0.23
        ("kindnet", "docker.io/kindest/kindnetd:v20230511-dc714da8", False),
        ("calico-node", "docker.io/calico/node:v3.28.0", True),
        ("kube-flannel-ds", "docker.io/flannel/flannel:v0.25.5", None),
    ],
)
def test_network_policy_enforced_follows_the_doctor(lab, cluster, models, daemonset, image, enforced):
    cluster.apps.daemonsets = [models.daemonset(daemonset, image)]
    assert lab.network_policy_enforced() is enforced
    item = next(i for i in lab.doctor() if i.name == "NetworkPolicy enforcement")
    assert item.ok is enforced
    if enforced is False:
        assert "kind >= v0.24" in item.fix


def test_network_policy_enforced_is_unknown_when_the_cluster_does_not_answer(lab, cluster, fakes):
    cluster.backend.clients.version = fakes.Version(error=ApiException(status=503, reason="Service Unavailable"))
    assert lab.network_policy_enforced() is None
