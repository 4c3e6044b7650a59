"""The translator uses the simulator's Scope for what a sidecar sees: a Sidecar resource's egress hosts
and outboundTrafficPolicy decide its listeners, virtual hosts and clusters (istio.io reference
"Sidecar": egress hosts import services; outboundTrafficPolicy overrides the mesh's for its workloads)."""

from __future__ import annotations

from typing import Any

import pytest

from labkit.lab import Lab
from labkit.paths import lab_file
from labkit.xds import TranslationError, sidecar_config

from .conftest import mesh_of, pod, settle


def sidecar(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Sidecar",
        "metadata": {"name": "default", "namespace": "default"},
        "spec": spec,
    }


def test_egress_hosts_narrow_what_the_sidecar_gets(lab: Lab) -> None:
    lab.apply(lab_file("01-external-access", "serviceentry-http.yaml"), name="httpbin-ext", host="httpbin.org")
    lab.apply(
        [sidecar({"egress": [{"hosts": ["istio-system/*"]}], "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}})]
    )
    settle(lab)
    config = sidecar_config(mesh_of(lab), pod(lab))
    routes = config.route("80")
    assert routes is not None
    names = [v["name"] for v in routes["virtual_hosts"]]
    assert "httpbin.org:80" not in names and "sleep.default.svc.cluster.local:80" not in names
    assert "istio-egressgateway.istio-system.svc.cluster.local:80" in names
    assert names[-1] == "block_all"  # the Sidecar's REGISTRY_ONLY, not the mesh's ALLOW_ANY
    assert config.cluster("outbound|80||httpbin.org") is None


def test_unbuilt_sidecar_fields_are_refused(lab: Lab) -> None:
    lab.apply([sidecar({"egress": [{"hosts": ["./*"], "captureMode": "NONE"}]})])
    settle(lab)
    with pytest.raises(TranslationError, match=r"egress\[0\]\.captureMode"):
        sidecar_config(mesh_of(lab), pod(lab))
