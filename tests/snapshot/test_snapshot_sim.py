"""Snapshot, compare and restore over the Backend protocol, on the simulator and on plain data."""

from __future__ import annotations

from labkit import Lab, lab_file
from labkit.manifests import Ref
from labkit.sim import SimBackend
from labkit.snapshot import (
    Managed,
    Snapshot,
    clean_up,
    differences,
    lab_start_state,
    left_behind,
    mesh_differences,
    reset,
    restore,
    take,
)


def _lab(sim: SimBackend) -> Lab:
    return Lab(sim, name="01-external-access")


def test_a_fresh_simulated_cluster_has_nothing_of_labkits(sim: SimBackend) -> None:
    snap = take(sim)
    assert snap.managed == ()
    assert snap.mesh is not None and "mode: ALLOW_ANY" in snap.mesh
    assert snap.configmap == Ref("v1", "ConfigMap", "istio-system", "istio")
    assert set(snap.labels) == {"istio-system", "kube-system", "default"}
    assert snap.labels["default"] is not None and snap.labels["default"]["kubernetes.io/metadata.name"] == "default"


def test_what_a_lab_leaves_is_reported_then_undone(sim: SimBackend) -> None:
    before = take(sim)
    lab = _lab(sim)
    lab.apply(lab_file("01-external-access", "serviceentry-http.yaml"), name="httpbin-ext", host="httpbin.org")
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.label_namespace("kube-system", {"kube-system": "true"})
    # The kernel "dies" here: no lab.cleanup().

    after = take(sim)
    assert [str(m) for m in after.managed] == ["ServiceEntry/default/httpbin-ext (from lab 01-external-access)"]
    assert left_behind(before, after) == [
        "ServiceEntry/default/httpbin-ext (from lab 01-external-access) is still there",
        "mesh config: outboundTrafficPolicy.mode is REGISTRY_ONLY (was ALLOW_ANY)",
        "namespace kube-system: label kube-system=true was added",
    ]

    done = clean_up(sim) + restore(sim, before)
    assert done == [
        "deleted ServiceEntry/default/httpbin-ext",
        "restored the mesh config in ConfigMap istio-system/istio",
        "restored the labels of namespace kube-system",
    ]
    assert differences(before, take(sim)) == []
    assert lab.outbound_policy() == "ALLOW_ANY"
    assert sim.get(Ref("networking.istio.io/v1", "ServiceEntry", "default", "httpbin-ext")) is None


def test_objects_that_were_there_before_are_not_blamed_on_the_lab(sim: SimBackend) -> None:
    lab = _lab(sim)
    lab.apply(lab_file("01-external-access", "serviceentry-http.yaml"), name="old", host="httpbin.org")
    before = take(sim)
    lab.apply(lab_file("01-external-access", "serviceentry-http.yaml"), name="new", host="httpbin.org")
    assert left_behind(before, take(sim)) == ["ServiceEntry/default/new (from lab 01-external-access) is still there"]
    # Cleanup by label takes both: labkit's objects never belong in a cluster between labs.
    clean_up(sim)
    assert take(sim).managed == ()


def test_a_lab_that_cleans_up_leaves_nothing(sim: SimBackend) -> None:
    before = take(sim)
    lab = _lab(sim)
    lab.apply(lab_file("01-external-access", "serviceentry-http.yaml"), name="httpbin-ext", host="httpbin.org")
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.cleanup()
    assert left_behind(before, take(sim)) == []
    assert clean_up(sim) == [] and restore(sim, before) == []


def test_reset_is_a_no_op_on_the_simulator(sim: SimBackend) -> None:
    _lab(sim).set_outbound_policy("REGISTRY_ONLY")
    report = reset(sim)
    assert report.clean and report.found == []
    assert report.actions == ["nothing to reset: the simulator starts fresh in every kernel"]
    assert _lab(sim).outbound_policy() == "REGISTRY_ONLY"  # untouched


def test_mesh_differences_name_each_setting_and_ignore_formatting() -> None:
    before = "accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: ALLOW_ANY\n"
    assert mesh_differences(before, "outboundTrafficPolicy: {mode: ALLOW_ANY}\naccessLogFile: /dev/stdout") == []
    assert mesh_differences(before, "outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\nenableTracing: true\n") == [
        "mesh config: accessLogFile was removed (was /dev/stdout)",
        "mesh config: enableTracing is True (was unset)",
        "mesh config: outboundTrafficPolicy.mode is REGISTRY_ONLY (was ALLOW_ANY)",
    ]
    assert mesh_differences(before, None) == ["the istio ConfigMap is gone"]


def test_terminating_objects_are_not_left_behind_but_still_checked_after_cleanup() -> None:
    ref = Ref("v1", "Namespace", None, "lab04")
    before = Snapshot(mesh="", labels={})
    after = Snapshot(mesh="", labels={}, managed=(Managed(ref, "04-network-policy", terminating=True),))
    assert left_behind(before, after) == []  # the lab deleted it; Kubernetes is finalising it
    assert differences(before, after) == ["Namespace/lab04 (from lab 04-network-policy, terminating) is still there"]


def test_lab_start_state_is_allow_any_without_lab_04_labels() -> None:
    snap = Snapshot(
        mesh="accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n",
        labels={
            "istio-system": {"istio": "system", "team": "mesh"},
            "kube-system": {"kube-system": "yes"},  # not the value lab 04 sets: someone else's label
            "default": {"istio-injection": "enabled"},
        },
        managed=(Managed(Ref("v1", "Namespace", None, "lab04")),),
    )
    target = lab_start_state(snap, "istio-system")
    assert target.managed == ()
    assert mesh_differences(snap.mesh, target.mesh) == [
        "mesh config: outboundTrafficPolicy.mode is ALLOW_ANY (was REGISTRY_ONLY)"
    ]
    assert target.labels == {
        "istio-system": {"team": "mesh"},
        "kube-system": {"kube-system": "yes"},
        "default": {"istio-injection": "enabled"},
    }
