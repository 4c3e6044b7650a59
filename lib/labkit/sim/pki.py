"""Real PEM certificates in the simulator: reading them, and verifying a peer the way OpenSSL does.

``verify_peer`` is the one check every simulated TLS endpoint makes. A chain of real certificates
verifies as ``openssl verify`` and BoringSSL verify it: each certificate's issuer is found by name
(key identifiers compared only when both certificates carry them, so X.509 v1 leaves without
extensions work), its signature checked with the issuer's key, its validity period checked at
``now``. Failures carry OpenSSL's own words (the ``openssl-verify`` manual's "Diagnostics" section
lists them). Symbolic certificates verify when the store trusts their named root.
"""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from .messages import TLS_FAILED, Outcome
from .tls import (
    Identity,
    Rejection,
    TrustStore,
    ca_id,
    cert_names,
    hostname_mismatch,
    issuer_id,
    san_mismatch,
)

if TYPE_CHECKING:
    from .clock import VirtualClock

__all__ = [
    "ca_id",
    "certificate_time",
    "identity",
    "load_certs",
    "presented_identity",
    "secret_data",
    "trust_store",
    "verify_chain",
    "verify_peer",
]

# OpenSSL's verify error strings (X509_verify_cert_error_string), by the checks that raise them.
UNABLE_TO_GET_ISSUER_CERT = "unable to get issuer certificate"  # 2: a trusted CA's own issuer is missing
UNABLE_TO_GET_ISSUER_CERT_LOCALLY = "unable to get local issuer certificate"  # 20
DEPTH_ZERO_SELF_SIGNED_CERT = "self-signed certificate"  # 18
SELF_SIGNED_CERT_IN_CHAIN = "self-signed certificate in certificate chain"  # 19
CERT_SIGNATURE_FAILURE = "certificate signature failure"  # 7
CERT_NOT_YET_VALID = "certificate is not yet valid"  # 9
CERT_HAS_EXPIRED = "certificate has expired"  # 10
INVALID_CA = "invalid CA certificate"  # 24
CERT_CHAIN_TOO_LONG = "certificate chain too long"  # 22
UNABLE_TO_VERIFY_LEAF_SIGNATURE = "unable to verify the first certificate"  # 21: a lone leaf, issuer unknown
MAX_DEPTH = 100  # OpenSSL's default verify depth: intermediates allowed between leaf and trust anchor


# -- reading


def load_certs(pem: bytes | str) -> list[x509.Certificate]:
    data = pem.encode() if isinstance(pem, str) else pem
    if b"-----BEGIN CERTIFICATE-----" not in data:
        return []
    with warnings.catch_warnings():
        # istio.io's task signs the server certificate with `-set_serial 0`; RFC 5280 wants a positive serial,
        # and cryptography warns, but OpenSSL, BoringSSL and nginx accept it, so the learner need not see that.
        warnings.filterwarnings("ignore", message="Parsed a serial number which wasn't positive")
        return x509.load_pem_x509_certificates(data)


def identity(cert: x509.Certificate, intermediates: Sequence[x509.Certificate] = ()) -> Identity:
    """A peer's certificate (and the intermediates it sends) as the simulator sees it."""
    names = cert_names(Identity("", (), "", (cert,)))
    return Identity(
        subject=cert.subject.rfc4514_string(),
        names=names.dns or names.common_names,
        root=issuer_id(cert),
        chain=(cert, *intermediates),
    )


def presented_identity(pem: bytes | str) -> Identity | None:
    """What a server or client presents from a certificate file: the first certificate, then the rest."""
    certs = load_certs(pem)
    return identity(certs[0], certs[1:]) if certs else None


def trust_store(pem: bytes | str, symbolic: Iterable[str] = ()) -> TrustStore:
    """The CAs of a CA file (``ca.crt``, ``--cacert``, ``ssl_client_certificate``), plus any symbolic roots."""
    return TrustStore(symbolic=frozenset(symbolic), cas=tuple(load_certs(pem)))


