"""The guard and ``labkit reset`` clean every kind a lab applied, not only the kinds the labs' files use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.kube import KubeBackend
from labkit.manifests import Ref, prepare
from labkit.serve import ApiServer
from labkit.sim import SimBackend
from labkit.snapshot import LABELLED_KINDS, Guard, find_managed, reset, search_kinds

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "stray", "namespace": "default"},
    "spec": {"containers": [{"name": "sleep", "image": "curlimages/curl:8.16.0", "command": ["sleep", "1d"]}]},
}
SIDECAR = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "Sidecar",
    "metadata": {"name": "egress-only", "namespace": "default"},
    "spec": {"egress": [{"hosts": ["./*", "istio-system/*"]}]},
}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KubeBackend]:
    """A kube backend on ``labkit serve``: the real client, API discovery included."""
    with ApiServer() as server:
        backend = KubeBackend(kubeconfig=str(server.write_kubeconfig(tmp_path / "kubeconfig")))
        try:
            yield backend
        finally:
            backend.close()


def labelled(*docs: dict[str, Any]) -> list[dict[str, Any]]:
    return prepare(list(docs), "default", "99-test")


def test_kinds_outside_the_fixed_list_are_really_outside_it() -> None:
    assert ("v1", "Pod") not in LABELLED_KINDS and ("networking.istio.io/v1", "Sidecar") not in LABELLED_KINDS


def test_the_guard_reports_and_deletes_a_pod_and_a_sidecar_a_lab_left(cluster: KubeBackend) -> None:
    guard = Guard(cluster, timeout=10)
    guard.snapshot()
    cluster.apply(labelled(POD, SIDECAR))
    report = guard.settle()
    assert not report.clean
    assert any("Pod/default/stray" in line for line in report.left_behind), report.left_behind
    assert any("Sidecar/default/egress-only" in line for line in report.left_behind), report.left_behind
    assert cluster.get(Ref("v1", "Pod", "default", "stray")) is None
    assert cluster.get(Ref("networking.istio.io/v1", "Sidecar", "default", "egress-only")) is None
    assert report.not_restored == []


def test_reset_deletes_a_labelled_pod(cluster: KubeBackend) -> None:
    cluster.apply(labelled(POD))
    report = reset(cluster, timeout=10)
    assert any("Pod/default/stray" in line for line in report.found), report.found
    assert report.clean
    assert cluster.get(Ref("v1", "Pod", "default", "stray")) is None


def test_without_discovery_the_guard_searches_the_kinds_the_lab_applied() -> None:
    sim = SimBackend()  # no API discovery: only the applied record names the extra kind
    guard = Guard(sim, timeout=1)
    guard.snapshot()
    sim.apply(labelled(POD))
    report = guard.settle(applied=[("v1", "Pod")])
    assert any("Pod/default/stray" in line for line in report.left_behind), report.left_behind
    assert sim.get(Ref("v1", "Pod", "default", "stray")) is None


def test_objects_a_controller_made_from_a_labelled_owner_are_left_to_their_owner() -> None:
    # https://kubernetes.io/docs/concepts/architecture/garbage-collection/ : dependents (objects with
    # ownerReferences) are deleted with their owner; Endpoints and EndpointSlices copy a Service's labels.
    owned = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "made-by-a-controller",
            "namespace": "default",
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "svc", "uid": "1"}],
        },
    }
    sim = SimBackend()
    sim.apply(labelled(owned, {**owned, "metadata": {"name": "applied", "namespace": "default"}}))
    found = {m.ref.name for m in find_managed(sim.list_objects)}
    assert found == {"applied"}


class Discovering:
    """A backend whose API discovery names a Service's derived kinds and a Pod."""

    def served_kinds(self) -> list[tuple[str, str]]:
        return [("v1", "Endpoints"), ("discovery.k8s.io/v1", "EndpointSlice"), ("v1", "Pod")]


def test_discovery_adds_pods_but_not_the_kinds_derived_from_services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABKIT_LABS_DIR", str(tmp_path))  # no labs: lab 07's lab.yaml lists the Endpoints it makes
    kinds = search_kinds(Discovering())  # type: ignore[arg-type]
    assert ("v1", "Pod") in kinds and kinds[-1] == ("v1", "Namespace")
    assert ("v1", "Endpoints") not in kinds and ("discovery.k8s.io/v1", "EndpointSlice") not in kinds


def test_the_namespace_labels_reset_removes_come_from_the_labs_own_lab_yaml() -> None:
    from labkit.snapshot import ISTIO_NAMESPACE, lab_namespace_labels

    # Lab 04 labels the Istio namespace and kube-system for its NetworkPolicy's namespaceSelector, and
    # says so in labs/04-network-policy/lab.yaml; no library code names these labels any more.
    labels = lab_namespace_labels()
    assert labels[ISTIO_NAMESPACE] == {"istio": "system"}
    assert labels["kube-system"] == {"kube-system": "true"}
