"""Certificates in the simulated mesh are checked at the simulated time.

OpenSSL checks validity periods against the current time unless told otherwise (openssl-verify manual,
``-attime``: "Perform validation checks using the time specified by timestamp and not the current system
time"), and nginx verifies client certificates with OpenSSL. So a client certificate that is valid now stops
working once time has passed its notAfter: on the simulator, when its clock has moved past it.
The real-nginx comparison of the same verdicts is in tests/certs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from labkit import certs, nginxconf
from labkit.lab import Lab
from labkit.paths import lab_file
from labkit.sim.clock import VirtualClock
from labkit.sim.pki import certificate_time

NGINX = "my-nginx.mesh-external.svc.cluster.local"
CERTS = "/etc/short-lived"


def _short_lived_client(pki: certs.LabPki, d: Path, lifetime: dt.timedelta) -> tuple[Path, Path]:
    """A client certificate from the lab CA, valid from a minute ago for ``lifetime``."""
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "client.example.com")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + lifetime)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = d / "short.crt", d / "short.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_certificate_time_follows_the_machine_clock_and_the_virtual_one() -> None:
    # A certificate made a moment ago must be valid on the simulator, as it is for a real verifier.
    second = dt.timedelta(seconds=1)  # the clock may tell its date to the second
    before = dt.datetime.now(dt.timezone.utc)
    clock = VirtualClock()
    assert before - second <= certificate_time(clock) <= dt.datetime.now(dt.timezone.utc) + second
    clock.sleep(7200)
    assert certificate_time(clock) - before >= dt.timedelta(hours=2) - second


def test_client_certificate_expires_as_simulated_time_passes(lab: Lab, tmp_path: Path) -> None:
    pki = certs.generate_lab_pki(tmp_path / "pki")
    cert, key = _short_lived_client(pki, tmp_path, dt.timedelta(hours=1))
    lab.apply(lab_file("common", "namespace.yaml"), name="mesh-external")
    lab.apply(
        [
            certs.secret_manifest("nginx-server-certs", "mesh-external", cert=pki.server_cert, key=pki.server_key),
            certs.secret_manifest("nginx-ca-certs", "mesh-external", ca=pki.ca_cert),
            nginxconf.configmap(),
        ],
        namespace="mesh-external",
    )
    lab.apply(lab_file("05-egress-gateway-tls-origination", "nginx.yaml"), namespace="mesh-external")
    lab.apply(certs.secret_manifest("short-lived", "default", cert=cert, key=key))
    lab.deploy_client(name="short", secret_mounts={"short-lived": CERTS})
    args = (f"https://{NGINX}", "-sS", "-k", "--cert", f"{CERTS}/tls.crt", "--key", f"{CERTS}/tls.key")
    r = lab.curl(*args, client="short")
    assert r.status == 200 and "Welcome to nginx!" in r.body
    lab.driver.sleep(2 * 3600)
    r = lab.curl(*args, client="short")
    # nginx: 400 "The SSL certificate error", and in its log "(10:certificate has expired)".
    assert r.status == 400 and "The SSL certificate error" in r.body
    assert ": certificate has expired" in str(r.explain())
