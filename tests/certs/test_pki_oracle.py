"""The simulator's certificate verdicts (``labkit.sim.pki.verify_peer``) against ``openssl verify`` on the same files.

Every case runs the real ``openssl verify -CAfile`` as the oracle and checks two things: that OpenSSL says what
its documentation says it should (so the files really are what the case claims), and that the simulator says the
same. Reason strings are OpenSSL's, from the openssl-verify manual's "Diagnostics" section
(https://docs.openssl.org/3.0/man1/openssl-verify/).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from labkit import certs
from labkit.sim import pki
from labkit.sim.tls import MESH_ROOT, PUBLIC_ROOT, Identity, TrustStore, public_identity

from .istio_io import IstioIoPki, make_istio_io_pki, openssl_verify, signed_leaf

OK = None
NO_ISSUER = "unable to get local issuer certificate"  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY (20)
EXPIRED = "certificate has expired"  # X509_V_ERR_CERT_HAS_EXPIRED (10)
NOT_YET_VALID = "certificate is not yet valid"  # X509_V_ERR_CERT_NOT_YET_VALID (9)
BAD_SIGNATURE = "certificate signature failure"  # X509_V_ERR_CERT_SIGNATURE_FAILURE (7)
SELF_SIGNED = "self-signed certificate"  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT (18)
SELF_SIGNED_IN_CHAIN = "self-signed certificate in certificate chain"  # X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN (19)
INVALID_CA = "invalid CA certificate"  # X509_V_ERR_INVALID_CA (24)
TOO_LONG = "certificate chain too long"  # X509_V_ERR_CERT_CHAIN_TOO_LONG (22)


@pytest.fixture(scope="module")
def istio_io(tmp_path_factory: pytest.TempPathFactory) -> IstioIoPki:
    return make_istio_io_pki(tmp_path_factory.mktemp("istio-io"))


@pytest.fixture(scope="module")
def istio_io_again(tmp_path_factory: pytest.TempPathFactory) -> IstioIoPki:
    """The same commands run a second time: a new CA with the very same name, and a new key."""
    return make_istio_io_pki(tmp_path_factory.mktemp("istio-io-again"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> certs.LabPki:
    return certs.generate_lab_pki(tmp_path_factory.mktemp("lab") / "pki")


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def simulated(ca: Path, cert: Path, untrusted: Path | None = None, *, max_depth: int = pki.MAX_DEPTH) -> str | None:
    """The simulator's verdict on the same files: the chain a peer would send is the leaf plus ``untrusted``."""
    chain = cert.read_bytes() + (untrusted.read_bytes() if untrusted else b"")
    presented = pki.presented_identity(chain)
    assert presented is not None
    rejected = pki.verify_peer(presented, pki.trust_store(ca.read_bytes()), now(), max_depth=max_depth)
    assert rejected is None or rejected.check == "chain"
    return None if rejected is None else rejected.reason


def agree(expected: str | None, ca: Path, cert: Path, untrusted: Path | None = None) -> None:
    oracle = openssl_verify(ca, cert, untrusted)
    assert oracle == expected, f"openssl verify says {oracle!r}: the test files are not what this case claims"
    assert simulated(ca, cert, untrusted) == oracle


def test_istio_io_leaves_are_v1_without_key_identifiers(istio_io: IstioIoPki) -> None:
    # What makes this file necessary: `openssl x509 -req` without -extfile writes X.509 v1 certificates.
    for path in (istio_io.server_cert, istio_io.client_cert):
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        assert cert.version == x509.Version.v1
        assert len(cert.extensions) == 0


def test_istio_io_v1_leaves_verify(istio_io: IstioIoPki) -> None:
    # istio.io's task: nginx (ssl_verify_client on) accepts client.example.com.crt and the gateway accepts
    # nginx's certificate, both against example.com.crt; `openssl verify` agrees.
    agree(OK, istio_io.ca_cert, istio_io.server_cert)
    agree(OK, istio_io.ca_cert, istio_io.client_cert)


def test_labkit_v3_leaves_verify(lab: certs.LabPki) -> None:
    agree(OK, lab.ca_cert, lab.server_cert)
    agree(OK, lab.ca_cert, lab.client_cert)


