"""Reading real PEM certificates (from Secrets or pod files) into the simulator's TLS model.

A certificate's root is named by its issuer's subject and authority key id, so a chain verifies
when the leaf's issuer is the CA the client trusts, and fails for a certificate from another CA.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID

from .messages import TLS_FAILED, Outcome
from .tls import Identity


def _key_id(cert: x509.Certificate, extension: type) -> str:
    try:
        ext = cert.extensions.get_extension_for_class(extension).value
    except x509.ExtensionNotFound:
        return ""
    raw = getattr(ext, "key_identifier", None) or getattr(ext, "digest", b"")
    return raw.hex() if raw else ""


def ca_id(cert: x509.Certificate) -> str:
    """How a CA certificate is named as a root."""
    return f"pem:{cert.subject.rfc4514_string()}#{_key_id(cert, x509.SubjectKeyIdentifier)}"


def identity(cert: x509.Certificate) -> Identity:
    """The leaf as the simulator sees it: names from SANs (else CN) and the CA it chains to."""
    try:
        sans = tuple(
            cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value.get_values_for_type(
                x509.DNSName
            )
        )
    except x509.ExtensionNotFound:
        sans = ()
    cns = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    names = sans or tuple(str(c) for c in cns)
    root = f"pem:{cert.issuer.rfc4514_string()}#{_key_id(cert, x509.AuthorityKeyIdentifier)}"
    return Identity(cert.subject.rfc4514_string(), names, root)


def load_certs(pem: bytes | str) -> list[x509.Certificate]:
    data = pem.encode() if isinstance(pem, str) else pem
    return x509.load_pem_x509_certificates(data) if b"-----BEGIN CERTIFICATE-----" in data else []


def secret_data(secret: dict[str, Any]) -> dict[str, bytes]:
    """A Secret's data decoded (``stringData`` counts as well, as the API server would merge it)."""
    out = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    out.update({k: v.encode() for k, v in (secret.get("stringData") or {}).items()})
    return out


class Pki:
    def from_secret(self, secret: dict[str, Any]) -> tuple[frozenset[str] | None, Identity | None] | Outcome:
        """Istio's Secret formats: ``tls.crt``/``tls.key``/``ca.crt`` (or ``cert``/``key``/``cacert``)."""
        data = secret_data(secret)
        cert = data.get("tls.crt") or data.get("cert")
        key = data.get("tls.key") or data.get("key")
        ca = data.get("ca.crt") or data.get("cacert")
        roots = frozenset(ca_id(c) for c in load_certs(ca)) if ca else None
        ident = None
        if cert:
            certs = load_certs(cert)
            if not certs or not key:
                name = secret["metadata"]["name"]
                return Outcome.failed(TLS_FAILED, f"Secret {name} has a certificate without a usable key")
            ident = identity(certs[0])
        return roots, ident
