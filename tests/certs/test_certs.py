"""labkit.certs without any external program: files, modes, extensions, and chains checked by a real verifier."""

from __future__ import annotations

import base64
import datetime as dt
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from rich.console import Console

from labkit import certs, schema
from labkit.certs import CertError, LabPki, generate_lab_pki, generate_other_ca_client, new_run_dir, secret_manifest
from labkit.paths import LABS, NOTEBOOKS, ROOT

KEYS = ("ca.key", "server.key", "client.key")
CERTS = ("ca.crt", "server.crt", "client.crt")


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def ext(cert: x509.Certificate, cls: type) -> object:
    return cert.extensions.get_extension_for_class(cls)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- files


def test_writes_the_six_pem_files_with_private_modes(pki: LabPki) -> None:
    assert sorted(p.name for p in pki.directory.iterdir()) == sorted(KEYS + CERTS)
    assert mode(pki.directory) == 0o700
    for name in KEYS:
        assert mode(pki.directory / name) == 0o600, name
        assert (pki.directory / name).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    for name in CERTS:
        assert not mode(pki.directory / name) & 0o022, name  # never writable by others
        assert load(pki.directory / name).version == x509.Version.v3
    assert (pki.ca_cert, pki.server_key, pki.client_cert) == (
        pki.directory / "ca.crt",
        pki.directory / "server.key",
        pki.directory / "client.crt",
    )


