"""Guard and reset on a real-cluster backend, checked at the Kubernetes client boundary (fakes)."""

from __future__ import annotations

from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException

from labkit import Lab, lab_file
from labkit.kube import KubeBackend
from labkit.snapshot import Guard, reset

SE_KEY = ("networking.istio.io/v1", "ServiceEntry", "default", "httpbin-ext")
CM_KEY = ("v1", "ConfigMap", "istio-system", "istio")


def _mesh(dynamic: Any) -> dict[str, Any]:
    return yaml.safe_load(dynamic.objects[CM_KEY]["data"]["mesh"])


def _half_a_lab(cluster: KubeBackend) -> Lab:
    """What lab 01 does before its kernel dies: a ServiceEntry and REGISTRY_ONLY, no cleanup."""
    lab = Lab(cluster, name="01-external-access")
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.apply(lab_file("01-external-access", "serviceentry-http.yaml"), name="httpbin-ext", host="httpbin.org")
    return lab


def test_guard_reports_what_a_dead_kernel_left_and_restores_it(cluster: KubeBackend, dynamic: Any) -> None:
    original = dynamic.objects[CM_KEY]["data"]["mesh"]
    guard = Guard(cluster)
    guard.snapshot()
    _half_a_lab(cluster)
    assert SE_KEY in dynamic.objects and _mesh(dynamic)["outboundTrafficPolicy"]["mode"] == "REGISTRY_ONLY"

    calls_before = len(dynamic.calls)
    report = guard.settle()

    assert report.left_behind == [
        "ServiceEntry/default/httpbin-ext (from lab 01-external-access) is still there",
        "mesh config: outboundTrafficPolicy.mode is REGISTRY_ONLY (was ALLOW_ANY)",
    ]
    assert report.not_restored == [] and report.error == ""
    assert not report.clean  # restored, but the lab still failed to clean up after itself
    assert report.actions == [
        "deleted ServiceEntry/default/httpbin-ext",
        "restored the mesh config in ConfigMap istio-system/istio",
    ]
    # The cluster is back: the object is gone and the ConfigMap holds the original text again.
    assert SE_KEY not in dynamic.objects
    assert dynamic.objects[CM_KEY]["data"]["mesh"] == original
    # ...through the API a kubectl user would use: a delete and a JSON merge patch.
    calls = dynamic.calls[calls_before:]
    assert ("delete", "ServiceEntry", "httpbin-ext", "default") in [c[:4] for c in calls]
    patch = next(c for c in calls if c[0] == "patch")
    assert patch[1:4] == ("ConfigMap", "istio", "istio-system")
    assert patch[4]["body"] == {"data": {"mesh": original}}
    assert patch[4]["content_type"] == "application/merge-patch+json"


def test_guard_is_clean_when_the_lab_cleaned_up(cluster: KubeBackend, dynamic: Any) -> None:
    guard = Guard(cluster)
    guard.snapshot()
    lab = _half_a_lab(cluster)
    lab.label_namespace("istio-system", {"istio": "system"})
    lab.cleanup()
    calls_before = len(dynamic.calls)
    report = guard.settle()
    assert report.clean and report.problems == []
    assert report.actions == []  # nothing to undo...
    assert not [c for c in dynamic.calls[calls_before:] if c[0] in ("delete", "patch")]  # ...and nothing touched


