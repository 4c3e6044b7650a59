"""NetworkPolicy against gateway bypass (lab 04), as istio.io's egress-gateway task describes it:
a pod without a sidecar times out under the policy; with a sidecar it goes through the gateway."""

from __future__ import annotations

from rich.console import Console

import labkit
from labkit.lab import Lab
from labkit.paths import lab_file

GW = {"host": "edition.cnn.com", "istio_namespace": "istio-system", "gateway_label": "egressgateway"}
NS = "test-egress"
URL = "https://edition.cnn.com/politics"
CURL = ("-sS", "-o", "/dev/null", "-w", "%{http_code}", "--connect-timeout", "5")


def setup(lab: Lab) -> None:
    for f in ("serviceentry-tls.yaml", "gateway-tls.yaml", "destinationrule-gateway.yaml", "virtualservice-tls.yaml"):
        lab.apply(lab_file("03-egress-gateway", f), **GW)
    lab.apply(lab_file("common", "namespace.yaml"), name=NS)
    lab.deploy_client(namespace=NS)
    lab.driver.sleep(2)


def block(lab: Lab) -> None:
    lab.label_namespace("istio-system", {"istio": "system"})
    lab.label_namespace("kube-system", {"kube-system": "true"})
    lab.apply(lab_file("04-network-policy", "networkpolicy.yaml"), namespace=NS)


def test_the_policy_makes_an_uninjected_pod_time_out(lab: Lab) -> None:
    setup(lab)
    assert lab.containers(NS) == ["sleep"]
    assert lab.curl(URL, *CURL, namespace=NS).status == 200, "no sidecar: straight out, past the gateway"
    block(lab)
    r = lab.curl(URL, *CURL, namespace=NS)
    assert (r.exit_code, r.status) == (28, None)
    assert r.elapsed == 5.0 and "Timeout was reached" in r.stderr
    assert "egress denied: NetworkPolicy allow-egress-to-istio-system-and-kube-dns" in str(r.explain())


def test_with_a_sidecar_the_request_goes_through_the_gateway(lab: Lab) -> None:
    setup(lab)
    block(lab)
    lab.label_namespace(NS, {"istio-injection": "enabled"})
    lab.restart("sleep", NS)
    assert lab.containers(NS) == ["sleep", "istio-proxy"]
    r = lab.curl(URL, *CURL, namespace=NS)
    assert r.exit_code == 35, "without the DestinationRule in test-egress the subset cnn does not exist here"
    lab.apply(lab_file("03-egress-gateway", "destinationrule-gateway.yaml"), namespace=NS, **GW)
    lab.driver.sleep(2)
    r = lab.curl(URL, *CURL, namespace=NS)
    assert r.status == 200
    gateway = lab.logs("istio-system", "istio=egressgateway")
    assert any("outbound|443||edition.cnn.com" in line for line in gateway)


def test_cleanup_removes_namespace_policy_and_labels(lab: Lab) -> None:
    setup(lab)
    block(lab)
    lab.cleanup()
    assert lab.get("Namespace", NS) is None
    assert "istio" not in lab.get("Namespace", "istio-system")["metadata"]["labels"]
    assert "kube-system" not in lab.get("Namespace", "kube-system")["metadata"]["labels"]
    assert lab.driver.list_objects("networking.k8s.io/v1", "NetworkPolicy") == []


def test_a_cluster_without_enforcement_lets_traffic_through_and_says_so() -> None:
    lab = labkit.connect(
        backend="sim",
        sim_options={"enforce_network_policy": False},
        cleanup_on_error=False,
        console=Console(quiet=True),
    )
    assert lab.network_policy_enforced() is False
    setup(lab)
    block(lab)
    assert lab.curl(URL, *CURL, namespace=NS).status == 200
    check = lab.not_applicable("blocked", "this cluster does not enforce NetworkPolicy")
    assert check.result == "N/A" and lab.report().passed
