"""A small model of TLS: who presents which certificate, who trusts which CA, and the name checks.

Two kinds of certificate meet here. Public hosts and mesh workloads carry symbolic ones, chained to a
named root (``public-web-pki``, the CA bundle every client trusts by default; ``istio-mesh-ca``,
istiod's CA). Certificates a learner generates are real X.509 certificates: they carry their chain,
and ``pki.verify_peer`` checks it the way OpenSSL does. ``TrustStore`` holds both kinds of root.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509
from cryptography.x509.oid import NameOID

from ..curl.urls import is_ip_literal

PUBLIC_ROOT = "public-web-pki"  # stands for the CA bundle in curl images and Envoy's default trust
MESH_ROOT = "istio-mesh-ca"  # istiod's CA, used for ISTIO_MUTUAL between proxies
PEM_ROOT_PREFIX = "pem:"  # how the legacy root strings of real certificates begin


@dataclass(frozen=True)
class Identity:
    """A certificate as a peer presents it.

    ``chain`` holds real certificates (the leaf first, then any intermediates the peer sends); it is
    empty for a symbolic certificate, whose ``root`` names the symbolic CA it chains to. For a real
    certificate ``root`` is a legacy name (issuer and authority key id) kept until every endpoint
    verifies with ``pki.verify_peer``.
    """

    subject: str
    names: tuple[str, ...]
    root: str
    chain: tuple[x509.Certificate, ...] = ()

    @property
    def leaf(self) -> x509.Certificate | None:
        return self.chain[0] if self.chain else None

    def covers(self, host: str) -> bool:
        """Legacy name check; use ``hostname_mismatch`` for curl's rules and messages."""
        return hostname_mismatch(self, host) is None


def _key_id(cert: x509.Certificate, extension: type[x509.ExtensionType]) -> str:
    try:
        ext = cert.extensions.get_extension_for_class(extension).value
    except x509.ExtensionNotFound:
        return ""
    raw = getattr(ext, "key_identifier", None) or getattr(ext, "digest", b"")
    return raw.hex() if raw else ""


def ca_id(cert: x509.Certificate) -> str:
    """Legacy root name of a CA certificate (subject and key id); ``pki.verify_peer`` replaces it."""
    return f"{PEM_ROOT_PREFIX}{cert.subject.rfc4514_string()}#{_key_id(cert, x509.SubjectKeyIdentifier)}"


def issuer_id(cert: x509.Certificate) -> str:
    """Legacy root name a certificate points at (issuer and authority key id), for ``Identity.root``."""
    return f"{PEM_ROOT_PREFIX}{cert.issuer.rfc4514_string()}#{_key_id(cert, x509.AuthorityKeyIdentifier)}"


@dataclass(frozen=True)
class TrustStore:
    """What a TLS endpoint trusts: symbolic roots by name, and real CA certificates."""

    symbolic: frozenset[str] = frozenset()
    cas: tuple[x509.Certificate, ...] = ()

    @classmethod
    def of(cls, roots: TrustStore | Iterable[str]) -> TrustStore:
        """A store from symbolic root names (or the store itself). Real CAs can't be named by string."""
        if isinstance(roots, TrustStore):
            return roots
        names = frozenset(roots)
        pem = sorted(n for n in names if n.startswith(PEM_ROOT_PREFIX))
        if pem:
            raise ValueError(f"{pem[0]} names a PEM CA: build the TrustStore from the certificates (pki.trust_store)")
        return cls(symbolic=names)

    def __bool__(self) -> bool:
        return bool(self.symbolic or self.cas)

    def __contains__(self, root: object) -> bool:
        """Legacy membership test by root name, for endpoints not yet calling ``pki.verify_peer``."""
        return root in self.symbolic or any(ca_id(c) == root for c in self.cas)


PUBLIC_TRUST = TrustStore(symbolic=frozenset({PUBLIC_ROOT}))
MESH_TRUST = TrustStore(symbolic=frozenset({MESH_ROOT}))


@dataclass
class ClientTls:
    """The client side of a handshake: the SNI it sends, what it trusts, and any certificate it offers."""

    sni: str | None
    trusted_roots: TrustStore | frozenset[str] = PUBLIC_TRUST
    verify: bool = True
    client_identity: Identity | None = None
    alpn: tuple[str, ...] = ("h2", "http/1.1")
    via: list[str] = field(default_factory=list)

    @property
    def trust(self) -> TrustStore:
        return TrustStore.of(self.trusted_roots)


