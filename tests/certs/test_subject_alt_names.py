"""A DestinationRule's ``subjectAltNames`` as Envoy checks them, on certificates made with istio.io's commands.

Istio's ClientTLSSettings reference (https://istio.io/latest/docs/reference/config/networking/destination-rule/#ClientTLSSettings):
"subjectAltNames: A list of alternate names to verify the subject identity in the certificate. If specified, the
proxy will verify that the server certificate's subject alt name matches one of the specified values." Istio gives
each entry to Envoy as an exact string matcher; Envoy's SAN matcher (source/common/tls/cert_validator/
san_matcher.cc) follows DNS wildcard rules when an exact matcher meets a DNS SAN, and never looks at the CN.

``openssl x509 -ext subjectAltName`` is the oracle for which SANs a certificate carries.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from labkit.sim import pki
from labkit.sim.tls import san_mismatch

from .conftest import TIMEOUT, require_binaries
from .istio_io import SERVER, IstioIoPki, make_istio_io_pki, openssl, openssl_verify

# The optional step of istio.io's task ("if you want to enable SAN validation for the destination"): the server
# certificate signed with this extension file is v3 with one DNS SAN.
SAN_CONF = f"""[req]
distinguished_name = req_distinguished_name
req_extensions = v3_req
x509_extensions = v3_req
prompt = no
[req_distinguished_name]
countryName = US
[v3_req]
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
basicConstraints = critical, CA:FALSE
subjectAltName = critical, @alt_names
[alt_names]
DNS = {SERVER}
"""


@pytest.fixture(scope="module")
def istio_io(tmp_path_factory: pytest.TempPathFactory) -> IstioIoPki:
    return make_istio_io_pki(tmp_path_factory.mktemp("istio-io"))


@pytest.fixture(scope="module")
def san_server(istio_io: IstioIoPki) -> Path:
    d = istio_io.directory
    (d / "san.conf").write_text(SAN_CONF)
    openssl(
        "req", "-out", "san.csr", "-newkey", "rsa:2048", "-nodes", "-keyout", "san.key",
        "-subj", f"/CN={SERVER}/O=some organization", "-config", "san.conf",
        cwd=d,
    )  # fmt: skip
    openssl(
        "x509", "-req", "-sha256", "-days", "365", "-CA", "example.com.crt", "-CAkey", "example.com.key",
        "-set_serial", "0", "-in", "san.csr", "-out", "san.crt", "-extfile", "san.conf", "-extensions", "v3_req",
        cwd=d,
    )  # fmt: skip
    return d / "san.crt"


def openssl_sans(cert: Path) -> str:
    """What `openssl x509 -noout -ext subjectAltName` prints after its header line ('' when there is none)."""
    binary = require_binaries("openssl")["openssl"]
    cmd = [binary, "x509", "-noout", "-ext", "subjectAltName", "-in", str(cert)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.splitlines()[1:]).strip()


def verdict(cert: Path, ca: Path, names: list[str]) -> pki.Rejection | None:
    presented = pki.presented_identity(cert.read_bytes())
    assert presented is not None
    return pki.verify_peer(
        presented, pki.trust_store(ca.read_bytes()), dt.datetime.now(dt.timezone.utc), subject_alt_names=names
    )


def test_v1_certificate_has_no_san_so_subject_alt_names_fail(istio_io: IstioIoPki) -> None:
    # The chain is fine (openssl verify: OK), but there is no SAN to match: the task says subjectAltNames "can be
    # enabled if the certificate was generated with SAN", and Envoy does not fall back to the CN.
    assert openssl_verify(istio_io.ca_cert, istio_io.server_cert) is None
    assert openssl_sans(istio_io.server_cert) == ""
    assert verdict(istio_io.server_cert, istio_io.ca_cert, []) is None
    rejected = verdict(istio_io.server_cert, istio_io.ca_cert, [SERVER])
    assert rejected is not None and rejected.check == "subjectAltNames"


def test_certificate_with_the_san_matches(istio_io: IstioIoPki, san_server: Path) -> None:
    assert openssl_verify(istio_io.ca_cert, san_server) is None
    assert openssl_sans(san_server) == f"DNS:{SERVER}"
    assert verdict(san_server, istio_io.ca_cert, [SERVER]) is None
    assert verdict(san_server, istio_io.ca_cert, ["other.example.com", SERVER]) is None  # any one of them


def test_wrong_san_is_refused(istio_io: IstioIoPki, san_server: Path) -> None:
    rejected = verdict(san_server, istio_io.ca_cert, ["my-nginx.example.com"])
    assert rejected is not None and rejected.check == "subjectAltNames"
    assert SERVER in rejected.reason  # the message names what the certificate has


def test_chain_failure_comes_before_the_san_check(istio_io: IstioIoPki, san_server: Path, tmp_path: Path) -> None:
    # With -extfile, OpenSSL 3 also writes key identifiers, so a same-named CA with another key is passed over
    # (authority key id ≠ its subject key id) and no issuer is found: error 20, where the v1 leaf gets error 7.
    other = make_istio_io_pki(tmp_path / "other")
    assert openssl_verify(other.ca_cert, san_server) == "unable to get local issuer certificate"
    rejected = verdict(san_server, other.ca_cert, [SERVER])
    assert rejected is not None and (rejected.check, rejected.reason) == (
        "chain",
        "unable to get local issuer certificate",
    )


def _self_signed(sans: list[x509.GeneralName], path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "cn.example.org")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.mark.parametrize(
    ("wanted", "matches"),
    [
        ("a.example.com", True),  # Envoy's dnsNameMatch: "*" stands for one whole label
        ("A.Example.COM", True),  # DNS names compare without case
        ("a.b.example.com", False),  # not two labels
        ("example.com", False),  # not zero labels
        ("spiffe://cluster.local/ns/default/sa/sleep", True),  # URI SANs compare exactly
        ("spiffe://cluster.local/ns/default/sa/other", False),
        ("cn.example.org", False),  # the subject CN never counts
    ],
)
def test_envoy_exact_matcher_on_san_kinds(tmp_path: Path, wanted: str, matches: bool) -> None:
    cert = _self_signed(
        [
            x509.DNSName("*.example.com"),
            x509.UniformResourceIdentifier("spiffe://cluster.local/ns/default/sa/sleep"),
        ],
        tmp_path / "wild.crt",
    )
    assert openssl_sans(cert) == "DNS:*.example.com, URI:spiffe://cluster.local/ns/default/sa/sleep"
    presented = pki.presented_identity(cert.read_bytes())
    assert presented is not None
    assert (san_mismatch(presented, [wanted]) is None) is matches
