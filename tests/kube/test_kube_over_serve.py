"""The kube backend's config-sync wait and ``proxy_config`` over the wire, against ``labkit serve``.

``labkit serve`` puts the simulator behind the Kubernetes API; its proxies see new Istio config about a
second after it is written, and its istiod pod answers ``pilot-discovery request GET /debug/syncz``. So a
request sent right after a change shows whether the backend waited for the push: without the wait the
first try meets the old config.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from labkit import Lab, lab_file
from labkit.kube import KubeBackend
from labkit.serve import ApiServer

HTTP_HOST = "httpbin.org"


@pytest.fixture
def server() -> Iterator[ApiServer]:
    with ApiServer() as running:
        yield running


@pytest.fixture
def kubeconfig(server: ApiServer, tmp_path: Path) -> Path:
    return server.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def lab(kubeconfig: Path) -> Iterator[Lab]:
    driver = KubeBackend(kubeconfig=str(kubeconfig))
    lab = Lab(driver, name="sync-wire", console=Console(file=io.StringIO(), width=200))
    lab.deploy_client()
    yield lab
    driver.close()


def test_the_first_request_after_registry_only_is_already_blocked(lab: Lab) -> None:
    # istio.io, Egress control > Accessing external services: with outboundTrafficPolicy REGISTRY_ONLY an
    # HTTPS request to an unregistered host fails, `command terminated with exit code 35`.
    assert lab.curl("https://www.baidu.com", "-sSI").exit_code == 0
    lab.set_outbound_policy("REGISTRY_ONLY")
    r = lab.curl("https://www.baidu.com", "-sSI")
    assert r.exit_code == 35
    assert lab.driver.config_sync.notes == []  # type: ignore[attr-defined]
    lab.cleanup()


def test_the_timeout_rule_holds_for_the_first_slow_request(lab: Lab) -> None:
    # istio.io, Accessing external services > Manage traffic to external services: with `timeout: 3s` on
    # httpbin.org, `curl http://httpbin.org/delay/5` gets 504 (Gateway Timeout) after about 3 seconds.
    lab.apply(lab_file("01-external-access", "serviceentry-http.yaml"), name="httpbin-ext", host=HTTP_HOST)
    assert lab.curl(f"http://{HTTP_HOST}/headers", "-sS", "-o", "/dev/null").status == 200
    lab.apply(
        lab_file("01-external-access", "virtualservice-timeout.yaml"), name="httpbin-ext", host=HTTP_HOST, timeout="3s"
    )
    r = lab.curl(f"http://{HTTP_HOST}/delay/5", "-sS", "-o", "/dev/null")
    assert r.status == 504
    assert lab.driver.config_sync.notes == []  # type: ignore[attr-defined]
    lab.cleanup()


def test_proxy_config_comes_from_the_proxys_own_dump(lab: Lab, server: ApiServer) -> None:
    # istio.io, Debugging Envoy and Istiod: a sidecar's listeners include virtualOutbound (0.0.0.0:15001),
    # and clusters are named outbound|<port>|<subset>|<host>; istio.io, Monitoring blocked and passthrough
    # external service traffic: the sidecar has BlackHoleCluster and PassthroughCluster.
    listeners = lab.proxy_config("listeners")
    assert listeners["@type"] == "type.googleapis.com/envoy.admin.v3.ListenersConfigDump"
    assert "virtualOutbound" in {item["name"] for item in listeners["dynamic_listeners"]}
    clusters = {item["cluster"]["name"] for item in lab.proxy_config("clusters")["dynamic_active_clusters"]}
    assert {"PassthroughCluster", "BlackHoleCluster"} <= clusters
    assert f"outbound|80||{HTTP_HOST}" not in clusters

    lab.apply(lab_file("01-external-access", "serviceentry-http.yaml"), name="httpbin-ext", host=HTTP_HOST)
    lab.curl(f"http://{HTTP_HOST}/headers", "-sS")  # waits until the proxy holds the ServiceEntry
    clusters = {item["cluster"]["name"] for item in lab.proxy_config("clusters")["dynamic_active_clusters"]}
    assert f"outbound|80||{HTTP_HOST}" in clusters
    lab.cleanup()


# -- the same query with the real kubectl


def _kubectl() -> str | None:
    for candidate in (os.environ.get("KUBECTL"), shutil.which("kubectl"), "/usr/bin/kubectl"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def test_kubectl_exec_pilot_discovery_request_syncz(lab: Lab, kubeconfig: Path, tmp_path: Path) -> None:
    # pilot/pkg/xds/debug.go (Syncz): one SyncStatus per connected proxy, ID "<pod>.<namespace>", with the
    # nonce sent and acked per xDS type; istioctl proxy-status shows SYNCED when they match.
    kubectl = _kubectl()
    if kubectl is None:
        if os.environ.get("CI") == "true":
            pytest.fail("no kubectl: under CI it is required")
        pytest.skip("no kubectl on this machine")
    istiod = lab.pods("istio-system", "app=istiod")[0]["metadata"]["name"]
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}
    done = subprocess.run(
        [kubectl, "exec", "-n", "istio-system", istiod, "--", "pilot-discovery", "request", "GET", "/debug/syncz"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    entries = {e["proxy"]: e for e in json.loads(done.stdout)}
    client = entries[f"{lab.client_pod()}.default"]
    assert client["proxy_type"] == "sidecar"
    assert client["cluster_sent"] == client["cluster_acked"] != ""
    gateways = [e for e in entries.values() if e["proxy"].startswith("istio-egressgateway-")]
    assert [g["proxy_type"] for g in gateways] == ["router"]


def test_explain_follows_the_request_through_the_egress_gateway(lab: Lab) -> None:
    # istio.io, Egress Gateways (HTTP): the sidecar routes edition.cnn.com to the gateway's subset `cnn`, and
    # the gateway's access log shows the request leaving through outbound|80||edition.cnn.com.
    params = {"host": "edition.cnn.com", "istio_namespace": "istio-system", "gateway_label": "egressgateway"}
    for name in (
        "serviceentry-http.yaml",
        "gateway-http.yaml",
        "destinationrule-gateway.yaml",
        "virtualservice-http.yaml",
    ):
        lab.apply(lab_file("03-egress-gateway", name), **params)
    r = lab.curl("http://edition.cnn.com/politics", "-sS", "-o", "/dev/null")  # the first try: no retries
    assert r.status == 301
    sidecar, gateway = r.explain().traces[0].hops
    assert sidecar.where.startswith("sidecar of default/sleep-")
    assert "cluster: outbound|80|cnn|istio-egressgateway.istio-system.svc.cluster.local" in map(str, sidecar.steps)
    assert gateway.where.startswith("egress gateway istio-system/istio-egressgateway-")
    assert "cluster: outbound|80||edition.cnn.com" in map(str, gateway.steps)
    lab.cleanup()
