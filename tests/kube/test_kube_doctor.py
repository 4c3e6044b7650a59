"""doctor(): each finding about the cluster, with the command that fixes a failed one."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from labkit.kube.doctor import image_tag


def by_name(items):
    return {i.name: i for i in items}


def test_healthy_cluster(backend):
    mesh = "accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: ALLOW_ANY\n"
    backend.clients.core.configmaps[("istio-system", "istio")] = k8s.V1ConfigMap(data={"mesh": mesh})
    items = by_name(backend.doctor())
    assert items["kube context"].ok and items["kube context"].detail == "kind-labs (kind cluster)"
    assert (items["Kubernetes"].ok, items["Kubernetes"].detail) == (True, "v1.31.0")
    assert (items["Istio"].ok, items["Istio"].detail) == (True, "1.24.2 (istiod)")
    assert items["egress gateway"].ok and "istio-egressgateway-7f9c" in items["egress gateway"].detail
    assert (items["access logging"].ok, items["access logging"].detail) == (
        True,
        "meshConfig.accessLogFile=/dev/stdout",
    )
    assert (items["outbound traffic policy"].ok, items["outbound traffic policy"].detail) == (True, "ALLOW_ANY")
    assert items["leftovers"].ok is True and "app.kubernetes.io/managed-by=labkit" in items["leftovers"].detail
    assert items["NetworkPolicy enforcement"].ok is True
    assert "kind >= v0.24" in items["NetworkPolicy enforcement"].detail
    assert all(not i.fix for i in items.values())


def test_missing_egress_gateway_comes_with_its_fix(backend):
    backend.clients.core.pods = []
    item = by_name(backend.doctor())["egress gateway"]
    assert item.ok is False
    assert "no pods labelled istio=egressgateway in namespace istio-system" in item.detail
    assert "istioctl install" in item.fix and "components.egressGateways[0].enabled=true" in item.fix


def test_unready_egress_gateway_says_how_to_look(backend, models):
    backend.clients.core.pods = [
        models.pod(
            "istio-egressgateway-7f9c",
            namespace="istio-system",
            labels={"istio": "egressgateway"},
            ready={"istio-proxy": False},
        )
    ]
    item = by_name(backend.doctor())["egress gateway"]
    assert item.ok is False and "'istio-proxy' is not ready" in item.detail
    assert item.fix.startswith("kubectl --context kind-labs -n istio-system describe pod istio-egressgateway-7f9c")


def test_missing_istiod(backend):
    backend.clients.apps.deployments = []
    item = by_name(backend.doctor())["Istio"]
    assert item.ok is False and item.fix == "istioctl install -y --set profile=demo"


def test_access_logging_off_and_default_outbound_policy(backend):
    backend.clients.core.configmaps[("istio-system", "istio")] = k8s.V1ConfigMap(data={"mesh": "defaultConfig: {}\n"})
    items = by_name(backend.doctor())
    assert items["access logging"].ok is False
    assert "meshConfig.accessLogFile=/dev/stdout" in items["access logging"].fix
    assert items["outbound traffic policy"].detail.startswith("ALLOW_ANY")


def test_access_logging_through_a_telemetry_resource(backend, dynamic):
    backend.clients.core.configmaps[("istio-system", "istio")] = k8s.V1ConfigMap(data={"mesh": "{}"})
    dynamic.kinds[("telemetry.istio.io/v1", "Telemetry")] = True
    backend.objects.apply(
        [
            {
                "apiVersion": "telemetry.istio.io/v1",
                "kind": "Telemetry",
                "metadata": {"name": "mesh-default", "namespace": "istio-system"},
                "spec": {"accessLogging": [{"providers": [{"name": "envoy"}]}]},
            }
        ]
    )
    item = by_name(backend.doctor())["access logging"]
    assert item.ok is True and "Telemetry istio-system/mesh-default" in item.detail


def test_no_istio_configmap(backend):
    backend.clients.core.configmaps.clear()
    items = by_name(backend.doctor())
    for name in ("access logging", "outbound traffic policy"):
        assert items[name].ok is False
        assert "Istio is not installed" in items[name].detail
        assert items[name].fix == "istioctl install -y --set profile=demo"


def test_old_kindnet_does_not_enforce_network_policy(backend, models):
    backend.clients.apps.daemonsets = [models.daemonset("kindnet", "docker.io/kindest/kindnetd:v20240513-cd2ac642")]
    item = by_name(backend.doctor())["NetworkPolicy enforcement"]
    assert item.ok is False
    assert "kind create cluster --name labs" in item.fix


@pytest.mark.parametrize(
    ("daemonsets", "ok", "words"),
    [
        ([("calico-node", "docker.io/calico/node:v3.28.0")], True, "Calico"),
        ([("cilium", "quay.io/cilium/cilium:v1.16.0")], True, "Cilium"),
        ([("kube-flannel-ds", "docker.io/flannel/flannel:v0.25.0")], None, "unknown"),
    ],
)
def test_other_cnis(backend, models, daemonsets, ok, words):
    backend.clients.apps.daemonsets = [models.daemonset(n, image) for n, image in daemonsets]
    item = by_name(backend.doctor())["NetworkPolicy enforcement"]
    assert item.ok is ok and words in item.detail


def test_unreachable_cluster_skips_the_rest(backend, fakes):
    backend.clients.version = fakes.Version(error=ApiException(status=0, reason="Connection refused"))
    items = backend.doctor()
    assert items[1].name == "Kubernetes" and items[1].ok is False
    assert "Connection refused" in items[1].detail
    assert "kubectl --context kind-labs cluster-info" in items[1].fix
    assert "docker start labs-control-plane" in items[1].fix
    assert [i.ok for i in items[2:]] == [None] * 6


def test_a_failing_check_does_not_sink_the_report(backend):
    def broken(*args, **kwargs):
        raise ApiException(status=403, reason="Forbidden")

    backend.clients.apps.list_daemon_set_for_all_namespaces = broken
    items = by_name(backend.doctor())
    assert items["NetworkPolicy enforcement"].ok is False
    assert "403 Forbidden" in items["NetworkPolicy enforcement"].detail
    assert items["Istio"].ok is True


def test_image_tag():
    assert image_tag("docker.io/istio/pilot:1.24.2") == "1.24.2"
    assert image_tag("localhost:5000/istio/pilot:1.24.2-distroless") == "1.24.2-distroless"
    assert image_tag("gcr.io/istio-release/pilot@sha256:abc") == "latest"
    assert image_tag("istio/pilot:1.23.0@sha256:abc") == "1.23.0"


def test_registry_only_left_by_a_lab_is_a_problem_fixed_by_reset(backend):
    # The fixture's mesh is REGISTRY_ONLY, as a lab that stopped halfway leaves it; lab 01 starts from ALLOW_ANY.
    item = by_name(backend.doctor())["outbound traffic policy"]
    assert item.ok is False and item.detail.startswith("REGISTRY_ONLY")
    assert item.fix == "labkit reset"


def test_leftovers_are_found_by_label_across_kinds(backend, dynamic):
    dynamic.kinds[("networking.istio.io/v1", "VirtualService")] = True
    labels = {"app.kubernetes.io/managed-by": "labkit", "labkit.io/lab": "01-external-access"}
    backend.objects.apply(
        [
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "ServiceEntry",
                "metadata": {"name": "cnn", "namespace": "default", "labels": labels},
                "spec": {"hosts": ["edition.cnn.com"]},
            },
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": {"name": "cnn", "namespace": "default", "labels": labels},
                "spec": {"hosts": ["edition.cnn.com"]},
            },
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab04", "labels": labels}},
            # Not labkit's: someone else's object with the same kind stays out of the report.
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "ServiceEntry",
                "metadata": {"name": "theirs", "namespace": "default", "labels": {"team": "x"}},
                "spec": {"hosts": ["example.com"]},
            },
        ]
    )
    item = by_name(backend.doctor())["leftovers"]
    assert item.ok is False and item.fix == "labkit reset"
    assert item.detail.startswith("3 object(s) from an earlier lab run")
    for name in ("VirtualService/default/cnn", "ServiceEntry/default/cnn", "Namespace/lab04"):
        assert name in item.detail
    assert "theirs" not in item.detail
    # Listed by label selector, not fetched whole and filtered here.
    lists = [c for c in dynamic.calls if c[0] == "get" and c[2] is None and c[1] in ("ServiceEntry", "Namespace")]
    assert lists and {c[4]["label_selector"] for c in lists} == {"app.kubernetes.io/managed-by=labkit"}