def test_leaf_from_another_ca_is_refused(istio_io: IstioIoPki, lab: certs.LabPki, tmp_path: Path) -> None:
    # No CA in the file has the leaf's issuer name: error 20.
    agree(NO_ISSUER, lab.ca_cert, istio_io.client_cert)
    agree(NO_ISSUER, istio_io.ca_cert, lab.client_cert)
    other = certs.generate_other_ca_client(tmp_path / "other")
    agree(NO_ISSUER, lab.ca_cert, other.cert)


def test_leaf_from_a_same_named_ca_fails_its_signature(istio_io: IstioIoPki, istio_io_again: IstioIoPki) -> None:
    # Running the task's commands twice makes two CAs both called "O=example Inc., CN=example.com". A v1 leaf
    # names its issuer only, so OpenSSL picks the trusted CA by name and then the signature check fails (error 7).
    agree(BAD_SIGNATURE, istio_io.ca_cert, istio_io_again.client_cert)


@pytest.mark.parametrize("order", ["right-first", "wrong-first"])
def test_two_same_named_cas_in_one_file(
    istio_io: IstioIoPki, istio_io_again: IstioIoPki, tmp_path: Path, order: str
) -> None:
    # OpenSSL takes the first CA in the file whose name (and key id, if any) fits and is currently valid; it
    # does not try the next one when the signature then fails. So the order of the CA file decides.
    right, wrong = istio_io.ca_cert.read_bytes(), istio_io_again.ca_cert.read_bytes()
    bundle = tmp_path / "bundle.crt"
    bundle.write_bytes(right + wrong if order == "right-first" else wrong + right)
    agree(OK if order == "right-first" else BAD_SIGNATURE, bundle, istio_io.client_cert)


def test_expired_leaf(istio_io: IstioIoPki, tmp_path: Path) -> None:
    cert, _ = signed_leaf(
        istio_io,
        tmp_path / "expired.crt",
        not_before=now() - dt.timedelta(days=30),
        not_after=now() - dt.timedelta(days=1),
    )
    agree(EXPIRED, istio_io.ca_cert, cert)


def test_not_yet_valid_leaf(istio_io: IstioIoPki, tmp_path: Path) -> None:
    cert, _ = signed_leaf(
        istio_io,
        tmp_path / "future.crt",
        not_before=now() + dt.timedelta(days=1),
        not_after=now() + dt.timedelta(days=30),
    )
    agree(NOT_YET_VALID, istio_io.ca_cert, cert)


def test_validity_is_judged_at_the_time_given(istio_io: IstioIoPki) -> None:
    # The same valid leaf, checked a year and a day later (the task's -days 365) and a day before it was made.
    presented = pki.presented_identity(istio_io.client_cert.read_bytes())
    trust = pki.trust_store(istio_io.ca_cert.read_bytes())
    assert presented is not None
    assert pki.verify_peer(presented, trust, now()) is None
    later = pki.verify_peer(presented, trust, now() + dt.timedelta(days=366))
    assert later is not None and later.reason == EXPIRED
    earlier = pki.verify_peer(presented, trust, now() - dt.timedelta(days=1))
    assert earlier is not None and earlier.reason == NOT_YET_VALID


def test_self_signed_leaf(istio_io: IstioIoPki, lab: certs.LabPki) -> None:
    agree(SELF_SIGNED, lab.ca_cert, istio_io.ca_cert)


# -- chains with an intermediate CA


def _write(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _issue(
    subject: str,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool | None,
    extensions: bool = True,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, subject)])
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_cert.subject if issuer_cert else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now() - dt.timedelta(hours=1))
        .not_valid_after(now() + dt.timedelta(days=10))
    )
    if extensions and ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    return builder.sign(issuer_key, hashes.SHA256()), key


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """root → intermediate (CA:TRUE) → leaf; and a leaf issued by a certificate that is not a CA."""
    d = tmp_path_factory.mktemp("chain")
    root = _issue("Chain Root", None, ca=True)
    inter = _issue("Chain Intermediate", root, ca=True)
    leaf = _issue("leaf.example.com", inter, ca=None)
    not_ca = _issue("Not A CA", root, ca=False)
    under_not_ca = _issue("under.example.com", not_ca, ca=None)
    return {
        "root": _write(d / "root.crt", root[0]),
        "inter": _write(d / "inter.crt", inter[0]),
        "leaf": _write(d / "leaf.crt", leaf[0]),
        "not_ca": _write(d / "not-ca.crt", not_ca[0]),
        "under_not_ca": _write(d / "under-not-ca.crt", under_not_ca[0]),
    }


