"""The server's TLS identity: a CA and a certificate for 127.0.0.1, made fresh at every start.

TLS is what makes the bearer token usable: kubectl (client-go's clientcmd) reads a kubeconfig's
credentials only when the server is reached over TLS, so over plain HTTP it would send no token and
the server could not require one. The CA goes into the kubeconfig (``certificate-authority-data``);
its key lives only in memory and in a private temporary file while ``ssl`` loads it.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass

from cryptography.x509.oid import ExtendedKeyUsageOID

# The lab PKI's builders: one place decides what a CA and a server certificate look like.
from .. import certs

#: Days the identity is valid: one server start, however long it runs.
DAYS = 30


@dataclass(frozen=True)
class Identity:
    ca_pem: bytes
    context: ssl.SSLContext

    @property
    def ca_data(self) -> str:
        """The CA as a kubeconfig's ``certificate-authority-data`` (base64 of the PEM)."""
        return base64.b64encode(self.ca_pem).decode()


def _private_file(directory: str, name: str, data: bytes) -> str:
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def new_identity(host: str) -> Identity:
    """A CA and a server certificate for ``host`` (an IP address), and a server context that presents it."""
    ca = certs._make_ca("labkit serve CA", DAYS)
    cert, key = certs._make_leaf(ca, "labkit serve", [host], ExtendedKeyUsageOID.SERVER_AUTH, DAYS)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])  # the server speaks HTTP/1.1 only; Go then never tries h2
    with tempfile.TemporaryDirectory(prefix="labkit-serve-") as directory:  # mode 0700
        chain = _private_file(directory, "tls.crt", certs._cert_pem(cert) + certs._cert_pem(ca.cert))
        secret = _private_file(directory, "tls.key", certs._key_pem(key))
        context.load_cert_chain(chain, secret)
    return Identity(certs._cert_pem(ca.cert), context)


def client_context(ca_pem: bytes) -> ssl.SSLContext:
    """A client context that trusts only this server's CA (for tests and the benchmark)."""
    return ssl.create_default_context(cadata=ca_pem.decode())
