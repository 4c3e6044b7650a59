"""Certificates for the mutual-TLS labs, generated in Python instead of with an external tool.

``generate_lab_pki`` writes a small PKI into a private directory: a root CA, a server certificate for the
external nginx and a client certificate that the egress gateway presents to it. ``secret_manifest`` turns the
files into the Kubernetes Secrets Istio reads through SDS (``credentialName``).

Keys are ECDSA P-256: generating one takes well under a millisecond (an RSA 2048 key can take a large fraction
of a second), the PEM files are short enough to read in a notebook, and nginx, curl, OpenSSL, Envoy and Go all
accept P-256.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from rich.table import Table

from .display import RichDisplay
from .errors import LabkitError
from .paths import LABS, NOTEBOOKS, ROOT

DEFAULT_SERVER_NAMES: tuple[str, ...] = ("my-nginx.mesh-external.svc.cluster.local", "nginx.example.com")
DEFAULT_CLIENT_NAME = "client.example.com"
ORGANIZATION = "Istio Egress Labs"
#: Where ``new_run_dir`` puts run directories by default (``build/`` is git-ignored).
DEFAULT_RUN_BASE = ROOT / "build" / "pki"
# Start validity a little in the past: a cluster node whose clock lags this machine's would otherwise
# reject a certificate that is "not yet valid".
BACKDATE = dt.timedelta(minutes=5)

_EKU_NAMES = {ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth", ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth"}
_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_SECRET_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


class CertError(LabkitError):
    """A certificate, key or Secret input is missing or unusable."""

    hint = "Generate the files again with labkit.certs.generate_lab_pki(labkit.certs.new_run_dir())."


# -- files


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path``; the file is created with ``mode`` and swapped into place.

    The temporary file is created with the final mode, so a private key is never readable by others, not even
    for a moment; the rename replaces an older file of the same name (whose mode might be wider) atomically.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _private_dir(directory: Path) -> Path:
    """Create ``directory`` with mode 0700, or accept an existing one that only its owner can open."""
    directory = Path(directory)
    try:
        directory.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        if not directory.is_dir():
            raise CertError(f"{directory} exists and is not a directory") from None
        mode = directory.stat().st_mode & 0o777
        if mode & 0o077:
            raise CertError(
                f"{directory} is readable by other users (mode {mode:04o}); private keys must not go there",
                hint="Use labkit.certs.new_run_dir() for a fresh private directory, or chmod 700 the directory.",
            ) from None
    return directory


def _inside(path: Path, parent: Path) -> bool:
    try:
        path.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


def new_run_dir(base: Path | None = None) -> Path:
    """A fresh private directory (mode 0700) for one run's certificates: ``<base>/<timestamp>-<random>``.

    ``base`` defaults to ``build/pki`` in the repository. Directories inside ``labs/`` or ``notebooks/`` are
    refused, so private keys can't end up committed next to the lab material.
    """
    base = Path(base) if base is not None else DEFAULT_RUN_BASE
    for tracked in (LABS, NOTEBOOKS):
        if _inside(base, tracked):
            raise CertError(
                f"refusing to put private keys under {tracked} ({base})",
                hint="Leave base unset (build/pki) or pick a directory outside labs/ and notebooks/.",
            )
    base.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for _ in range(10):
        path = base / f"{stamp}-{secrets.token_hex(3)}"
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue
        return path
    raise CertError(f"could not create a new directory under {base}")  # pragma: no cover - 10 random collisions


# -- building certificates


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # PKCS#8 unencrypted: what nginx, Envoy and Kubernetes TLS Secrets all read.
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, unit: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _validity(days: int) -> tuple[dt.datetime, dt.datetime]:
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise CertError(f"days must be a whole number of days, at least 1 (got {days!r})")
    now = dt.datetime.now(dt.timezone.utc)
    return now - BACKDATE, now + dt.timedelta(days=days)


def _general_name(name: str) -> x509.GeneralName:
    """A SAN entry: an IP address SAN for an address, a DNS SAN for a host name (``*.`` wildcards allowed)."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        pass
    labels = name[2:].split(".") if name.startswith("*.") else name.split(".")
    if not name or len(name) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise CertError(f"{name!r} is not a valid DNS name or IP address for a certificate")
    return x509.DNSName(name.lower())


