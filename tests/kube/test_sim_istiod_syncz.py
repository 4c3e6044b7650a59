"""The simulated istiod's ``pilot-discovery request GET /debug/syncz`` (``serve.istiod_debug``), which the kube
backend reads before a request when it runs against ``labkit serve``.

Expected shapes: pilot/pkg/xds/debug.go (``SyncStatus``: ``proxy`` is ``<pod>.<namespace>``, ``proxy_type``,
``cluster_id``, ``istio_version``, ``<type>_sent``/``<type>_acked``); SYNCED/STALE as istioctl proxy-status
reads them (istioctl/pkg/writer/pilot/status.go); which proxies a kind reaches: pilot/pkg/xds/proxy_dependencies.go.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from labkit import Lab, lab_file
from labkit.kube.syncstate import parse
from labkit.sim import SimBackend

SYNCZ = ["pilot-discovery", "request", "GET", "/debug/syncz"]


@pytest.fixture
def sim() -> SimBackend:
    return SimBackend()


@pytest.fixture
def lab(sim: SimBackend) -> Lab:
    lab = Lab(sim)
    lab.deploy_client()
    return lab


def istiod(sim: SimBackend) -> tuple[str, str]:
    pod = sim.list_objects("v1", "Pod", "istio-system", "app=istiod")[0]
    return pod["metadata"]["name"], pod["spec"]["containers"][0]["name"]


def syncz(sim: SimBackend) -> list[dict[str, Any]]:
    pod, container = istiod(sim)
    result = sim.exec("istio-system", pod, container, SYNCZ, 10)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def by_kind(sim: SimBackend) -> dict[str, Any]:
    """sidecar and router entries, parsed as the kube backend parses them."""
    found = parse(json.dumps(syncz(sim)))
    return {s.proxy_type: s for s in found.values()}


def test_every_running_proxy_is_listed_and_synced(lab: Lab, sim: SimBackend) -> None:
    entries = {e["proxy"]: e for e in syncz(sim)}
    client = f"{lab.client_pod()}.default"
    assert entries[client]["proxy_type"] == "sidecar"
    assert entries[client]["cluster_id"] == "Kubernetes" and entries[client]["istio_version"]
    assert [e["proxy_type"] for name, e in entries.items() if name.startswith("istio-egressgateway-")] == ["router"]
    assert all(p.synced for p in parse(json.dumps(list(entries.values()))).values())
    assert not any(name.startswith("istiod-") for name in entries)  # istiod runs no proxy


def test_a_write_is_stale_until_the_proxies_hold_it_then_synced_on_a_new_nonce(lab: Lab, sim: SimBackend) -> None:
    before = by_kind(sim)
    lab.apply(lab_file("01-external-access", "serviceentry-http.yaml"), name="httpbin-ext", host="httpbin.org")
    during = by_kind(sim)
    assert not during["sidecar"].synced and during["sidecar"].status("cluster") == "STALE"
    sim.sleep(2)  # past the push delay
    after = by_kind(sim)
    assert after["sidecar"].synced and after["sidecar"].sent != before["sidecar"].sent
    assert after["router"].synced and after["router"].sent != before["router"].sent


def test_a_gateway_reaches_only_the_gateway(lab: Lab, sim: SimBackend) -> None:
    before = by_kind(sim)
    params = {"host": "edition.cnn.com", "istio_namespace": "istio-system", "gateway_label": "egressgateway"}
    lab.apply(lab_file("03-egress-gateway", "gateway-http.yaml"), **params)
    during = by_kind(sim)
    assert during["sidecar"] == before["sidecar"]
    assert not during["router"].synced
    sim.sleep(2)
    after = by_kind(sim)
    assert after["sidecar"] == before["sidecar"] and after["router"].sent != before["router"].sent


def test_other_debug_paths_and_commands_are_refused_by_name(lab: Lab, sim: SimBackend) -> None:
    pod, container = istiod(sim)
    configz = sim.exec("istio-system", pod, container, ["pilot-discovery", "request", "GET", "/debug/configz"], 10)
    assert configz.exit_code == 2 and "/debug/configz: not modelled" in configz.stderr
    version = sim.exec("istio-system", pod, container, ["pilot-discovery", "version"], 10)
    assert version.exit_code == 2 and "only `pilot-discovery request GET <path>` is modelled" in version.stderr
    # Only istiod's image has pilot-discovery: elsewhere it is not found (exit 127, as a shell reports it).
    elsewhere = sim.exec("default", lab.client_pod(), "sleep", SYNCZ, 10)
    assert elsewhere.exit_code == 127


def test_simulated_istiod_container_is_named_discovery(sim: SimBackend) -> None:
    # Istio's istiod chart names its one container "discovery"
    # (manifests/charts/istio-control/istio-discovery/templates/deployment.yaml).
    assert istiod(sim)[1] == "discovery"
