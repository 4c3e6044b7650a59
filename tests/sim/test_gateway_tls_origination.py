"""Egress-gateway TLS and mutual-TLS origination (lab 05), with certificates generated for real.
Expected values from istio.io's egress-gateway-tls-origination task and from nginx itself
(see tests/certs for the real-nginx handshake with the same certificates and nginx.conf)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit import certs, nginxconf
from labkit.lab import Lab
from labkit.paths import lab_file

LAB = "05-egress-gateway-tls-origination"
NGINX = "my-nginx.mesh-external.svc.cluster.local"
PARAMS = {
    "host": "edition.cnn.com",
    "istio_namespace": "istio-system",
    "gateway_label": "egressgateway",
    "nginx_host": NGINX,
    "credential": "client-credential",
}
CERTS = "/etc/nginx-client-certs"


@pytest.fixture
def pki(tmp_path: Path) -> certs.LabPki:
    return certs.generate_lab_pki(tmp_path / "pki")


def nginx(lab: Lab, pki: certs.LabPki) -> None:
    lab.apply(lab_file("common", "namespace.yaml"), name="mesh-external")
    lab.apply(
        [
            certs.secret_manifest("nginx-server-certs", "mesh-external", cert=pki.server_cert, key=pki.server_key),
            certs.secret_manifest("nginx-ca-certs", "mesh-external", ca=pki.ca_cert),
            nginxconf.configmap(),
        ],
        namespace="mesh-external",
    )
    lab.apply(lab_file(LAB, "nginx.yaml"), namespace="mesh-external")


def test_simple_origination_at_the_gateway(lab: Lab) -> None:
    lab.apply(lab_file(LAB, "tls-origination-cnn.yaml"), **PARAMS)
    lab.driver.sleep(2)
    r = lab.curl("http://edition.cnn.com/politics", "-sSL", "-o", "/dev/null", "-D", "-")
    assert r.statuses == [200]
    line = [x for x in lab.logs("istio-system", "istio=egressgateway") if "outbound|443||edition.cnn.com" in x]
    assert line and '"GET /politics' in line[-1] and " 200 " in line[-1]
    text = str(r.explain())
    assert "ISTIO_MUTUAL" in text and "SIMPLE" in text


def test_nginx_requires_a_client_certificate(lab: Lab, pki: certs.LabPki, tmp_path: Path) -> None:
    nginx(lab, pki)
    other = certs.generate_other_ca_client(tmp_path / "pki")
    lab.apply(
        [
            certs.secret_manifest(
                "nginx-client-certs", "default", cert=pki.client_cert, key=pki.client_key, ca=pki.ca_cert
            ),
            certs.secret_manifest("other-client-certs", "default", cert=other.cert, key=other.key),
        ]
    )
    lab.deploy_client(secret_mounts={"nginx-client-certs": CERTS, "other-client-certs": "/etc/other"})
    url = f"https://{NGINX}"
    ca = ("--cacert", f"{CERTS}/ca.crt")
    r = lab.curl(url, "-sS", *ca, "--cert", f"{CERTS}/tls.crt", "--key", f"{CERTS}/tls.key")
    assert r.status == 200 and "Welcome to nginx!" in r.body
    r = lab.curl(url, "-sS", *ca)
    assert r.status == 400 and "No required SSL certificate was sent" in r.body
    r = lab.curl(url, "-sS", *ca, "--cert", "/etc/other/tls.crt", "--key", "/etc/other/tls.key")
    assert r.status == 400 and "The SSL certificate error" in r.body
    assert lab.curl(url, "-sS").exit_code == 60, "the lab CA is not in curl's default bundle"


def test_mutual_tls_origination_with_credential_name(lab: Lab, pki: certs.LabPki) -> None:
    nginx(lab, pki)
    lab.apply(lab_file(LAB, "mtls-origination-nginx.yaml"), **PARAMS)
    lab.apply(lab_file(LAB, "destinationrule-mtls-nginx.yaml"), namespace="istio-system", **PARAMS)
    lab.driver.sleep(2)
    assert lab.curl(f"http://{NGINX}", "-sS").status == 503, "no client-credential Secret yet"
    secret = certs.secret_manifest(
        "client-credential", "istio-system", cert=pki.client_cert, key=pki.client_key, ca=pki.ca_cert
    )
    lab.apply(secret)
    r = lab.curl(f"http://{NGINX}", "-sS")
    assert r.status == 200 and "Welcome to nginx!" in r.body
    gateway = [x for x in lab.logs("istio-system", "istio=egressgateway") if f"outbound|443||{NGINX}" in x]
    assert gateway and " 200 " in gateway[-1]
    text = str(r.explain())
    assert "MUTUAL" in text and "Secret istio-system/client-credential (SDS)" in text
    assert "verified against /etc/nginx-ca-certs/ca.crt" in text


def test_a_gateway_server_without_istio_mutual_rejects_the_sidecar(lab: Lab, pki: certs.LabPki) -> None:
    """The source's Gateway used mode MUTUAL with /etc/certs files, which no longer exist. A gateway
    server that doesn't expect the mesh's certificates can't complete the sidecar's ISTIO_MUTUAL handshake."""
    docs = [d for d in lab_docs("mtls-origination-nginx.yaml") if d["kind"] != "Gateway"]
    docs.append(
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "istio-egressgateway"},
            "spec": {
                "selector": {"istio": "egressgateway"},
                "servers": [
                    {
                        "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                        "hosts": [NGINX],
                        "tls": {"mode": "PASSTHROUGH"},
                    }
                ],
            },
        }
    )
    nginx(lab, pki)
    lab.apply(docs)
    lab.driver.sleep(2)
    assert lab.curl(f"http://{NGINX}", "-sS").status == 503


def lab_docs(name: str) -> list[dict]:
    from labkit import manifests

    return manifests.load(lab_file(LAB, name), PARAMS)


@pytest.mark.parametrize(("sni", "status"), [(NGINX, 200), ("wrong.example.com", 503), (None, 503)])
def test_the_sidecar_sends_the_destination_rules_sni_and_the_gateway_picks_its_server_by_it(
    lab: Lab, pki: certs.LabPki, sni: str | None, status: int
) -> None:
    """istio.io egress-gateway-tls-origination sets ``sni`` in the DestinationRule for the gateway:
    the gateway's ISTIO_MUTUAL server for my-nginx is chosen by SNI (Gateway reference, Server.hosts:
    "...TCP services using TLS with SNI"; istiod sets the filter chain's server_names from the hosts).
    Without it, or with another name, no server matches and the handshake fails: 503 at the sidecar."""
    docs = lab_docs("mtls-origination-nginx.yaml")
    for doc in docs:
        if doc["kind"] == "DestinationRule":
            tls = doc["spec"]["subsets"][0]["trafficPolicy"]["portLevelSettings"][0]["tls"]
            if sni is None:
                tls.pop("sni")
            else:
                tls["sni"] = sni
    nginx(lab, pki)
    lab.apply(docs)
    lab.apply(lab_file(LAB, "destinationrule-mtls-nginx.yaml"), namespace="istio-system", **PARAMS)
    lab.apply(
        certs.secret_manifest(
            "client-credential", "istio-system", cert=pki.client_cert, key=pki.client_key, ca=pki.ca_cert
        )
    )
    lab.driver.sleep(2)
    assert lab.curl(f"http://{NGINX}", "-sS").status == status
