"""The one reader of Istio's mesh config, and the names it lives under."""

from __future__ import annotations

import pytest

from labkit.meshconfig import (
    DEFAULT_OUTBOUND_POLICY,
    MESH_CONFIGMAP,
    MESH_KEY,
    MeshConfigError,
    mesh_text,
    outbound_policy,
    parse_mesh,
)


def test_names_istiod_reads() -> None:
    # istio.io "Global Mesh Options": meshConfig is the `mesh` key of the `istio` ConfigMap in
    # istiod's namespace (kubectl -n istio-system get configmap istio -o jsonpath='{.data.mesh}').
    assert (MESH_CONFIGMAP, MESH_KEY) == ("istio", "mesh")


def test_parse_reads_the_mapping() -> None:
    mesh = parse_mesh("accessLogFile: /dev/stdout\noutboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n")
    assert mesh["accessLogFile"] == "/dev/stdout"
    assert outbound_policy(mesh) == "REGISTRY_ONLY"


def test_empty_text_is_an_empty_config_with_istio_defaults() -> None:
    # istio.mesh.v1alpha1 reference, OutboundTrafficPolicy.Mode: ALLOW_ANY is the default.
    assert DEFAULT_OUTBOUND_POLICY == "ALLOW_ANY"
    for text in ("", None, "# only a comment\n"):
        assert parse_mesh(text) == {}
    assert outbound_policy({}) == "ALLOW_ANY"
    assert outbound_policy({"outboundTrafficPolicy": {}}) == "ALLOW_ANY"


@pytest.mark.parametrize(("text", "message"), [("a: [1, 2", "not valid YAML"), ("- a\n- b\n", "holds a list")])
def test_text_that_is_not_a_mapping_is_refused(text: str, message: str) -> None:
    with pytest.raises(MeshConfigError, match=message):
        parse_mesh(text)


def test_mesh_text_of_a_configmap() -> None:
    assert mesh_text({"data": {"mesh": "a: 1"}}) == "a: 1"
    assert mesh_text({"data": None}) == ""
    assert mesh_text(None) == ""
