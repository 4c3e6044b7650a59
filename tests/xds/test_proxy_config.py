"""``proxy_config``: the sections of Envoy's admin config_dump for a simulated proxy. Shapes follow
Envoy's admin API (envoy.admin.v3.ListenersConfigDump, RoutesConfigDump, ClustersConfigDump,
SecretsConfigDump: dynamic_active_secrets, and dynamic_warming_secrets for secrets SDS has not
delivered) as istioctl's test data shows them (istioctl/pkg/writer/envoy/configdump/testdata)."""

from __future__ import annotations

import pytest

from labkit import certs
from labkit.lab import Lab
from labkit.xds import TranslationError, proxy_config

from .conftest import LAB05, gateway_pod, mesh_of, pod, scenario, settle


def test_listeners_routes_and_clusters_sections(lab: Lab) -> None:
    mesh, client = mesh_of(lab), pod(lab)
    listeners = proxy_config(mesh, client, "listeners")
    assert listeners["@type"] == "type.googleapis.com/envoy.admin.v3.ListenersConfigDump"
    names = [x["name"] for x in listeners["dynamic_listeners"]]
    assert "virtualOutbound" in names and "0.0.0.0_80" in names
    first = listeners["dynamic_listeners"][0]["active_state"]
    assert first["listener"]["@type"] == "type.googleapis.com/envoy.config.listener.v3.Listener"
    assert {"version_info", "last_updated"} <= set(first)
    routes = proxy_config(mesh, client, "routes")
    assert routes["@type"] == "type.googleapis.com/envoy.admin.v3.RoutesConfigDump"
    assert next(r["route_config"]["name"] for r in routes["dynamic_route_configs"]) == "80"
    clusters = proxy_config(mesh, client, "clusters")
    assert clusters["@type"] == "type.googleapis.com/envoy.admin.v3.ClustersConfigDump"
    assert "PassthroughCluster" in [c["cluster"]["name"] for c in clusters["dynamic_active_clusters"]]


def test_gateway_sections(pki: certs.LabPki) -> None:
    lab = scenario("03-http-through-gateway", pki)
    routes = proxy_config(mesh_of(lab), gateway_pod(lab), "routes")
    assert [r["route_config"]["name"] for r in routes["dynamic_route_configs"]] == ["http.8080"]


def test_credential_secrets_warm_until_the_secret_exists(pki: certs.LabPki) -> None:
    """A credentialName whose Secret is missing never arrives over SDS: Envoy lists it as warming
    (SecretsConfigDump.dynamic_warming_secrets) and the cluster's handshakes fail until it does."""
    lab = scenario("05-mutual-origination-credential-name", pki)
    mesh, gw = mesh_of(lab), gateway_pod(lab)
    dump = proxy_config(mesh, gw, "secrets")
    assert dump["@type"] == "type.googleapis.com/envoy.admin.v3.SecretsConfigDump"
    active = {s["name"]: s["secret"] for s in dump["dynamic_active_secrets"]}
    chain = active["kubernetes://client-credential"]["tls_certificate"]
    assert chain["private_key"] == {"inline_string": "[redacted]"}  # Envoy's dump never shows keys
    assert chain["certificate_chain"]["inline_bytes"]
    assert active["kubernetes://client-credential-cacert"]["validation_context"]["trusted_ca"]["inline_bytes"]
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": LAB05["credential"]}}
    lab.delete([secret], namespace="istio-system")
    settle(lab)
    dump = proxy_config(mesh, gw, "secrets")
    warming = [s["name"] for s in dump["dynamic_warming_secrets"]]
    assert warming == ["kubernetes://client-credential", "kubernetes://client-credential-cacert"]


def test_unknown_section_is_refused(lab: Lab) -> None:
    with pytest.raises(TranslationError, match="endpoints"):
        proxy_config(mesh_of(lab), pod(lab), "endpoints")


def test_an_access_log_format_is_refused_not_ignored(lab: Lab) -> None:
    """meshConfig.accessLogFormat changes every log line; the translator does not build it, so it says so."""
    mesh = mesh_of(lab)
    cm = mesh.store.raw("", "ConfigMap", "istio-system", "istio")
    assert cm is not None
    cm = {**cm, "data": {**cm["data"], "mesh": cm["data"]["mesh"] + 'accessLogFormat: "%RESPONSE_CODE%"\n'}}
    lab.apply([cm])
    settle(lab)
    with pytest.raises(TranslationError, match="accessLogFormat"):
        proxy_config(mesh, pod(lab), "listeners")
