"""The egress gateway (lab 03). Expected values from istio.io's egress-gateway task: [301, 200]
through the gateway for HTTP, with outbound|80||edition.cnn.com in the gateway's log; 200 for
HTTPS with a TCP ("- - -") line to outbound|443||edition.cnn.com carrying the SNI."""

from __future__ import annotations

import pytest
from rich.console import Console

import labkit
from labkit import ExpectationFailed
from labkit.lab import Lab
from labkit.paths import lab_file

LAB = "03-egress-gateway"
PARAMS = {"host": "edition.cnn.com", "istio_namespace": "istio-system", "gateway_label": "egressgateway"}
GATEWAY = {"namespace": "istio-system", "selector": "istio=egressgateway"}


def apply(lab: Lab, *files: str, **overrides: str) -> None:
    for f in files:
        lab.apply(lab_file(LAB, f), **{**PARAMS, **overrides})
    lab.driver.sleep(2)


def test_http_goes_through_the_gateway(lab: Lab) -> None:
    apply(
        lab, "serviceentry-http.yaml", "gateway-http.yaml", "destinationrule-gateway.yaml", "virtualservice-http.yaml"
    )
    r = lab.curl("http://edition.cnn.com/politics", "-sSL", "-o", "/dev/null", "-D", "-")
    assert r.statuses == [301, 200]
    gateway_lines = [line for line in lab.logs(**GATEWAY) if "outbound|80||edition.cnn.com" in line]
    assert gateway_lines and '"GET /politics HTTP/2" 301' in gateway_lines[-1]
    client = [
        line for line in lab.logs() if "outbound|80|cnn|istio-egressgateway.istio-system.svc.cluster.local" in line
    ]
    assert client, "the client sidecar sent the request to the gateway"
    hops = [hop.where for hop in r.traces[0].hops]
    assert hops[1].startswith("sidecar of") and hops[2].startswith("egress gateway")
    assert hops[3] == "external host edition.cnn.com (203.0.113.30:80)"


def test_without_the_gateway_route_the_gateway_answers_404(lab: Lab) -> None:
    """A Gateway server with no VirtualService route for the host: Envoy's route table has no match,
    so the gateway answers 404 with response flag NR (Envoy: NR, no route configured)."""
    apply(
        lab,
        "serviceentry-http.yaml",
        "gateway-http.yaml",
        "destinationrule-gateway.yaml",
        "virtualservice-http-mesh-only.yaml",
    )
    r = lab.curl("http://edition.cnn.com/politics", "-sSL", "-o", "/dev/null", "-D", "-")
    assert r.statuses == [404]
    assert any(" NR route_not_found " in line for line in lab.logs(**GATEWAY))


def test_https_passes_through_the_gateway_by_sni(lab: Lab) -> None:
    apply(lab, "serviceentry-tls.yaml", "gateway-tls.yaml", "destinationrule-gateway.yaml", "virtualservice-tls.yaml")
    r = lab.curl("https://edition.cnn.com/politics", "-sSL", "-o", "/dev/null", "-D", "-")
    assert r.statuses == [200]
    tcp = [line for line in lab.logs(**GATEWAY) if "outbound|443||edition.cnn.com" in line]
    assert tcp and '"- - -" 0' in tcp[-1] and " edition.cnn.com " in tcp[-1]


def test_a_gateway_whose_selector_matches_nothing_leaves_the_gateway_without_listeners(lab: Lab) -> None:
    """The sidecar still routes to the gateway Service, but the gateway pod has no listener:
    the connection is refused and the client's sidecar answers 503 with flag UF (upstream
    connection failure), as istio.io's "Traffic management problems" page describes for 503 UF.
    Istio's default retry policy retries connect failures twice (route/retry DefaultPolicy), so Envoy
    adds URX once they are used up (istio/istio#17139's logs show both flags); Envoy 1.40 prints them in
    the order its router sets them, "URX,UF", as tests/conformance sees from a real Envoy."""
    apply(lab, "serviceentry-http.yaml", "destinationrule-gateway.yaml", "virtualservice-http.yaml")
    apply(lab, "gateway-http.yaml", gateway_label="no-such-gateway")
    r = lab.curl("http://edition.cnn.com/politics", "-sS")
    assert r.status == 503
    assert "no Gateway resource selecting this pod" in str(r.explain())
    assert any(" 503 URX,UF " in line for line in lab.logs())


def test_registry_only_without_a_service_entry_blocks_http_with_502(lab: Lab) -> None:
    """istio.io egress-control: REGISTRY_ONLY answers unknown HTTP hosts with 502."""
    lab.set_outbound_policy("REGISTRY_ONLY")
    apply(lab, "gateway-http.yaml", "destinationrule-gateway.yaml", "virtualservice-http.yaml")
    assert lab.curl("http://edition.cnn.com/politics", "-sS").status == 502


def test_preflight_fails_without_an_egress_gateway() -> None:
    lab = labkit.connect(
        backend="sim", sim_options={"egress_gateway": False}, cleanup_on_error=False, console=Console(quiet=True)
    )
    with pytest.raises(ExpectationFailed) as err:
        lab.require_egress_gateway()
    assert "egress_gateway=True" in err.value.check.hint


def test_preflight_passes_on_the_default_mesh(lab: Lab) -> None:
    assert lab.require_egress_gateway().startswith("istio-egressgateway-")


def test_log_contains_waits_for_the_new_route_not_just_the_same_status(lab: Lab) -> None:
    for f in (
        "serviceentry-http.yaml",
        "gateway-http.yaml",
        "destinationrule-gateway.yaml",
        "virtualservice-http.yaml",
    ):
        lab.apply(lab_file(LAB, f), **PARAMS)  # no settling: the config is still on its way
    r = lab.verify_curl(
        "http://edition.cnn.com/politics",
        "-sSL",
        statuses=[301, 200],
        log_contains="outbound|80||edition.cnn.com",
        log_source=GATEWAY,
    )
    assert r.statuses == [301, 200]
    assert lab.checks[-1].attempts >= 2, "the first request went direct, before the push"