def test_intermediate_sent_by_the_peer_completes_the_chain(chain: dict[str, Path]) -> None:
    agree(OK, chain["root"], chain["leaf"], untrusted=chain["inter"])


def test_missing_intermediate(chain: dict[str, Path]) -> None:
    agree(NO_ISSUER, chain["root"], chain["leaf"])


def test_untrusted_root_sent_along(chain: dict[str, Path], lab: certs.LabPki, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle.crt"
    bundle.write_bytes(chain["inter"].read_bytes() + chain["root"].read_bytes())
    agree(SELF_SIGNED_IN_CHAIN, lab.ca_cert, chain["leaf"], untrusted=bundle)


def test_issuer_that_is_not_a_ca(chain: dict[str, Path]) -> None:
    agree(INVALID_CA, chain["root"], chain["under_not_ca"], untrusted=chain["not_ca"])


def test_issuer_without_key_cert_sign_is_not_a_ca(tmp_path: Path) -> None:
    # A CA whose keyUsage lacks keyCertSign may not sign certificates, whatever its basicConstraints say.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "No CertSign CA")])
    usage = x509.KeyUsage(True, False, False, False, False, False, True, False, False)  # digitalSignature, cRLSign
    root = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now() - dt.timedelta(hours=1))
        .not_valid_after(now() + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    leaf = _issue("leaf.example.com", (root, key), ca=None)[0]
    agree(INVALID_CA, _write(tmp_path / "root.crt", root), _write(tmp_path / "leaf.crt", leaf))


def test_intermediate_needs_basic_constraints(tmp_path: Path) -> None:
    # An intermediate without basicConstraints: OpenSSL holds intermediates to CA:TRUE, so it is refused.
    root = _issue("Plain Root", None, ca=True)
    inter = _issue("Plain Intermediate", root, ca=None)
    leaf = _issue("leaf.example.com", inter, ca=None)
    agree(
        INVALID_CA,
        _write(tmp_path / "root.crt", root[0]),
        _write(tmp_path / "leaf.crt", leaf[0]),
        untrusted=_write(tmp_path / "inter.crt", inter[0]),
    )


def test_verify_depth(chain: dict[str, Path]) -> None:
    # -verify_depth 0: no intermediate CA allowed between the leaf and the trust anchor.
    oracle = openssl_verify(chain["root"], chain["leaf"], chain["inter"], "-verify_depth", "0")
    assert oracle == TOO_LONG
    assert simulated(chain["root"], chain["leaf"], chain["inter"], max_depth=0) == oracle
    assert openssl_verify(chain["root"], chain["leaf"], chain["inter"], "-verify_depth", "1") is None
    assert simulated(chain["root"], chain["leaf"], chain["inter"], max_depth=1) is None


# -- symbolic roots next to PEM ones


def test_one_store_holds_symbolic_and_pem_roots(istio_io: IstioIoPki) -> None:
    trust = pki.trust_store(istio_io.ca_cert.read_bytes(), symbolic={PUBLIC_ROOT})
    client = pki.presented_identity(istio_io.client_cert.read_bytes())
    assert client is not None
    assert pki.verify_peer(client, trust, now()) is None
    assert pki.verify_peer(public_identity("httpbin.org"), trust, now()) is None
    mesh = Identity(
        "spiffe://cluster.local/ns/default/sa/sleep", ("spiffe://cluster.local/ns/default/sa/sleep",), MESH_ROOT
    )
    refused = pki.verify_peer(mesh, trust, now())
    assert refused is not None and refused.reason == NO_ISSUER
    # A real certificate never verifies against symbolic roots only, whatever its names.
    refused = pki.verify_peer(client, TrustStore(symbolic=frozenset({PUBLIC_ROOT, MESH_ROOT})), now())
    assert refused is not None and refused.reason == NO_ISSUER


def test_legacy_root_names_still_answer(istio_io: IstioIoPki, lab: certs.LabPki) -> None:
    # Callers not yet on verify_peer compare Identity.root with ca_id() through `in`; that must keep its
    # old meaning (issuer name and key id) until they switch.
    trust = pki.trust_store(lab.ca_cert.read_bytes())
    client = pki.presented_identity(lab.client_cert.read_bytes())
    assert client is not None and client.root in trust
    assert pki.presented_identity(istio_io.client_cert.read_bytes()).root not in trust  # type: ignore[union-attr]
    assert PUBLIC_ROOT in TrustStore.of(frozenset({PUBLIC_ROOT}))
