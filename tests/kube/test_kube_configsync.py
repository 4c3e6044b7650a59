"""On kube, a request waits until istiod has pushed the mesh config labkit wrote and the proxy acknowledged it.

The cluster is the ``cluster`` fixture (conftest.py). ``Istiod`` stands in for ``kubernetes.stream.stream``:
``pilot-discovery request GET /debug/syncz`` in the istiod pod answers the next scripted ``/debug/syncz``
body, and a curl from the client is recorded with the number of syncz reads before it. The bodies have the
shape istiod gives them (pilot/pkg/xds/debug.go, ``SyncStatus``: ``proxy``, ``proxy_type``, ``cluster_id``,
``istio_version`` and ``<type>_sent``/``<type>_acked`` nonces, empty ones omitted).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from rich.console import Console

from labkit import Lab
from labkit.curl.remote import MARKER
from labkit.kube.configsync import POLL_INTERVAL, SYNC_TIMEOUT
from labkit.kube.syncstate import ROUTER, SIDECAR, SyncStateUnreadable, parse, reaches

ISTIOD_POD = "istiod-5d8c7b9f4-x2k1p"
CLIENT_POD = "sleep-6f8c"
GATEWAY_POD = "istio-egressgateway-7f9c"  # the ready gateway of the ``backend`` fixture
SUCCESS = '{"metadata":{},"status":"Success"}'
OLD, NEW = "5a0c5b53-2b4b-4b9b-9d0e-6a1b3f1c0001", "5a0c5b53-2b4b-4b9b-9d0e-6a1b3f1c0002"
TIMEOUT_VS = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "httpbin-ext"},
    "spec": {
        "hosts": ["httpbin.org"],
        "http": [{"timeout": "3s", "route": [{"destination": {"host": "httpbin.org"}}]}],
    },
}


def status(proxy: str, sent: str, acked: str, proxy_type: str = SIDECAR) -> dict[str, Any]:
    """One SyncStatus as istiod marshals it: every xDS type at the same nonces, empty fields omitted."""
    entry: dict[str, Any] = {
        "cluster_id": "Kubernetes",
        "proxy": proxy,
        "proxy_type": proxy_type,
        "istio_version": "1.27.1",
    }
    for xds in ("cluster", "listener", "endpoint", "route"):
        if sent:
            entry[f"{xds}_sent"] = sent
        if acked:
            entry[f"{xds}_acked"] = acked
    return entry


def client(sent: str, acked: str) -> dict[str, Any]:
    return status(f"{CLIENT_POD}.lab", sent, acked)


def gateway(sent: str, acked: str) -> dict[str, Any]:
    return status(f"{GATEWAY_POD}.istio-system", sent, acked, ROUTER)


class Istiod:
    """Answers exec streams: syncz reads from ``bodies`` (the last one repeats), curls with 200."""

    def __init__(self, ws_factory: Callable[..., Any], bodies: list[list[dict[str, Any]]]) -> None:
        self.ws_factory = ws_factory
        self.bodies = list(bodies)
        self.syncz_reads = 0
        self.execs: list[dict[str, Any]] = []
        #: for each curl, how many syncz reads came before it
        self.curls: list[int] = []

    def __call__(self, api_method: Callable, pod: str, namespace: str, **kwargs: Any):
        self.execs.append({"pod": pod, "namespace": namespace, **kwargs})
        command = kwargs["command"]
        if command[0] == "pilot-discovery":
            self.syncz_reads += 1
            body = self.bodies.pop(0) if len(self.bodies) > 1 else self.bodies[0]
            return self.ws_factory([{1: json.dumps(body, indent=4) + "\n"}, {3: SUCCESS}])
        self.curls.append(self.syncz_reads)
        return self.ws_factory([{1: f"HTTP/1.1 200 OK\r\n\r\n\n{MARKER} rc=0\n"}, {3: SUCCESS}])


@pytest.fixture
def output() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def lab(cluster, models, output) -> Lab:
    cluster.dynamic.kinds[("networking.istio.io/v1", "VirtualService")] = True
    cluster.core.pods += [
        models.pod(ISTIOD_POD, "istio-system", labels={"app": "istiod", "istio": "pilot"}, ready={"discovery": True}),
        models.pod(CLIENT_POD, "lab"),
    ]
    return Lab(cluster.backend, name="sync", console=Console(file=output, width=300))


def install(monkeypatch, ws_factory, bodies: list[list[dict[str, Any]]]) -> Istiod:
    istiod = Istiod(ws_factory, bodies)
    monkeypatch.setattr("labkit.kube.exec.stream", istiod)
    return istiod


def curl(lab: Lab) -> None:
    lab.curl("http://httpbin.org/delay/5", "-sS", client="sleep", namespace="lab")


# -- reading istiod's answer


def test_sync_status_per_type_follows_istioctl_proxy_status():
    # istioctl/pkg/writer/pilot/status.go (xdsStatus): nothing sent is NOT SENT, acked == sent is SYNCED,
    # anything else (an older nonce acked, or none) is STALE.
    body = [
        {"proxy": "a.default", "proxy_type": "sidecar", "cluster_sent": NEW, "cluster_acked": NEW, "route_sent": NEW},
        {"proxy": "b.default", "cluster_sent": NEW, "cluster_acked": OLD},
    ]
    found = parse(json.dumps(body))
    a, b = found["a.default"], found["b.default"]
    assert [a.status(t) for t in ("cluster", "listener", "route")] == ["SYNCED", "NOT SENT", "STALE"]
    assert not a.synced
    assert b.status("cluster") == "STALE" and not b.synced
    assert b.proxy_type == SIDECAR  # istiod before proxy_type was reported: sidecars (labs run no others)
    assert parse(json.dumps([client(NEW, NEW)]))[f"{CLIENT_POD}.lab"].synced


@pytest.mark.parametrize("text", ["404 page not found", '{"proxy": "a"}', '[{"cluster_sent": "x"}]'])
def test_an_answer_that_is_not_a_syncz_list_is_unreadable(text):
    with pytest.raises(SyncStateUnreadable):
        parse(text)


@pytest.mark.parametrize(
    ("api_version", "kind", "namespace", "name", "spec", "expected"),
    [
        # pilot/pkg/xds/proxy_dependencies.go, configKindAffectedProxyTypes: Gateway -> Router, Sidecar -> SidecarProxy
        ("networking.istio.io/v1", "Gateway", "default", "gw", {}, {ROUTER}),
        ("networking.istio.io/v1", "Sidecar", "default", "default", {}, {SIDECAR}),
        # VirtualService reference, gateways: omitted means the reserved "mesh" (every sidecar)
        ("networking.istio.io/v1", "VirtualService", "default", "vs", {}, {SIDECAR, ROUTER}),
        ("networking.istio.io/v1", "VirtualService", "default", "vs", {"gateways": ["istio-egressgateway"]}, {ROUTER}),
        ("networking.istio.io/v1", "VirtualService", "default", "vs", {"gateways": ["gw", "mesh"]}, {SIDECAR, ROUTER}),
        ("networking.istio.io/v1", "ServiceEntry", "default", "se", {}, {SIDECAR, ROUTER}),
        ("networking.istio.io/v1", "DestinationRule", "default", "dr", {}, {SIDECAR, ROUTER}),
        # the mesh config (ConfigMap istio in Istio's namespace) is every proxy's
        ("v1", "ConfigMap", "istio-system", "istio", None, {SIDECAR, ROUTER}),
        ("v1", "ConfigMap", "default", "istio", None, set()),
        ("apps/v1", "Deployment", "default", "sleep", None, set()),
        ("gateway.networking.k8s.io/v1", "Gateway", "default", "gw", {}, {ROUTER}),
        ("gateway.networking.k8s.io/v1", "HTTPRoute", "default", "r", {}, {SIDECAR, ROUTER}),
    ],
)
def test_which_proxies_a_write_reaches(api_version, kind, namespace, name, spec, expected):
    obj = None if spec is None else {"spec": spec}
    assert reaches(api_version, kind, namespace, name, obj) == frozenset(expected)


# -- the wait before a request


def test_a_request_after_a_virtual_service_waits_for_the_push_and_its_ack(lab, cluster, ws_factory, monkeypatch):
    # Lab 01's timeout rule (istio.io, Egress control > Accessing external services: a 3 s timeout makes
    # /delay/5 answer 504) must be on the proxy before the slow request. Istio pushes after a debounce and
    # Envoy acks afterwards (STALE in between: istioctl proxy-status), so the curl waits for a new nonce, acked.
    istiod = install(
        monkeypatch,
        ws_factory,
        [
            [client(OLD, OLD)],  # read before the write
            [client(OLD, OLD)],  # debouncing: istiod has sent nothing new yet
            [client(NEW, OLD)],  # pushed, not yet acknowledged
            [client(NEW, NEW)],
        ],
    )
    lab.apply([TIMEOUT_VS], namespace="lab")
    curl(lab)

    assert istiod.curls == [4]
    assert cluster.clock.sleeps == [POLL_INTERVAL, POLL_INTERVAL]
    syncz = [e for e in istiod.execs if e["command"][0] == "pilot-discovery"]
    assert {(e["pod"], e["namespace"], e["container"]) for e in syncz} == {(ISTIOD_POD, "istio-system", "discovery")}
    assert syncz[0]["command"] == ["pilot-discovery", "request", "GET", "/debug/syncz"]

    curl(lab)  # nothing new written: no wait, no read
    assert istiod.curls == [4, 4]
    assert lab.driver.config_sync.notes == []


def test_a_burst_of_writes_reads_istiod_once(lab, cluster, ws_factory, monkeypatch):
    istiod = install(monkeypatch, ws_factory, [[client(OLD, OLD)], [client(NEW, NEW)]])
    service_entry = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": "httpbin-ext"},
        "spec": {"hosts": ["httpbin.org"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}]},
    }
    lab.apply([service_entry], namespace="lab")
    lab.apply([TIMEOUT_VS], namespace="lab")
    lab.set_outbound_policy("REGISTRY_ONLY")
    assert istiod.syncz_reads == 1
    curl(lab)
    assert istiod.curls == [2]


def test_a_request_with_nothing_written_reads_nothing(lab, ws_factory, monkeypatch):
    istiod = install(monkeypatch, ws_factory, [[client(OLD, OLD)]])
    curl(lab)
    lab.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"}, "data": {}}], namespace="lab")
    curl(lab)
    assert istiod.syncz_reads == 0 and istiod.curls == [0, 0]


def test_the_outbound_policy_change_waits_like_any_mesh_config(lab, cluster, ws_factory, monkeypatch):
    # istio.io, Accessing external services: REGISTRY_ONLY is set in the mesh config (ConfigMap istio), which
    # istiod pushes to every proxy.
    istiod = install(monkeypatch, ws_factory, [[client(OLD, OLD)], [client(NEW, NEW)]])
    lab.set_outbound_policy("REGISTRY_ONLY")
    curl(lab)
    assert istiod.curls == [2] and cluster.clock.sleeps == []


def test_a_gateway_write_waits_for_the_gateway_not_the_sidecar(lab, cluster, ws_factory, monkeypatch):
    # proxy_dependencies.go: a Gateway is pushed to routers only, so the sidecar's nonce stays; the request
    # still passes the egress gateway, which must hold the new Gateway.
    gateway_doc = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "istio-egressgateway"},
        "spec": {"selector": {"istio": "egressgateway"}, "servers": []},
    }
    istiod = install(
        monkeypatch,
        ws_factory,
        [
            [client(OLD, OLD), gateway(OLD, OLD)],
            [client(OLD, OLD), gateway(NEW, OLD)],
            [client(OLD, OLD), gateway(NEW, NEW)],
        ],
    )
    lab.apply([gateway_doc], namespace="lab")
    curl(lab)
    assert istiod.curls == [3]
    assert cluster.clock.sleeps == [POLL_INTERVAL]


def test_a_push_that_never_comes_ends_the_wait_with_a_note(lab, cluster, ws_factory, monkeypatch, output):
    # istiod pushes a proxy only config it depends on (proxy_dependencies.go), at the latest after
    # PILOT_DEBOUNCE_MAX (10 s by default): a proxy with no new nonce by then was not concerned.
    istiod = install(monkeypatch, ws_factory, [[client(OLD, OLD)]])
    lab.apply([TIMEOUT_VS], namespace="lab")
    start = cluster.clock()
    curl(lab)
    assert len(istiod.curls) == 1
    # bounded: it stops polling before another poll would pass the timeout (each exec costs the fake 0.02 s)
    assert SYNC_TIMEOUT - POLL_INTERVAL <= cluster.clock() - start <= SYNC_TIMEOUT + 0.1
    (note,) = lab.driver.config_sync.notes
    assert f"{CLIENT_POD}.lab" in note and "within 10s" in note
    assert "note:" in output.getvalue()
    reads, slept = istiod.syncz_reads, len(cluster.clock.sleeps)
    curl(lab)  # given up on: the next request does not wait again
    assert (istiod.syncz_reads, len(cluster.clock.sleeps), len(istiod.curls)) == (reads, slept, 2)


def test_a_push_never_acknowledged_ends_the_wait_naming_it(lab, cluster, ws_factory, monkeypatch):
    # A proxy that rejects (NACKs) a push keeps acknowledging the old nonce: istioctl proxy-status shows STALE.
    istiod = install(monkeypatch, ws_factory, [[client(OLD, OLD)], [client(NEW, OLD)]])
    lab.apply([TIMEOUT_VS], namespace="lab")
    curl(lab)
    assert len(istiod.curls) == 1
    (note,) = lab.driver.config_sync.notes
    assert f"istiod pushed new config to {CLIENT_POD}.lab but it was not acknowledged within 10s" in note
    assert "CDS STALE" in note


def test_a_client_without_a_proxy_does_not_wait(lab, cluster, ws_factory, monkeypatch):
    # istiod lists only connected proxies (debug.go walks its xDS clients): no entry, no proxy to wait for.
    istiod = install(monkeypatch, ws_factory, [[client(OLD, OLD)], []])
    lab.apply([TIMEOUT_VS], namespace="lab")
    curl(lab)
    assert istiod.curls == [2] and cluster.clock.sleeps == []


def test_no_exec_rights_on_istiod_falls_back_with_one_note(lab, cluster, ws_factory, monkeypatch, output):
    curls: list[list[str]] = []

    def stream(api_method, pod, namespace, **kwargs):
        if kwargs["command"][0] == "pilot-discovery":
            raise ApiException(status=403, reason="Forbidden")
        curls.append(kwargs["command"])
        return ws_factory([{1: f"HTTP/1.1 200 OK\r\n\r\n\n{MARKER} rc=0\n"}, {3: SUCCESS}])

    monkeypatch.setattr("labkit.kube.exec.stream", stream)
    lab.apply([TIMEOUT_VS], namespace="lab")
    curl(lab)
    lab.set_outbound_policy("REGISTRY_ONLY")
    curl(lab)

    assert len(curls) == 2 and cluster.clock.sleeps == []
    (note,) = lab.driver.config_sync.notes
    assert "cannot read istiod's config sync state" in note and "Forbidden" in note
    assert output.getvalue().count("note:") == 1


def test_no_istiod_pod_falls_back_with_one_note(lab, cluster, ws_factory, monkeypatch):
    cluster.core.pods = [p for p in cluster.core.pods if p.metadata.name != ISTIOD_POD]
    istiod = install(monkeypatch, ws_factory, [[client(OLD, OLD)]])
    lab.apply([TIMEOUT_VS], namespace="lab")
    curl(lab)
    assert istiod.syncz_reads == 0 and istiod.curls == [0]
    (note,) = lab.driver.config_sync.notes
    assert "no running istiod pod (app=istiod) in namespace istio-system" in note


def test_an_istio_without_syncz_falls_back(lab, cluster, ws_factory, monkeypatch):
    # pilot/pkg/request: pilot-discovery prints a 404's body and exits 0; the body is then no syncz list.
    istiod = Istiod(ws_factory, [[]])

    def stream(api_method, pod, namespace, **kwargs):
        if kwargs["command"][0] == "pilot-discovery":
            return ws_factory([{1: "404 page not found\n\n"}, {3: SUCCESS}])
        return istiod(api_method, pod, namespace, **kwargs)

    monkeypatch.setattr("labkit.kube.exec.stream", stream)
    lab.apply([TIMEOUT_VS], namespace="lab")
    curl(lab)
    assert istiod.curls == [0]
    assert "did not answer JSON" in lab.driver.config_sync.notes[0]
