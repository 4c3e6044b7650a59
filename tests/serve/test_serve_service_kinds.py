"""``kubectl get`` of the Service kinds istio.io's "Kubernetes Services for Egress Traffic" task creates:
an ``ExternalName`` Service, and a Service without selector with its ``Endpoints``, through ``labkit serve``."""

from __future__ import annotations

import yaml

from labkit import manifests
from labkit.paths import lab_file

from .test_serve_kubectl import Kubectl, kubectl  # noqa: F401

LAB = "07-kubernetes-services"


def manifest(file: str, **params: str) -> str:
    return yaml.safe_dump_all(manifests.load(lab_file(LAB, file), params))


def test_an_external_name_service_shows_its_external_name_and_no_cluster_ip(kubectl: Kubectl) -> None:  # noqa: F811
    applied = kubectl("apply", "-f", "-", stdin=manifest("externalname-service.yaml", name="my-httpbin",
                                                         external_host="httpbin.org"))  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    row = kubectl("get", "svc", "my-httpbin", "--no-headers").stdout.split()
    # istio.io's task: NAME my-httpbin, TYPE ExternalName, CLUSTER-IP <none>, EXTERNAL-IP httpbin.org, PORT(S) 80/TCP
    assert row[:5] == ["my-httpbin", "ExternalName", "<none>", "httpbin.org", "80/TCP"]


def test_endpoints_of_a_service_without_selector_are_served_and_listed(kubectl: Kubectl) -> None:  # noqa: F811
    text = manifest("service-with-endpoints.yaml", name="my-wikipedia", address="203.0.113.50")
    applied = kubectl("apply", "-f", "-", stdin=text)
    # istio.io's task applies the Endpoints with kubectl, and its clean-up deletes them with kubectl.
    assert applied.returncode == 0 and "endpoints/my-wikipedia created" in applied.stdout, applied.stderr
    row = kubectl("get", "svc", "my-wikipedia", "--no-headers").stdout.split()
    assert row[1] == "ClusterIP" and row[2] != "<none>" and row[3:5] == ["<none>", "443/TCP"]
    # kubectl's Endpoints columns (Kubernetes printers.go formatEndpoints): NAME, ENDPOINTS as ip:port, AGE.
    assert kubectl("get", "endpoints", "my-wikipedia", "--no-headers").stdout.split()[:2] == [
        "my-wikipedia",
        "203.0.113.50:443",
    ]
    assert kubectl("delete", "endpoints", "my-wikipedia").returncode == 0
    assert kubectl("get", "ep", "my-wikipedia").returncode == 1


def test_an_endpoint_slice_is_served_with_kubectls_columns_and_deleted(kubectl: Kubectl) -> None:  # noqa: F811
    # The EndpointSlice form of a Service's endpoints outside the cluster (discovery.k8s.io/v1; Kubernetes
    # docs "EndpointSlices": kubernetes.io/service-name links it to its Service).
    slice_ = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "my-wikipedia-1", "labels": {"kubernetes.io/service-name": "my-wikipedia"}},
        "addressType": "IPv4",
        "ports": [{"name": "https", "port": 443, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["203.0.113.50"]}],
    }
    applied = kubectl("apply", "-f", "-", stdin=yaml.safe_dump(slice_))
    assert applied.returncode == 0 and "endpointslice.discovery.k8s.io/my-wikipedia-1 created" in applied.stdout
    # printers.go printEndpointSlice: NAME, ADDRESSTYPE, PORTS, ENDPOINTS, AGE.
    lines = kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=my-wikipedia").stdout.splitlines()
    assert lines[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert lines[1].split()[:4] == ["my-wikipedia-1", "IPv4", "443", "203.0.113.50"]
    assert kubectl("delete", "endpointslice", "my-wikipedia-1").returncode == 0
    assert kubectl("get", "endpointslices", "-o", "name").stdout == ""