def public_identity(host: str) -> Identity:
    return Identity(subject=host, names=(host, f"*.{host.split('.', 1)[-1]}"), root=PUBLIC_ROOT)


# -- names


@dataclass(frozen=True)
class CertNames:
    """The names a certificate carries, by kind."""

    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    common_names: tuple[str, ...] = ()

    @property
    def has_san(self) -> bool:
        return bool(self.dns or self.ips or self.uris or self.emails)


def cert_names(ident: Identity) -> CertNames:
    """A real certificate's SANs and CNs; a symbolic one's names count as DNS SANs (URIs for SPIFFE ids)."""
    leaf = ident.leaf
    if leaf is None:
        uris = tuple(n for n in ident.names if "://" in n)
        return CertNames(dns=tuple(n for n in ident.names if "://" not in n), uris=uris)
    cns = tuple(str(a.value) for a in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return CertNames(common_names=cns)
    return CertNames(
        dns=tuple(san.get_values_for_type(x509.DNSName)),
        ips=tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress)),
        uris=tuple(san.get_values_for_type(x509.UniformResourceIdentifier)),
        emails=tuple(san.get_values_for_type(x509.RFC822Name)),
        common_names=cns,
    )


def _wildcard_match(pattern: str, host: str) -> bool:
    """RFC 6125 matching as curl and Envoy do it: ``*`` only as the whole leftmost label, standing
    for exactly one label, and never for the last two labels (``*.com`` matches nothing)."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if not pattern.startswith("*."):
        return pattern == host
    suffix = pattern[1:]  # ".example.com"
    if suffix.count(".") < 2 or "*" in suffix:
        return False
    label, dot, rest = host.partition(".")
    return bool(label) and bool(dot) and f".{rest}" == suffix



def hostname_mismatch(ident: Identity, host: str) -> str | None:
    """curl's host name check (OpenSSL backend), or ``None`` when the certificate covers ``host``.

    An IP address is matched against IP SANs, a name against DNS SANs (wildcards as RFC 6125 allows).
    The subject CN counts only when the certificate has neither DNS nor IP SANs. The messages are curl's.
    """
    names = cert_names(ident)
    if is_ip_literal(host):
        wanted = ipaddress.ip_address(host)
        if any(ipaddress.ip_address(ip) == wanted for ip in names.ips):
            return None
    elif any(_wildcard_match(n, host) for n in names.dns):
        return None
    if names.dns or names.ips:
        return f"SSL: no alternative certificate subject name matches target host name '{host}'"
    if not names.common_names:
        return "SSL: unable to obtain common name from peer certificate"
    cn = names.common_names[-1]  # curl takes the last CN of the subject, the most specific one
    matched = cn == host if is_ip_literal(host) else _wildcard_match(cn, host)
    if matched:
        return None
    return f"SSL: certificate subject name '{cn}' does not match target host name '{host}'"


def san_mismatch(ident: Identity, subject_alt_names: Iterable[str]) -> str | None:
    """A DestinationRule's ``subjectAltNames`` check, or ``None`` when one of them matches.

    Istio passes each entry to Envoy as an exact string matcher; Envoy compares it with every SAN of
    the server certificate, and for DNS SANs it follows DNS matching, so a ``*.example.com`` SAN
    matches ``a.example.com``. The subject CN never counts.
    """
    wanted = [s for s in subject_alt_names]
    if not wanted:
        return None
    names = cert_names(ident)
    others = set(names.uris) | set(names.ips) | set(names.emails)
    for name in wanted:
        if name in others or any(_wildcard_match(dns, name) for dns in names.dns):
            return None
    have = ", ".join([*names.dns, *names.uris, *names.ips, *names.emails]) or "none"
    return f"certificate SANs ({have}) match none of subjectAltNames {wanted}"


#: Which check rejected a peer: the chain (OpenSSL's words), the host name (curl's), the SAN list (Envoy's).
Check = Literal["chain", "hostname", "subjectAltNames"]


@dataclass(frozen=True)
class Rejection:
    check: Check
    reason: str

    def __str__(self) -> str:
        return self.reason
