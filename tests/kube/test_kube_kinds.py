"""``lab.get`` on a cluster: a kind API discovery does not list raises, naming the kind and the closest
served one; a served kind whose object is missing is None, as the API's 404 says.

Messages follow kubectl's for a kind the server lacks, ``the server doesn't have a resource type "%s"``
(kubectl's ``checkErr`` for a ``NoResourceMatchError``, kubernetes/kubectl pkg/cmd/util/helpers.go).
"""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from labkit import Lab
from labkit.errors import UnknownKind
from labkit.kinds import CLUSTER_LISTING


@pytest.fixture
def lab(cluster) -> Lab:
    return Lab(cluster.backend, name="kube-lab", console=Console(file=io.StringIO(), width=200))


def test_a_misspelt_kind_names_the_served_kind(lab, dynamic) -> None:
    with pytest.raises(UnknownKind, match='resource type "ServiceEntri"') as caught:
        lab.get("ServiceEntri", "x", "default", "networking.istio.io/v1")
    assert "did you mean 'ServiceEntry'?" in caught.value.hint and CLUSTER_LISTING in caught.value.hint


def test_a_kind_served_in_another_api_version_says_which(lab) -> None:
    with pytest.raises(UnknownKind, match=re.escape("api_version='networking.istio.io/v1'")):
        lab.get("ServiceEntry", "x", "default")  # the default apiVersion v1 does not serve it


def test_a_missing_object_of_a_served_kind_is_none(lab, dynamic) -> None:
    assert lab.get("ServiceEntry", "absent", "default", "networking.istio.io/v1") is None
    # the read reached the API: a 404 for the object, not a refusal before asking
    assert any(c[0] == "get" and c[1] == "ServiceEntry" and c[2] == "absent" for c in dynamic.calls)


def test_an_existing_object_is_returned_without_discovery(lab, dynamic, monkeypatch) -> None:
    lab.driver.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "default"}}])

    def no_discovery() -> list:
        raise AssertionError("discovery is only for the error path")

    monkeypatch.setattr(dynamic.resources, "search", no_discovery)
    assert lab.get("ConfigMap", "x", "default")["metadata"]["name"] == "x"


def test_delete_of_a_kind_discovery_lacks_names_the_kind_meant(lab) -> None:
    typo = "apiVersion: networking.istio.io/v1\nkind: ServiceEntri\nmetadata: {name: x}\n"
    with pytest.raises(UnknownKind, match="did you mean 'ServiceEntry'"):
        lab.delete(typo, namespace="default", show=False)
    # a served kind whose object is gone already: nothing deleted, no error
    gone = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: x}\n"
    assert lab.delete(gone, namespace="default", show=False) == []


def test_pods_in_a_namespace_that_does_not_exist_name_the_one_meant(lab) -> None:
    with pytest.raises(ValueError, match="did you mean 'default'"):
        lab.pods("defualt", "app=sleep")
    assert lab.pods("default", "app=no-such-app") == []