def _names(names: str | Sequence[str], what: str) -> list[str]:
    # A lone string is one name, not a sequence of one-letter names.
    items = [names] if isinstance(names, str) else list(names)
    if not items:
        raise CertError(f"{what}: at least one name is needed")
    return items


@dataclass(frozen=True)
class _Issuer:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    """digitalSignature for every key (ECDSA signs the handshake); keyCertSign and cRLSign for the CA."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _make_ca(common_name: str, days: int) -> _Issuer:
    key = _new_key()
    not_before, not_after = _validity(days)
    name = _name(common_name, "Lab CA")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        # path_length=0: this CA signs leaves only, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _key_usage(signs_certificates=True),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return _Issuer(cert, key)


def _make_leaf(
    issuer: _Issuer, common_name: str, sans: Sequence[str], usage: x509.ObjectIdentifier, days: int
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    not_before, not_after = _validity(days)
    # A leaf can't outlive its CA: verifiers reject the chain past the CA's expiry anyway.
    not_after = min(not_after, issuer.cert.not_valid_after_utc)
    ca_ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, "server" if usage == ExtendedKeyUsageOID.SERVER_AUTH else "client"))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            # ECDSA keys sign the TLS handshake; they never encipher keys, so digitalSignature only.
            _key_usage(signs_certificates=False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        # Modern verifiers (Go, rustls, cryptography) ignore the CN and match host names against SANs only.
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in sans]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        # The AKI names the CA key that signed this certificate, so a verifier can pick the right issuer.
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(issuer.key, hashes.SHA256())
    )
    return cert, key


# -- summaries


@dataclass(frozen=True)
class CertSummary:
    """What a learner wants to see about one certificate file."""

    role: str
    path: Path
    subject: str
    issuer: str
    sans: tuple[str, ...]
    usages: tuple[str, ...]
    not_after: dt.datetime
    sha256: str  # colon-separated hex, as ``openssl x509 -noout -fingerprint -sha256`` prints it

    @classmethod
    def from_file(cls, role: str, path: Path) -> CertSummary:
        cert = load_certificate(path)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            sans = tuple(str(v) for v in san.get_values_for_type(x509.DNSName)) + tuple(
                str(v) for v in san.get_values_for_type(x509.IPAddress)
            )
        except x509.ExtensionNotFound:
            sans = ()
        usages: list[str] = []
        try:
            if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
                usages.append("CA")
        except x509.ExtensionNotFound:
            pass
        try:
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            usages += [_EKU_NAMES.get(oid, oid.dotted_string) for oid in eku]
        except x509.ExtensionNotFound:
            pass
        fingerprint = cert.fingerprint(hashes.SHA256()).hex(":").upper()
        return cls(
            role,
            path,
            cert.subject.rfc4514_string(),
            cert.issuer.rfc4514_string(),
            sans,
            tuple(usages),
            cert.not_valid_after_utc,
            fingerprint,
        )

    def lines(self) -> list[str]:
        return [
            f"{self.role}: {self.path}",
            f"  subject:  {self.subject}",
            f"  issuer:   {self.issuer}",
            f"  SANs:     {', '.join(self.sans) or '-'}",
            f"  usage:    {', '.join(self.usages) or '-'}",
            f"  expires:  {self.not_after:%Y-%m-%d %H:%M} UTC",
            f"  SHA-256:  {self.sha256}",
        ]


def _cn(rfc4514: str) -> str:
    """The CN of an RFC 4514 name string (tables show the CN; ``describe()`` shows the whole name)."""
    return next((part[3:] for part in rfc4514.split(",") if part.startswith("CN=")), rfc4514)


def _summary_table(title: str, summaries: Sequence[CertSummary]) -> Table:
    table = Table(title=title, show_lines=True, title_justify="left")
    table.add_column("certificate", no_wrap=True)
    table.add_column("subject CN / issuer CN", overflow="fold")
    table.add_column("SANs / usage", overflow="fold")
    table.add_column("SHA-256", overflow="fold", max_width=33)
    for s in summaries:
        table.add_row(
            f"[bold]{s.role}[/] {s.path.name}\n[dim]expires[/] {s.not_after:%Y-%m-%d %H:%M} UTC",
            f"{_cn(s.subject)}\n[dim]issued by[/] {_cn(s.issuer)}",
            "\n".join([*s.sans, f"[dim]{', '.join(s.usages) or '-'}[/]"]),
            s.sha256,
        )
    return table


@dataclass(frozen=True, repr=False)
class LabPki(RichDisplay):
    """The files ``generate_lab_pki`` wrote. Shows as a table in a notebook; ``describe()`` gives plain text."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    server_names: tuple[str, ...] = field(default=DEFAULT_SERVER_NAMES)
    client_name: str = DEFAULT_CLIENT_NAME

    def summaries(self) -> list[CertSummary]:
        # Read back from disk, so the summary shows what the files really contain.
        return [
            CertSummary.from_file("CA", self.ca_cert),
            CertSummary.from_file("server", self.server_cert),
            CertSummary.from_file("client", self.client_cert),
        ]

    def describe(self) -> str:
        lines = [f"Lab PKI in {self.directory}"]
        for s in self.summaries():
            lines += s.lines()
        return "\n".join(lines)

    def __rich__(self) -> Table:
        return _summary_table(f"Lab PKI in {self.directory}", self.summaries())

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True, repr=False)
class ClientCert(RichDisplay):
    """A client certificate and key, with the certificate of the CA that issued it."""

    cert: Path
    key: Path
    ca_cert: Path
    name: str

    def summaries(self) -> list[CertSummary]:
        return [CertSummary.from_file("CA", self.ca_cert), CertSummary.from_file("client", self.cert)]

    def describe(self) -> str:
        return "\n".join(line for s in self.summaries() for line in s.lines())

    def __rich__(self) -> Table:
        return _summary_table(f"Client certificate {self.name}", self.summaries())

    def __str__(self) -> str:
        return self.describe()