def secret_data(secret: dict[str, Any]) -> dict[str, bytes]:
    """A Secret's data decoded (``stringData`` counts as well, as the API server would merge it)."""
    out = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    out.update({k: v.encode() for k, v in (secret.get("stringData") or {}).items()})
    return out


def certificate_time(clock: VirtualClock) -> datetime:
    """The moment certificates are checked at: the simulated clock's date.

    Certificates a learner makes start now, by this machine's clock, so the simulated date must follow
    it, and a simulated wait (``/delay/N``) must move it on. A clock that tells its date is asked for it;
    a clock that only counts seconds from its start is read as this machine's time plus those seconds.
    """
    dated = getattr(clock, "datetime", None)
    if callable(dated):
        return dated()  # type: ignore[no-any-return]
    return datetime.now(timezone.utc) + timedelta(seconds=clock.now())


# -- chain verification


def _key_identifier(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    return ext.key_identifier if isinstance(ext, x509.AuthorityKeyIdentifier) else ext.digest  # type: ignore[attr-defined]


def _signature_key_type(cert: x509.Certificate) -> type | None:
    """The kind of key that signed ``cert``, from its signature algorithm."""
    params = cert.signature_algorithm_parameters
    if isinstance(params, (padding.PKCS1v15, padding.PSS)):
        return rsa.RSAPublicKey
    if isinstance(params, ec.ECDSA):
        return ec.EllipticCurvePublicKey
    return None  # Ed25519/Ed448/DSA: not told apart here, the signature check decides


def _names_and_keys_fit(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    """OpenSSL's X509_check_issued: the names match, the key ids match when both are present, and the
    issuer's key type fits the signature algorithm."""
    if issuer.subject != cert.issuer:
        return False
    aki = _key_identifier(cert, x509.AuthorityKeyIdentifier)
    ski = _key_identifier(issuer, x509.SubjectKeyIdentifier)
    if aki is not None and ski is not None and aki != ski:
        return False
    wanted = _signature_key_type(cert)
    return wanted is None or isinstance(issuer.public_key(), wanted)


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _self_signed(cert: x509.Certificate) -> bool:
    """OpenSSL's EXFLAG_SS: the certificate names itself as issuer and its key ids and key type fit."""
    return _names_and_keys_fit(cert, cert)


def _valid_at(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _find_issuer(
    cert: x509.Certificate, candidates: Iterable[x509.Certificate], now: datetime
) -> x509.Certificate | None:
    """OpenSSL's choice among possible issuers (in file order): the first valid at ``now``, else the one
    that expired last. The signature is not looked at here: a wrong pick fails its signature check later."""
    found = [c for c in candidates if c != cert and _names_and_keys_fit(c, cert)]
    current = next((c for c in found if _valid_at(c, now)), None)
    return current or max(found, key=lambda c: c.not_valid_after_utc, default=None)


def _is_ca(cert: x509.Certificate, *, intermediate: bool) -> bool:
    """OpenSSL's X509_check_ca as chain checks apply it: keyUsage, when present, must allow keyCertSign;
    then basicConstraints decides. Without it, only the top of the chain may still pass, as a self-signed
    v1 certificate or one whose keyUsage has keyCertSign (intermediates are held to CA:TRUE)."""
    try:
        usage: x509.KeyUsage | None = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.key_cert_sign:
        return False
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        pass
    return not intermediate and ((cert.version == x509.Version.v1 and _self_signed(cert)) or usage is not None)


def _build_path(
    chain: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate], now: datetime, max_depth: int
) -> tuple[list[x509.Certificate], str | None]:
    """OpenSSL's chain building: from the leaf, issuers from the trust store first, then from the certificates
    the peer sent. Returns the path and why it does not end at a trust anchor (``None`` when it does)."""
    path = [chain[0]]
    untrusted = list(chain[1:])
    while True:
        current = path[-1]
        if current in anchors and _self_signed(current):
            return path, None
        if len(path) >= max_depth + 2:  # the leaf, max_depth CAs, and still no trust anchor
            return path, CERT_CHAIN_TOO_LONG
        issuer = _find_issuer(current, anchors, now)
        if issuer is not None:
            path.append(issuer)
            if _self_signed(issuer):
                return path, None
            continue  # a trusted CA that is not a root: OpenSSL goes on looking for its issuer
        issuer = None if _self_signed(current) else _find_issuer(current, [c for c in untrusted if c not in path], now)
        if issuer is None:
            break
        path.append(issuer)
    top = path[-1]
    if _self_signed(top):
        return path, DEPTH_ZERO_SELF_SIGNED_CERT if len(path) == 1 else SELF_SIGNED_CERT_IN_CHAIN
    return path, UNABLE_TO_GET_ISSUER_CERT if top in anchors else UNABLE_TO_GET_ISSUER_CERT_LOCALLY


def verify_chain(
    chain: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    now: datetime,
    max_depth: int = MAX_DEPTH,
    *,
    keep_going: bool = False,
) -> str | None:
    """``None`` when ``chain`` (leaf first, then untrusted intermediates) leads to one of ``anchors``;
    otherwise OpenSSL's reason.

    The checks run in OpenSSL's order: build the path, check that each issuer is a CA, then from the top
    down each signature and validity period. ``max_depth`` counts the CAs between the leaf and the trust
    anchor, as ``-verify_depth`` does. OpenSSL stops at the first error unless the application's verify
    callback says to go on, as nginx's does (it decides later, per request); then the result is the last
    error seen: ``keep_going`` models that.
    """
    errors: list[str] = []

    def stop(reason: str) -> bool:
        errors.append(reason)
        return not keep_going

    path, unfinished = _build_path(chain, anchors, now, max_depth)
    if unfinished == CERT_CHAIN_TOO_LONG or (unfinished is not None and stop(unfinished)):
        return unfinished
    issuers = [(c, i < len(path) - 1) for i, c in enumerate(path) if i > 0]
    if any(not _is_ca(c, intermediate=inner) and stop(INVALID_CA) for c, inner in issuers):
        return INVALID_CA
    top = len(path) - 1
    if not _self_signed(path[top]):
        # A path that ends below a root: OpenSSL can't check the top certificate's signature.
        if top == 0:  # only reached when keep_going: the error above was already reported
            stop(UNABLE_TO_VERIFY_LEAF_SIGNATURE)
            return errors[-1]
        top -= 1
    for depth in range(top, -1, -1):
        cert = path[depth]
        # A self-issued top certificate is a trust anchor (or already reported): its own signature is not checked.
        if depth + 1 < len(path) and not _signed_by(cert, path[depth + 1]) and stop(CERT_SIGNATURE_FAILURE):
            return CERT_SIGNATURE_FAILURE
        if now < cert.not_valid_before_utc and stop(CERT_NOT_YET_VALID):
            return CERT_NOT_YET_VALID
        if now > cert.not_valid_after_utc and stop(CERT_HAS_EXPIRED):
            return CERT_HAS_EXPIRED
    return errors[-1] if errors else None


def verify_peer(
    presented: Identity,
    trust: TrustStore,
    now: datetime,
    *,
    hostname: str | None = None,
    subject_alt_names: Sequence[str] = (),
    max_depth: int = MAX_DEPTH,
    keep_going: bool = False,
) -> Rejection | None:
    """The one check a TLS endpoint makes on its peer's certificate. ``None`` when it passes.

    The chain must lead to a root in ``trust`` (real or symbolic). ``hostname`` adds curl's host name
    check (for clients that verify the host, as curl does by default); ``subject_alt_names`` adds a
    DestinationRule's exact SAN match (Envoy's ``match_typed_subject_alt_names``). ``max_depth`` and
    ``keep_going``: see ``verify_chain``.
    """
    if presented.chain:
        reason = verify_chain(presented.chain, trust.cas, now, max_depth, keep_going=keep_going)
    else:
        reason = None if presented.root in trust.symbolic else UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    if reason is not None:
        return Rejection("chain", reason)
    if hostname is not None:
        bad = hostname_mismatch(presented, hostname)
        if bad is not None:
            return Rejection("hostname", bad)
    bad = san_mismatch(presented, subject_alt_names)
    if bad is not None:
        return Rejection("subjectAltNames", bad)
    return None


# -- Secrets


def _root_from(data: dict[str, bytes], name: str) -> TrustStore | Outcome:
    """Istio's ExtractRoot: ``cacert``, else ``ca.crt``. A CRL beside it is refused: revocation is not modelled."""
    for ca_key, crl_key in zip(CA_KEYS, ("crl", "ca.crl"), strict=True):
        if data.get(ca_key):
            if data.get(crl_key):
                return Outcome.failed(
                    TLS_FAILED,
                    f"Secret {name}: {crl_key} (a certificate revocation list) is not modelled by the offline "
                    "simulator; remove it, or run this on a kind cluster",
                )
            trust = trust_store(data[ca_key])
            if not trust:
                return Outcome.failed(TLS_FAILED, f"Secret {name}: {ca_key} holds no PEM certificate")
            return trust
    return Outcome.failed(TLS_FAILED, f"Secret {name} has no CA certificate: expected key cacert or ca.crt")


#: Istio's key order in a credentialName Secret (the SDS secret controller): ``cert``/``key`` before
#: ``tls.crt``/``tls.key``; the CA from ``cacert`` before ``ca.crt``.
CERT_KEY_PAIRS = (("cert", "key"), ("tls.crt", "tls.key"))
CA_KEYS = ("cacert", "ca.crt")
CA_SUFFIX = "-cacert"  # Istio's SdsCaSuffix: the CA half of a credentialName


@dataclass(frozen=True)
class SdsPem:
    """The PEM an SDS resource holds: a certificate and key, or a CA (the ``-cacert`` resource)."""

    cert: bytes | None = None
    key: bytes | None = None
    ca: bytes | None = None


def sds_pem(store: Any, namespace: str, resource: str) -> SdsPem | None:
    """What SDS serves for ``kubernetes://<resource>`` from the Secrets in ``namespace``. A ``<name>-cacert``
    resource is the CA, from a Secret of that name when it exists, else from Secret ``<name>``. None:
    no Secret, or none of the keys Istio reads."""
    if resource.endswith(CA_SUFFIX):
        base = resource.removesuffix(CA_SUFFIX)
        obj = store.raw("", "Secret", namespace, resource) or store.raw("", "Secret", namespace, base)
        data = secret_data(obj) if obj is not None else {}
        ca = next((data[k] for k in CA_KEYS if data.get(k)), None)
        return SdsPem(ca=ca) if ca else None
    obj = store.raw("", "Secret", namespace, resource)
    data = secret_data(obj) if obj is not None else {}
    pair = next(((data[c], data[k]) for c, k in CERT_KEY_PAIRS if data.get(c) and data.get(k)), None)
    return SdsPem(cert=pair[0], key=pair[1]) if pair else None


class Pki:
    def from_secret(
        self, secret: dict[str, Any] | None, ca_secret: dict[str, Any] | None = None
    ) -> tuple[TrustStore | None, Identity | None] | Outcome:
        """A ``credentialName`` as Istio's SDS reads it: the certificate and key from ``cert``/``key``, else
        ``tls.crt``/``tls.key``; the CA from the ``<name>-cacert`` Secret when it exists (``ca_secret``),
        else from the same Secret. ``None`` trust: no CA anywhere, so the default trust applies."""
        trust: TrustStore | None = None
        if ca_secret is not None:
            root = _root_from(secret_data(ca_secret), ca_secret["metadata"]["name"])
            if isinstance(root, Outcome):
                return root
            trust = root
        if secret is None:
            return trust, None
        data = secret_data(secret)
        name = secret["metadata"]["name"]
        if trust is None and any(data.get(k) for k in CA_KEYS):
            root = _root_from(data, name)
            if isinstance(root, Outcome):
                return root
            trust = root
        pair = next(((c, k) for c, k in CERT_KEY_PAIRS if data.get(c) and data.get(k)), None)
        if pair is None:  # SDS has no client certificate to serve: MUTUAL fails, SIMPLE needs none
            return trust, None
        ident = presented_identity(data[pair[0]])
        if ident is None:
            return Outcome.failed(TLS_FAILED, f"Secret {name}: {pair[0]} holds no PEM certificate")
        return trust, ident