def test_an_object_that_does_not_go_away_is_reported_as_not_restored(cluster: KubeBackend, dynamic: Any) -> None:
    guard = Guard(cluster, timeout=0)  # no waiting: the fake namespace never finishes terminating
    guard.snapshot()
    Lab(cluster, name="04-network-policy").apply(lab_file("common", "namespace.yaml"), name="lab04")
    key = ("v1", "Namespace", None, "lab04")

    def stuck(*args: Any, **kwargs: Any) -> None:
        dynamic.objects[key]["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"

    original_get = dynamic.resources.get

    def resources_get(api_version: str, kind: str) -> Any:
        resource = original_get(api_version, kind)
        if kind == "Namespace":
            resource.delete = stuck
        return resource

    dynamic.resources.get = resources_get
    report = guard.settle()
    assert report.left_behind == ["Namespace/lab04 (from lab 04-network-policy) is still there"]
    assert report.not_restored == ["Namespace/lab04 (from lab 04-network-policy, terminating) is still there"]
    assert "not restored: Namespace/lab04 (from lab 04-network-policy, terminating) is still there" in report.problems


def test_guard_reports_an_api_failure_instead_of_raising(cluster: KubeBackend, dynamic: Any) -> None:
    guard = Guard(cluster)
    guard.snapshot()
    _half_a_lab(cluster)
    original_get = dynamic.resources.get

    def resources_get(api_version: str, kind: str) -> Any:
        resource = original_get(api_version, kind)
        if kind == "ServiceEntry":

            def forbidden(*args: Any, **kwargs: Any) -> None:
                raise ApiException(status=403, reason="Forbidden")

            resource.delete = forbidden
        return resource

    dynamic.resources.get = resources_get
    report = guard.settle()
    assert not report.clean
    assert report.error.startswith("could not restore the cluster: cannot delete ServiceEntry/default/httpbin-ext")
    assert "403" in report.error


def test_guard_without_a_snapshot_says_so(cluster: KubeBackend, dynamic: Any) -> None:
    def down(*args: Any, **kwargs: Any) -> None:
        raise ApiException(status=0, reason="Connection refused")

    dynamic.resources.get = down
    guard = Guard(cluster)
    guard.snapshot()
    report = guard.settle()
    assert not report.clean
    assert report.error.startswith("could not snapshot the cluster before the lab")


def test_reset_brings_a_cluster_back_to_where_the_labs_start(cluster: KubeBackend, dynamic: Any) -> None:
    _half_a_lab(cluster)
    lab04 = Lab(cluster, name="04-network-policy")
    lab04.apply(lab_file("common", "namespace.yaml"), name="lab04")
    lab04.label_namespace("istio-system", {"istio": "system"})
    lab04.label_namespace("kube-system", {"kube-system": "true"})
    # Kernels died: a fresh process knows nothing of the labs above, only what is in the cluster.

    report = reset(cluster)

    assert report.found == [
        "ServiceEntry/default/httpbin-ext (from lab 01-external-access) is still there",
        "Namespace/lab04 (from lab 04-network-policy) is still there",
        "mesh config: outboundTrafficPolicy.mode is REGISTRY_ONLY (was ALLOW_ANY)",
        "namespace istio-system: label istio=system was added",
        "namespace kube-system: label kube-system=true was added",
    ]
    assert report.clean and report.remaining == []
    assert SE_KEY not in dynamic.objects and ("v1", "Namespace", None, "lab04") not in dynamic.objects
    assert _mesh(dynamic) == {"accessLogFile": "/dev/stdout", "outboundTrafficPolicy": {"mode": "ALLOW_ANY"}}
    assert "istio" not in dynamic.objects[("v1", "Namespace", None, "istio-system")]["metadata"]["labels"]
    assert "kube-system" not in dynamic.objects[("v1", "Namespace", None, "kube-system")]["metadata"]["labels"]
    # default keeps its injection label: reset only removes what the labs add.
    assert dynamic.objects[("v1", "Namespace", None, "default")]["metadata"]["labels"]["istio-injection"] == "enabled"
    # Namespaces go last, after the objects that may live in them.
    deletes = [c[1] for c in dynamic.calls if c[0] == "delete"]
    assert deletes == ["ServiceEntry", "Namespace"]
    # The doctor agrees: nothing left over, policy back to ALLOW_ANY.
    items = {i.name: i for i in cluster.doctor()}
    assert items["leftovers"].ok is True


def test_reset_on_a_clean_cluster_changes_nothing(cluster: KubeBackend, dynamic: Any) -> None:
    report = reset(cluster)
    assert report.clean and report.found == [] and report.actions == []
    assert not [c for c in dynamic.calls if c[0] in ("delete", "patch", "server_side_apply")]
