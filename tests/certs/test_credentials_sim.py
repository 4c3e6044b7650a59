"""Mutual TLS origination at the simulated egress gateway (lab 05's configuration) with the Secret forms Istio reads.

istio.io's "Egress Gateways with TLS Origination" task
(https://istio.io/latest/docs/tasks/traffic-management/egress/egress-gateway-tls-origination/) stores the client
certificate, key and CA in one generic Secret (tls.key, tls.crt, ca.crt) and expects "Welcome to nginx!".
Istio's Gateway reference (ServerTLSSettings.credentialName) documents the other place a CA may be: "a separate
secret named <secret>-cacert"; Istio's SDS reads every "-cacert" resource that way, for gateways' upstream
credentials too (pilot/pkg/credentials/kube/secrets.go, GetCaCert).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

import labkit
from labkit import certs, nginxconf
from labkit.lab import Lab
from labkit.paths import lab_file

from .istio_io import SERVER, make_istio_io_pki

LAB = "05-egress-gateway-tls-origination"
PARAMS = {
    "host": "edition.cnn.com",
    "istio_namespace": "istio-system",
    "gateway_label": "egressgateway",
    "nginx_host": SERVER,
    "credential": "client-credential",
}


@pytest.fixture
def lab() -> Lab:
    lab = labkit.connect(backend="sim", lab="test", cleanup_on_error=False, console=Console(quiet=True))
    lab.deploy_client()
    return lab


def _mtls_origination(lab: Lab, server_cert: Path, server_key: Path, ca: Path) -> None:
    """nginx in mesh-external with the given server certificate, and lab 05's gateway, routes and MUTUAL rule."""
    lab.apply(lab_file("common", "namespace.yaml"), name="mesh-external")
    lab.apply(
        [
            certs.secret_manifest("nginx-server-certs", "mesh-external", cert=server_cert, key=server_key),
            certs.secret_manifest("nginx-ca-certs", "mesh-external", ca=ca),
            nginxconf.configmap(),
        ],
        namespace="mesh-external",
    )
    lab.apply(lab_file(LAB, "nginx.yaml"), namespace="mesh-external")
    lab.apply(lab_file(LAB, "mtls-origination-nginx.yaml"), **PARAMS)
    lab.apply(lab_file(LAB, "destinationrule-mtls-nginx.yaml"), namespace="istio-system", **PARAMS)


def test_ca_in_a_separate_cacert_secret(lab: Lab, tmp_path: Path) -> None:
    pki = certs.generate_lab_pki(tmp_path / "pki")
    _mtls_origination(lab, pki.server_cert, pki.server_key, pki.ca_cert)
    lab.apply(
        [
            certs.secret_manifest("client-credential", "istio-system", cert=pki.client_cert, key=pki.client_key),
            certs.secret_manifest("client-credential-cacert", "istio-system", ca=pki.ca_cert),
        ]
    )
    lab.driver.sleep(2)
    r = lab.curl(f"http://{SERVER}", "-sS")
    assert r.status == 200 and "Welcome to nginx!" in r.body
    assert "client-credential-cacert" in str(r.explain())


def test_a_crl_in_the_secret_is_refused_by_name(lab: Lab, tmp_path: Path) -> None:
    # Envoy would check revocation against the CRL; the simulator does not, so it must not pretend to.
    pki = certs.generate_lab_pki(tmp_path / "pki")
    _mtls_origination(lab, pki.server_cert, pki.server_key, pki.ca_cert)
    secret = certs.secret_manifest(
        "client-credential", "istio-system", cert=pki.client_cert, key=pki.client_key, ca=pki.ca_cert
    )
    secret["data"]["ca.crl"] = secret["data"]["ca.crt"]  # any content: its presence alone is refused
    lab.apply(secret)
    lab.driver.sleep(2)
    r = lab.curl(f"http://{SERVER}", "-sS")
    assert r.status == 503
    assert "ca.crl (a certificate revocation list) is not modelled by the offline simulator" in str(r.explain())


def test_istio_io_v1_certificates_at_the_gateway(lab: Lab, tmp_path: Path) -> None:
    # The task's own certificates, made by its openssl commands: the gateway verifies nginx's v1 certificate
    # against example.com.crt and presents the v1 client certificate, which nginx accepts.
    pki = make_istio_io_pki(tmp_path / "istio-io")
    _mtls_origination(lab, pki.server_cert, pki.server_key, pki.ca_cert)
    lab.apply(
        certs.secret_manifest(
            "client-credential", "istio-system", cert=pki.client_cert, key=pki.client_key, ca=pki.ca_cert
        )
    )
    lab.driver.sleep(2)
    r = lab.curl(f"http://{SERVER}", "-sS")
    assert r.status == 200 and "Welcome to nginx!" in r.body