def test_keys_are_created_private_not_chmodded_later(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # With umask 0 a file created with the default mode would be world-readable; chmod is forbidden, so 0600
    # can only come from the mode passed when the file was created.
    def no_chmod(*args: object, **kwargs: object) -> None:
        raise AssertionError("generate_lab_pki must not chmod")

    monkeypatch.setattr(os, "chmod", no_chmod)
    old = os.umask(0)
    try:
        pki = generate_lab_pki(tmp_path / "pki")
    finally:
        os.umask(old)
    assert [mode(p) for p in (pki.ca_key, pki.server_key, pki.client_key)] == [0o600] * 3
    assert mode(pki.directory) == 0o700
    assert mode(pki.server_cert) == 0o644


def test_regenerating_replaces_files_and_keeps_key_modes(pki: LabPki) -> None:
    before = load(pki.server_cert).fingerprint(hashes.SHA256())
    again = generate_lab_pki(pki.directory)
    assert load(again.server_cert).fingerprint(hashes.SHA256()) != before
    assert mode(again.server_key) == 0o600
    assert not [p for p in pki.directory.iterdir() if p.name.startswith(".")]  # no temporary files left behind


def test_refuses_a_directory_others_can_read(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)  # independent of the test runner's umask
    with pytest.raises(CertError, match="readable by other users"):
        generate_lab_pki(shared)
    assert list(shared.iterdir()) == []


def test_invalid_names_are_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(CertError, match="not a valid DNS name"):
        generate_lab_pki(tmp_path / "a", server_names=["bad name.example.com"])
    with pytest.raises(CertError, match="at least one name"):
        generate_lab_pki(tmp_path / "b", server_names=[])
    with pytest.raises(CertError, match="days"):
        generate_lab_pki(tmp_path / "c", days=0)
    assert not (tmp_path / "a").exists()


# -- extensions


def test_ca_certificate(pki: LabPki) -> None:
    ca = load(pki.ca_cert)
    assert ca.subject == ca.issuer  # self-signed root
    bc = ext(ca, x509.BasicConstraints)
    assert bc.critical and bc.value.ca is True
    ku = ext(ca, x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    ski = ext(ca, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(ca.public_key())
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert ca.public_key().curve.name == "secp256r1"


def test_server_certificate(pki: LabPki) -> None:
    server, ca = load(pki.server_cert), load(pki.ca_cert)
    assert ext(server, x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == [
        "my-nginx.mesh-external.svc.cluster.local",
        "nginx.example.com",
    ]
    assert list(ext(server, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert ext(server, x509.BasicConstraints).value.ca is False
    ku = ext(server, x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign
    aki = ext(server, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ext(ca, x509.SubjectKeyIdentifier).value.digest
    assert server.issuer == ca.subject
    assert server.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == pki.server_names[0]


def test_client_certificate(pki: LabPki) -> None:
    client, ca = load(pki.client_cert), load(pki.ca_cert)
    assert list(ext(client, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "client.example.com"
    aki = ext(client, x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ext(ca, x509.SubjectKeyIdentifier).value.digest


def test_validity_window(tmp_path: Path) -> None:
    pki = generate_lab_pki(tmp_path / "pki", days=3)
    now = dt.datetime.now(dt.timezone.utc)
    for path in (pki.ca_cert, pki.server_cert, pki.client_cert):
        cert = load(path)
        assert cert.not_valid_before_utc < now  # backdated a little for clock skew
        assert dt.timedelta(days=2, hours=23) < cert.not_valid_after_utc - now <= dt.timedelta(days=3)


def test_custom_names_and_ip_san(tmp_path: Path) -> None:
    pki = generate_lab_pki(tmp_path / "pki", server_names=["api.partner.test", "127.0.0.1"], client_name="gw.test")
    san = ext(load(pki.server_cert), x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["api.partner.test"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert pki.server_names == ("api.partner.test", "127.0.0.1")
    assert ext(load(pki.client_cert), x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName) == [
        "gw.test"
    ]


# -- chains, checked by cryptography's RFC 5280 / CA-B Forum verifier


def _builder(ca_path: Path) -> PolicyBuilder:
    return PolicyBuilder().store(Store([load(ca_path)]))


@pytest.mark.parametrize("name", ["nginx.example.com", "my-nginx.mesh-external.svc.cluster.local"])
def test_server_chain_verifies_for_each_san(pki: LabPki, name: str) -> None:
    verifier = _builder(pki.ca_cert).build_server_verifier(x509.DNSName(name))
    chain = verifier.verify(load(pki.server_cert), [])
    assert [c.subject for c in chain] == [load(pki.server_cert).subject, load(pki.ca_cert).subject]


def test_server_chain_rejects_another_name(pki: LabPki) -> None:
    verifier = _builder(pki.ca_cert).build_server_verifier(x509.DNSName("evil.example.com"))
    with pytest.raises(VerificationError):
        verifier.verify(load(pki.server_cert), [])


def test_client_chain_verifies(pki: LabPki) -> None:
    verified = _builder(pki.ca_cert).build_client_verifier().verify(load(pki.client_cert), [])
    assert verified.chain[-1] == load(pki.ca_cert)
    assert verified.subjects == [x509.DNSName("client.example.com")]


def test_usages_are_not_interchangeable(pki: LabPki) -> None:
    # serverAuth and clientAuth are enforced: the server certificate can't log in as a client and vice versa.
    with pytest.raises(VerificationError):
        _builder(pki.ca_cert).build_client_verifier().verify(load(pki.server_cert), [])
    with pytest.raises(VerificationError):
        _builder(pki.ca_cert).build_server_verifier(x509.DNSName("client.example.com")).verify(
            load(pki.client_cert), []
        )


def test_other_ca_client_does_not_chain_to_lab_ca(pki: LabPki) -> None:
    other = generate_other_ca_client(pki.directory)
    cert = load(other.cert)
    assert cert.subject == load(pki.client_cert).subject  # same name: only the issuer differs
    assert load(other.ca_cert).subject != load(pki.ca_cert).subject
    assert mode(other.key) == 0o600
    assert not (pki.directory / "other-ca.key").exists()  # the other CA's key is never written
    with pytest.raises(VerificationError):
        _builder(pki.ca_cert).build_client_verifier().verify(cert, [])
    # ...while it is a perfectly good certificate under its own CA.
    assert _builder(other.ca_cert).build_client_verifier().verify(cert, []).chain[-1] == load(other.ca_cert)


# -- summaries


def test_describe_shows_subjects_sans_expiry_and_fingerprints(pki: LabPki) -> None:
    text = pki.describe()
    server = load(pki.server_cert)
    assert "CN=my-nginx.mesh-external.svc.cluster.local" in text
    assert "my-nginx.mesh-external.svc.cluster.local, nginx.example.com" in text
    assert "clientAuth" in text and "serverAuth" in text
    assert f"{server.not_valid_after_utc:%Y-%m-%d}" in text
    for path in (pki.ca_cert, pki.server_cert, pki.client_cert):
        assert load(path).fingerprint(hashes.SHA256()).hex(":").upper() in text
    assert str(pki) == text


def test_rich_table_renders_the_three_certificates(pki: LabPki) -> None:
    console = Console(width=120, record=True, color_system=None)
    console.print(pki)
    out = console.export_text()
    for name in ("ca.crt", "server.crt", "client.crt", "Istio Egress Labs Root CA", "nginx.example.com"):
        assert name in out
    bundle = pki._repr_mimebundle_()
    assert "server.crt" in bundle["text/plain"] and "<" in bundle["text/html"]


# -- run directories


def test_new_run_dir_defaults_under_build_pki() -> None:
    base_existed = certs.DEFAULT_RUN_BASE.exists()
    first, second = new_run_dir(), new_run_dir()
    try:
        assert first.parent == ROOT / "build" / "pki" == certs.DEFAULT_RUN_BASE
        assert first != second
        assert mode(first) == 0o700
        assert list(first.iterdir()) == []
    finally:
        first.rmdir()
        second.rmdir()
        if not base_existed:
            certs.DEFAULT_RUN_BASE.rmdir()


def test_new_run_dir_then_generate(tmp_path: Path) -> None:
    run = new_run_dir(tmp_path / "runs")
    pki = generate_lab_pki(run)
    assert pki.directory == run and pki.server_key.parent == run


@pytest.mark.parametrize("tracked", [LABS, NOTEBOOKS, LABS / "05-egress-gateway-tls-origination" / "pki"])
def test_new_run_dir_refuses_tracked_folders(tracked: Path) -> None:
    with pytest.raises(CertError, match="refusing to put private keys"):
        new_run_dir(tracked)
    assert not (LABS / "05-egress-gateway-tls-origination" / "pki").exists()


# -- Secrets


def decoded(manifest: dict[str, object]) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in manifest["data"].items()}  # type: ignore[attr-defined]


def test_generic_secret_for_the_egress_gateway(pki: LabPki) -> None:
    # The egress gateway's DestinationRule credentialName: its client certificate, key and the CA to trust.
    secret = secret_manifest(
        "client-credential", "istio-system", cert=pki.client_cert, key=pki.client_key, ca=pki.ca_cert
    )
    assert secret["kind"] == "Secret" and secret["type"] == "Opaque"
    assert secret["metadata"] == {"name": "client-credential", "namespace": "istio-system"}
    assert decoded(secret) == {
        "tls.crt": pki.client_cert.read_bytes(),
        "tls.key": pki.client_key.read_bytes(),
        "ca.crt": pki.ca_cert.read_bytes(),
    }
    schema.validate([secret])  # the project's Kubernetes schema check accepts it


def test_tls_secret_and_ca_only_secret(pki: LabPki) -> None:
    tls = secret_manifest("nginx-server-certs", "mesh-external", cert=pki.server_cert, key=pki.server_key, kind="tls")
    assert tls["type"] == "kubernetes.io/tls"
    assert set(decoded(tls)) == {"tls.crt", "tls.key"}
    ca_only = secret_manifest("nginx-ca-certs", "mesh-external", ca=pki.ca_cert)
    assert decoded(ca_only) == {"ca.crt": pki.ca_cert.read_bytes()}
    schema.validate([tls, ca_only])


def test_secret_input_errors(pki: LabPki, tmp_path: Path) -> None:
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    cases = [
        (dict(cert=tmp_path / "missing.crt", key=pki.client_key), "certificate file not found"),
        (dict(cert=not_pem, key=pki.client_key), "contains no PEM certificate"),
        (dict(cert=pki.client_cert, key=not_pem), "not a valid PEM private key"),
        (dict(cert=pki.client_cert, key=pki.server_key), "does not belong to certificate"),
        (dict(cert=pki.client_cert), "cert given without key"),
        (dict(key=pki.client_key), "key given without cert"),
        (dict(), "nothing to put in it"),
        (dict(ca=not_pem), "CA certificate file .* contains no PEM certificate"),
        (dict(ca=pki.ca_cert, kind="tls"), "kubernetes.io/tls Secret needs cert and key"),
        (dict(ca=pki.ca_cert, kind="opaque"), "kind must be 'generic' or 'tls'"),
    ]
    for kwargs, message in cases:
        with pytest.raises(CertError, match=message):
            secret_manifest("s", "ns", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(CertError, match="not a valid Kubernetes name"):
        secret_manifest("Client_Credential", "istio-system", ca=pki.ca_cert)