# -- public generators


def generate_lab_pki(
    directory: Path,
    *,
    server_names: Sequence[str] = DEFAULT_SERVER_NAMES,
    client_name: str = DEFAULT_CLIENT_NAME,
    days: int = 30,
) -> LabPki:
    """Write a root CA, a server and a client certificate (with keys) as PEM files into ``directory``.

    ``directory`` is created with mode 0700; keys are written with mode 0600 (``ca.key``, ``server.key``,
    ``client.key``), certificates with 0644 (``ca.crt``, ``server.crt``, ``client.crt``). Files from an earlier
    run in the same directory are replaced. The server certificate's SANs are ``server_names``.
    """
    names = _names(server_names, "server_names")
    sans = [_general_name(n) for n in names]  # validate every name before anything is written
    _general_name(client_name)
    directory = _private_dir(Path(directory))

    ca = _make_ca(f"{ORGANIZATION} Root CA", days)
    server, server_key = _make_leaf(ca, names[0], names, ExtendedKeyUsageOID.SERVER_AUTH, days)
    client, client_key = _make_leaf(ca, client_name, [client_name], ExtendedKeyUsageOID.CLIENT_AUTH, days)

    pki = LabPki(
        directory=directory,
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
        server_names=tuple(str(s.value) for s in sans),
        client_name=client_name,
    )
    _write(pki.ca_key, _key_pem(ca.key), 0o600)
    _write(pki.ca_cert, _cert_pem(ca.cert), 0o644)
    _write(pki.server_key, _key_pem(server_key), 0o600)
    _write(pki.server_cert, _cert_pem(server), 0o644)
    _write(pki.client_key, _key_pem(client_key), 0o600)
    _write(pki.client_cert, _cert_pem(client), 0o644)
    return pki


