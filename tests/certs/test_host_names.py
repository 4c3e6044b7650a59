"""curl's host name check, real curl against the simulator's ``hostname_mismatch``, on a wildcard certificate.

curl (OpenSSL backend) matches the URL's host against the DNS SANs, or IP SANs for an address, and looks at the
subject CN only when the certificate has neither; a wildcard stands for exactly one whole leftmost label (curl's
lib/vtls/hostcheck.c, following RFC 6125 section 6.4.3). On a mismatch curl exits 60 with the message the
simulator must print too.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from labkit.certs import LabPki
from labkit.sim import pki
from labkit.sim.tls import hostname_mismatch

from .conftest import Nginx, require_binaries, run_curl


def _pem(path: Path, obj: x509.Certificate | ec.EllipticCurvePrivateKey) -> Path:
    if isinstance(obj, x509.Certificate):
        path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    else:
        data = obj.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.write_bytes(data)
        path.chmod(0o600)
    return path


def _wildcard_pki(d: Path) -> LabPki:
    """A CA and a server certificate for *.example.com and 127.0.0.1 (the client files are unused here)."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Wildcard Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    sans = [x509.DNSName("*.example.com"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "cn.example.org")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    d.mkdir(parents=True, exist_ok=True)
    return LabPki(
        directory=d,
        ca_cert=_pem(d / "ca.crt", ca),
        ca_key=_pem(d / "ca.key", ca_key),
        server_cert=_pem(d / "server.crt", server),
        server_key=_pem(d / "server.key", key),
        client_cert=d / "unused.crt",
        client_key=d / "unused.key",
    )


@pytest.fixture(scope="module")
def wildcard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    binary = require_binaries("nginx", "curl")["nginx"]
    server = Nginx(binary, tmp_path_factory.mktemp("nginx"), _wildcard_pki(tmp_path_factory.mktemp("pki")))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    "host",
    [
        "a.example.com",  # one label for the "*"
        "a.b.example.com",  # two labels: no match
        "example.com",  # no label: no match
        "cn.example.org",  # the CN, ignored because the certificate has SANs
        "127.0.0.1",  # an IP SAN
        "127.0.0.2",  # another address: DNS SANs never match an address
    ],
)
def test_host_name_matches_curl(wildcard: Nginx, host: str) -> None:
    # --connect-to: the connection goes to nginx on 127.0.0.1 whatever the host, and curl checks the certificate
    # against the URL's host (--resolve does not apply to an address).
    real = run_curl(
        wildcard,
        "--connect-to",
        f"{host}:{wildcard.port}:127.0.0.1:{wildcard.port}",
        host=host,
        cacert=wildcard.pki.ca_cert,
    )
    presented = pki.presented_identity(wildcard.pki.server_cert.read_bytes())
    assert presented is not None
    simulated = hostname_mismatch(presented, host)
    if simulated is None:
        assert real.returncode == 0, real.stderr  # the page: 400, as no client certificate was sent
    else:
        assert real.returncode == 60, real.stderr  # CURLE_PEER_FAILED_VERIFICATION
        assert f"curl: (60) {simulated}" in real.stderr, real.stderr
