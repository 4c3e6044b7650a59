"""Behaviour of Istio fields the simulator reads that no lab test proves on its own.

Each test is the evidence that lib/labkit/sim/coverage.yaml names for a ``modelled`` field; each
expected result cites the Istio or Envoy reference it comes from.
"""

from __future__ import annotations

from typing import Any

from labkit import manifests
from labkit.lab import Lab
from labkit.paths import lab_file

EGRESS = "03-egress-gateway"
PARAMS = {"host": "edition.cnn.com", "istio_namespace": "istio-system", "gateway_label": "egressgateway"}
GATEWAY_PODS = {"namespace": "istio-system", "selector": "istio=egressgateway"}


def lab_docs(name: str, **overrides: str) -> list[dict[str, Any]]:
    return manifests.load(lab_file(EGRESS, name), {**PARAMS, **overrides})


def test_a_gateway_server_serves_only_its_hosts(lab: Lab) -> None:
    """Gateway ``servers[].hosts``: the hosts a server exposes; a VirtualService bound to the gateway is
    applied to a server only for hosts that match the server's (istio.io, Gateway reference: Server.hosts,
    and VirtualService reference: gateways). Here the server exposes another host, so the gateway's route
    table has no virtual host for edition.cnn.com and Envoy answers 404 with flag NR (Envoy access log
    reference: NR, no route configured)."""
    gateway = lab_docs("gateway-http.yaml")
    gateway[0]["spec"]["servers"][0]["hosts"] = ["other.example.com"]
    lab.apply(lab_docs("serviceentry-http.yaml") + gateway + lab_docs("destinationrule-gateway.yaml"))
    lab.apply(lab_docs("virtualservice-http.yaml"))
    lab.driver.sleep(2)
    r = lab.curl("http://edition.cnn.com/politics", "-sS", "-o", "/dev/null", "-D", "-")
    assert r.statuses == [404]
    assert any(" NR route_not_found " in line for line in lab.logs(**GATEWAY_PODS))
    # The same documents with the server exposing the host do reach it (istio.io egress-gateway task: 301).
    lab.apply(lab_docs("gateway-http.yaml"))
    lab.driver.sleep(2)
    assert lab.curl("http://edition.cnn.com/politics", "-sS", "-o", "/dev/null", "-D", "-").statuses == [301]


def test_resolution_none_sends_to_the_address_the_client_resolved(lab: Lab) -> None:
    """ServiceEntry ``resolution: NONE``: Istio assumes connections are already resolved to a specific IP
    and forwards them there (istio.io, ServiceEntry reference: Resolution NONE). So under REGISTRY_ONLY, where
    an unregistered TLS host is blackholed (istio.io egress-control task: curl fails with exit 35), a
    NONE entry lets the client's own DNS answer through, via the entry's cluster outbound|443||host."""
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.driver.sleep(2)
    assert lab.curl("https://www.baidu.com", "-sSI").exit_code == 35, "blocked before the entry exists"
    lab.apply(
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "ServiceEntry",
            "metadata": {"name": "baidu"},
            "spec": {
                "hosts": ["www.baidu.com"],
                "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
                "resolution": "NONE",
            },
        }
    )
    lab.driver.sleep(2)
    r = lab.curl("https://www.baidu.com", "-sSI")
    assert (r.exit_code, r.status) == (0, 200), r.stderr
    line = [x for x in lab.logs() if "outbound|443||www.baidu.com" in x]
    assert line, "the sidecar used the entry's cluster, not PassthroughCluster"
