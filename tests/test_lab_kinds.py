"""``lab.get`` with a kind the API does not serve raises, naming the kind; a missing object is still None.

The message follows kubectl's for a kind the server lacks: ``the server doesn't have a resource type
"%s"`` (and ``... in group "%s" and version "%s"`` when the apiVersion names them): kubectl's
``checkErr`` for a ``NoResourceMatchError`` (kubernetes/kubectl, pkg/cmd/util/helpers.go).
"""

from __future__ import annotations

import re

import pytest
from rich.console import Console

import labkit
from labkit import LabkitError
from labkit.errors import UnknownKind

ISTIO = "networking.istio.io/v1"  # ServiceEntry's apiVersion (istio.io reference: networking/service-entry)


@pytest.fixture(scope="module")
def lab() -> labkit.Lab:
    return labkit.connect(backend="sim", lab="test", console=Console(quiet=True), cleanup_on_error=False)


def test_a_misspelt_kind_names_the_kind_and_the_closest_one(lab: labkit.Lab) -> None:
    with pytest.raises(UnknownKind, match='resource type "ServiceEntri"') as caught:
        lab.get("ServiceEntri", "x", "default", ISTIO)
    assert "did you mean 'ServiceEntry'?" in caught.value.hint
    assert isinstance(caught.value, LabkitError) and isinstance(caught.value, ValueError)


def test_a_kind_without_its_api_version_says_which_to_pass(lab: labkit.Lab) -> None:
    # ServiceEntry is served only by networking.istio.io (v1, v1beta1, v1alpha3; Istio's CRDs), never by core v1.
    with pytest.raises(UnknownKind, match='"ServiceEntry" in version "v1"') as caught:
        lab.get("ServiceEntry", "x", "default")
    assert f"pass api_version={ISTIO!r}" in caught.value.hint
    # Deployment is apps/v1 (Kubernetes API reference: Deployment v1 apps).
    with pytest.raises(UnknownKind, match=re.escape("api_version='apps/v1'")):
        lab.get("Deployment", "sleep", "default")


def test_a_misspelt_kind_in_a_group_names_group_and_version(lab: labkit.Lab) -> None:
    where = '"VirtualServce" in group "networking.istio.io" and version "v1"'
    with pytest.raises(UnknownKind, match=re.escape(where)) as caught:
        lab.get("VirtualServce", "x", "default", ISTIO)
    assert "did you mean 'VirtualService'?" in caught.value.hint


def test_a_valid_kind_whose_object_is_missing_is_none(lab: labkit.Lab) -> None:
    assert lab.get("ServiceEntry", "no-such-entry", "default", ISTIO) is None
    assert lab.get("Namespace", "no-such-namespace") is None
    # Gateway is both an Istio kind and a Gateway API kind; each group serves it.
    assert lab.get("Gateway", "no-such-gateway", "default", "gateway.networking.k8s.io/v1") is None
    assert lab.get("Gateway", "no-such-gateway", "default", "networking.istio.io/v1beta1") is None
    assert lab.get("Namespace", "default")["metadata"]["name"] == "default"  # an existing object: as stored


def test_a_kind_nothing_resembles_says_how_to_list_the_kinds(lab: labkit.Lab) -> None:
    with pytest.raises(UnknownKind) as caught:
        lab.get("Zzqx", "x")
    assert "did you mean" not in caught.value.hint and "Istio's networking kinds" in caught.value.hint


def test_a_namespaced_kind_defaults_to_the_default_namespace(lab: labkit.Lab) -> None:
    # kubectl reads namespaced objects from the context's namespace, "default" unless set
    # (kubernetes.io, Namespaces: "Setting the namespace preference"); lab.apply defaults to it as well.
    lab.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: in-default}\n", show=False)
    assert lab.get("ConfigMap", "in-default")["metadata"]["namespace"] == "default"
    assert lab.get("ConfigMap", "in-default", "kube-system") is None
    lab.cleanup()


def test_a_cluster_scoped_kind_refuses_a_namespace(lab: labkit.Lab) -> None:
    # Namespaces themselves are not in a namespace (kubernetes.io, Namespaces: "Not all objects are in a namespace").
    with pytest.raises(LabkitError, match="cluster-scoped"):
        lab.get("Namespace", "default", namespace="default")