def generate_other_ca_client(directory: Path, name: str = DEFAULT_CLIENT_NAME, *, days: int = 30) -> ClientCert:
    """A client certificate for ``name`` from a brand-new CA that the lab's nginx does not trust.

    Same name, same usages as the real client certificate: only the issuer differs, which is exactly what the
    negative test wants to show. Writes ``other-ca.crt``, ``other-client.crt`` and ``other-client.key``; the
    other CA's key is thrown away, nothing else will ever be signed by it.
    """
    _general_name(name)
    directory = _private_dir(Path(directory))
    ca = _make_ca(f"{ORGANIZATION} Other CA", days)
    cert, key = _make_leaf(ca, name, [name], ExtendedKeyUsageOID.CLIENT_AUTH, days)
    out = ClientCert(
        cert=directory / "other-client.crt",
        key=directory / "other-client.key",
        ca_cert=directory / "other-ca.crt",
        name=name,
    )
    _write(out.key, _key_pem(key), 0o600)
    _write(out.cert, _cert_pem(cert), 0o644)
    _write(out.ca_cert, _cert_pem(ca.cert), 0o644)
    return out


# -- reading files back


def _read(path: str | Path, what: str) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise CertError(f"{what} file not found: {path}")
    return path.read_bytes()


def load_certificates(path: str | Path, what: str = "certificate") -> list[x509.Certificate]:
    """All certificates in a PEM file; a clear ``CertError`` if there are none or the file is not PEM."""
    data = _read(path, what)
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise CertError(f"{what} file {path} contains no PEM certificate (no '-----BEGIN CERTIFICATE-----' line)")
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise CertError(f"{what} file {path} is not a valid PEM certificate: {exc}") from None


def load_certificate(path: str | Path, what: str = "certificate") -> x509.Certificate:
    """The first certificate in a PEM file."""
    return load_certificates(path, what)[0]


def load_private_key(path: str | Path) -> Any:
    """An unencrypted PEM private key; a clear ``CertError`` otherwise."""
    data = _read(path, "private key")
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise CertError(f"private key {path} is encrypted; Kubernetes Secrets need an unencrypted key") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertError(f"private key file {path} is not a valid PEM private key: {exc}") from None


def _public_der(obj: Any) -> bytes:
    return obj.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# -- Kubernetes Secrets


def secret_manifest(
    name: str,
    namespace: str,
    *,
    cert: str | Path | None = None,
    key: str | Path | None = None,
    ca: str | Path | None = None,
    kind: Literal["generic", "tls"] = "generic",
) -> dict[str, Any]:
    """A Kubernetes Secret in the format Istio's SDS reads for ``credentialName``: ``tls.crt``, ``tls.key``, ``ca.crt``.

    ``kind="tls"`` gives a ``kubernetes.io/tls`` Secret (certificate and key required, CA optional);
    ``"generic"`` an ``Opaque`` one with whichever files are given. The files are checked first: they must exist,
    parse as PEM, and the key must belong to the certificate.
    """
    if kind not in ("generic", "tls"):
        raise CertError(f"kind must be 'generic' or 'tls', not {kind!r}")
    for label, value in (("name", name), ("namespace", namespace)):
        if not isinstance(value, str) or len(value) > 253 or not _SECRET_NAME.fullmatch(value):
            raise CertError(
                f"Secret {label} {value!r} is not a valid Kubernetes name",
                hint="Use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit.",
            )
    if (cert is None) != (key is None):
        given, missing = ("cert", "key") if key is None else ("key", "cert")
        raise CertError(f"Secret {name}: {given} given without {missing}; a TLS credential needs both")
    if kind == "tls" and cert is None:
        raise CertError(f"Secret {name}: a kubernetes.io/tls Secret needs cert and key")
    if cert is None and ca is None:
        raise CertError(f"Secret {name}: nothing to put in it; give cert and key, ca, or all three")

    data: dict[str, bytes] = {}
    if cert is not None and key is not None:
        certs = load_certificates(cert, "certificate")
        private_key = load_private_key(key)
        if _public_der(private_key.public_key()) != _public_der(certs[0].public_key()):
            raise CertError(f"Secret {name}: key {key} does not belong to certificate {cert}")
        data["tls.crt"] = _read(cert, "certificate")
        data["tls.key"] = _read(key, "private key")
    if ca is not None:
        load_certificates(ca, "CA certificate")
        data["ca.crt"] = _read(ca, "CA certificate")

    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/tls" if kind == "tls" else "Opaque",
        "data": {k: base64.b64encode(v).decode("ascii") for k, v in data.items()},
    }
