"""Certificates made exactly as istio.io makes them, and ``openssl verify`` as the oracle for chain verdicts.

The commands are those of istio.io's "Egress Gateways with TLS Origination" task, section "Generate client and
server certificates and keys" (https://istio.io/latest/docs/tasks/traffic-management/egress/egress-gateway-tls-origination/):
a CA from ``openssl req -x509``, then CSRs signed with ``openssl x509 -req``. Without ``-extfile`` the leaves are
X.509 v1 certificates: no extensions at all, so no SAN and no key identifiers.

Certificates no command line can make (a validity period in the past or the future) are made with
``cryptography``, signed by the same CA key.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from labkit.certs import LabPki

from .conftest import TIMEOUT, require_binaries

SERVER = "my-nginx.mesh-external.svc.cluster.local"
CLIENT = "client.example.com"


@dataclass(frozen=True)
class IstioIoPki:
    directory: Path
    ca_cert: Path  # example.com.crt
    ca_key: Path
    server_cert: Path  # my-nginx.mesh-external.svc.cluster.local.crt, X.509 v1
    server_key: Path
    client_cert: Path  # client.example.com.crt, X.509 v1
    client_key: Path

    def as_lab_pki(self) -> LabPki:
        """The same files in the shape the nginx fixture takes."""
        return LabPki(
            directory=self.directory,
            ca_cert=self.ca_cert,
            ca_key=self.ca_key,
            server_cert=self.server_cert,
            server_key=self.server_key,
            client_cert=self.client_cert,
            client_key=self.client_key,
            server_names=(SERVER,),
            client_name=CLIENT,
        )


def openssl(*args: str, cwd: Path) -> None:
    binary = require_binaries("openssl")["openssl"]
    done = subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, f"openssl {' '.join(args)}\n{done.stderr}"


def make_istio_io_pki(directory: Path) -> IstioIoPki:
    """The task's three steps, verbatim but for the working directory."""
    directory.mkdir(parents=True, exist_ok=True)
    # Step 1: the root certificate and key that sign the others.
    openssl(
        "req", "-x509", "-sha256", "-nodes", "-days", "365", "-newkey", "rsa:2048",
        "-subj", "/O=example Inc./CN=example.com", "-keyout", "example.com.key", "-out", "example.com.crt",
        cwd=directory,
    )  # fmt: skip
    # Step 2: the server certificate for nginx.
    openssl(
        "req", "-out", f"{SERVER}.csr", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{SERVER}.key",
        "-subj", f"/CN={SERVER}/O=some organization",
        cwd=directory,
    )  # fmt: skip
    openssl(
        "x509", "-req", "-sha256", "-days", "365", "-CA", "example.com.crt", "-CAkey", "example.com.key",
        "-set_serial", "0", "-in", f"{SERVER}.csr", "-out", f"{SERVER}.crt",
        cwd=directory,
    )  # fmt: skip
    # Step 3: the client certificate the egress gateway presents.
    openssl(
        "req", "-out", f"{CLIENT}.csr", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{CLIENT}.key",
        "-subj", f"/CN={CLIENT}/O=client organization",
        cwd=directory,
    )  # fmt: skip
    openssl(
        "x509", "-req", "-sha256", "-days", "365", "-CA", "example.com.crt", "-CAkey", "example.com.key",
        "-set_serial", "1", "-in", f"{CLIENT}.csr", "-out", f"{CLIENT}.crt",
        cwd=directory,
    )  # fmt: skip
    return IstioIoPki(
        directory=directory,
        ca_cert=directory / "example.com.crt",
        ca_key=directory / "example.com.key",
        server_cert=directory / f"{SERVER}.crt",
        server_key=directory / f"{SERVER}.key",
        client_cert=directory / f"{CLIENT}.crt",
        client_key=directory / f"{CLIENT}.key",
    )


def signed_leaf(
    pki: IstioIoPki,
    path: Path,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    common_name: str = CLIENT,
) -> tuple[Path, Path]:
    """A v1 leaf (like the task's) with the given validity, signed by the task's CA. Returns (cert, key)."""
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    cert = builder.sign(ca_key, hashes.SHA256())
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = path.with_suffix(".key")
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return path, key_path


_ERROR = re.compile(r"^error (\d+) at (\d+) depth lookup: (.+)$", re.MULTILINE)


def openssl_verify(ca: Path, cert: Path, untrusted: Path | None = None, *extra: str) -> str | None:
    """``openssl verify -CAfile ca [-untrusted chain] cert``: ``None`` when it prints OK, else its reason.

    The reason is the text after "depth lookup:", as the openssl-verify manual's "Diagnostics" section
    describes the output (https://docs.openssl.org/3.0/man1/openssl-verify/).
    """
    binary = require_binaries("openssl")["openssl"]
    cmd = [binary, "verify", "-CAfile", str(ca), *extra]
    if untrusted is not None:
        cmd += ["-untrusted", str(untrusted)]
    done = subprocess.run([*cmd, str(cert)], capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if done.returncode == 0:
        assert done.stdout.strip().endswith(": OK"), done.stdout
        return None
    found = _ERROR.search(done.stdout + done.stderr)
    assert found, f"unexpected openssl verify output:\n{done.stdout}{done.stderr}"
    return found.group(3).strip()
