"""The mesh's own certificate authority: what istiod's CA and istio-agent serve a proxy as the SDS
secrets ``default`` (the workload certificate, a SPIFFE identity) and ``ROOTCA`` (the mesh root).

One root per run; each workload certificate carries only the URI SAN
``spiffe://cluster.local/ns/<namespace>/sa/<service account>``, as Istio's CA issues it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TRUST_DOMAIN = "cluster.local"


def spiffe_id(namespace: str, service_account: str) -> str:
    return f"spiffe://{TRUST_DOMAIN}/ns/{namespace}/sa/{service_account}"


@dataclass(frozen=True)
class WorkloadCert:
    chain_pem: bytes
    key_pem: bytes


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class MeshCa:
    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.timezone.utc)
        name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, TRUST_DOMAIN)])
        self._name = name
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=10))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.root_pem = self._cert.public_bytes(serialization.Encoding.PEM)
        self._issued: dict[str, WorkloadCert] = {}

    def workload(self, namespace: str, service_account: str) -> WorkloadCert:
        """The workload certificate of ``namespace``/``service_account`` (issued once per run)."""
        identity = spiffe_id(namespace, service_account)
        if identity not in self._issued:
            key = ec.generate_private_key(ec.SECP256R1())
            now = dt.datetime.now(dt.timezone.utc)
            cert = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([]))
                .issuer_name(self._name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(identity)]), critical=True)
                .add_extension(
                    x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                    critical=False,
                )
                .add_extension(
                    x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
                )
                .sign(self._key, hashes.SHA256())
            )
            self._issued[identity] = WorkloadCert(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))
        return self._issued[identity]
