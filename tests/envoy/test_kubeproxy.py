"""kube-proxy's Service rules on the envoy backend: the rules themselves (no root), then one live check
that a pod without a sidecar reaches a Service's endpoints through its cluster IP.

Sources: Kubernetes docs, "Virtual IPs and Service Proxies" (iptables mode: a connection to a Service's
cluster IP and port is sent to one backend chosen at random) and "Service" ("Services without
selectors": the endpoints are the addresses of the Endpoints object of the same name); Kubernetes
"Debug Services" (a Service with no endpoints refuses connections); curl's man page (exit 7: failed to
connect to host).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from rich.console import Console

import labkit
from labkit.envoy import kubeproxy, preflight
from labkit.lab import Lab
from labkit.sim.cluster import target_port

QUIET = Console(quiet=True)


def _svc(name: str, ip: str, ports: list[dict], kind: str = "ClusterIP") -> dict:
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {"type": kind, "clusterIP": ip, "ports": ports}}


def _endpoint(ip: str, ports: dict[str, int]) -> dict:
    containers = [{"ports": [{"name": n, "containerPort": p} for n, p in ports.items()]}]
    return {"metadata": {"labels": {}}, "spec": {"containers": containers}, "status": {"podIP": ip}}


def test_a_service_port_goes_to_one_of_its_endpoints_at_random() -> None:
    svc = _svc("web", "10.96.0.20", [{"name": "http", "port": 80, "targetPort": "web"}])
    eps = [_endpoint("10.244.0.31", {"web": 8080}), _endpoint("10.244.0.32", {"web": 8080})]
    ports = kubeproxy.service_ports([svc], lambda s: eps, target_port)
    text = kubeproxy.nat_input(ports, with_jump=True)
    rules = [line for line in text.splitlines() if line.startswith("-A KUBE-SERVICES")]
    # the first endpoint with probability 1/2, the last one for whatever is left (kube-proxy's spread)
    assert re.search(
        r"--dport 80 -m statistic --mode random --probability 0\.50* -j DNAT --to-destination 10\.244\.0\.31:8080$",
        rules[0],
    )
    assert rules[1].endswith("--dport 80 -j DNAT --to-destination 10.244.0.32:8080")
    assert "-A OUTPUT -j KUBE-SERVICES" in text.splitlines()


def test_a_service_without_endpoints_is_refused_and_dns_only_services_get_nothing() -> None:
    empty = _svc("empty", "10.96.0.21", [{"name": "http", "port": 80}])
    alias = _svc("alias", "", [{"name": "http", "port": 80}], kind="ExternalName")
    headless = _svc("headless", "None", [{"name": "http", "port": 80}])
    ports = kubeproxy.service_ports([empty, alias, headless], lambda s: [], target_port)
    assert [p.cluster_ip for p in ports] == ["10.96.0.21"]
    (reject,) = kubeproxy.reject_rules(ports)
    assert reject.startswith("-A OUTPUT -d 10.96.0.21/32 -p tcp")
    assert reject.endswith("-j REJECT --reject-with icmp-port-unreachable")
    table = kubeproxy.with_rejects(
        "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j DROP\nCOMMIT\n", [reject]
    )
    assert table.splitlines()[3] == reject  # before any policy rule


def test_a_protocol_it_does_not_build_is_refused_by_name() -> None:
    svc = _svc("sctp", "10.96.0.22", [{"name": "s", "port": 9, "protocol": "SCTP"}])
    with pytest.raises(kubeproxy.ServiceRuleError, match="protocol SCTP"):
        kubeproxy.service_ports([svc], lambda s: [], target_port)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    report = preflight.run()
    if not report.ok:
        pytest.skip("the envoy backend cannot run here: " + "; ".join(c.detail for c in report.failures()))
    lab = labkit.connect(backend="envoy", lab="test", cleanup_on_error=False, console=QUIET)
    try:
        yield lab
    finally:
        lab.driver.close()  # type: ignore[attr-defined]


def test_the_cluster_ip_of_a_service_without_selector_leads_to_its_endpoints(lab: Lab) -> None:
    plane = lab.driver.plane  # type: ignore[attr-defined]
    wikipedia = dict(plane.hosts)["en.wikipedia.org"]
    lab.apply(labkit.lab_file("common", "namespace.yaml"), name="plain")
    lab.deploy_client(namespace="plain")
    lab.apply(labkit.lab_file("07-kubernetes-services", "service-with-endpoints.yaml"), name="wiki", address=wikipedia)
    vip = lab.driver.get(labkit.manifests.Ref("v1", "Service", "default", "wiki"))["spec"]["clusterIP"]  # type: ignore[index]
    resolve = ("--resolve", f"en.wikipedia.org:443:{vip}")
    r = lab.curl(
        "https://en.wikipedia.org/wiki/Main_Page",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        *resolve,
        namespace="plain",
    )
    assert (r.exit_code, r.stdout) == (0, "200")  # istio.io's Kubernetes-services task loads this page
    lab.delete(labkit.lab_file("07-kubernetes-services", "service-with-endpoints.yaml"), name="wiki", address=wikipedia)
    lab.apply("apiVersion: v1\nkind: Service\nmetadata: {name: nobody}\nspec: {ports: [{port: 443, name: tls}]}\n")
    vip = lab.driver.get(labkit.manifests.Ref("v1", "Service", "default", "nobody"))["spec"]["clusterIP"]  # type: ignore[index]
    r = lab.curl("https://en.wikipedia.org/", "-sS", "--resolve", f"en.wikipedia.org:443:{vip}", namespace="plain")
    assert r.exit_code == 7, r.stderr  # refused at once, not a connect timeout (exit 28)
    lab.cleanup()
