"""SDS secrets: the Envoy Secret resources behind the names a translation references.

Where the material comes from is the caller's business (files for a real Envoy, Kubernetes Secrets
for the simulator's config dump); this module only gives the names their Secret shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .envoy import SECRET, Obj
from .names import SDS_DEFAULT, SDS_ROOT


@dataclass(frozen=True)
class Material:
    """One secret's content as Envoy data sources (``{"filename": ...}`` or ``{"inline_bytes": ...}``):
    a certificate chain and key, or a CA bundle."""

    certificate_chain: Obj | None = None
    private_key: Obj | None = None
    trusted_ca: Obj | None = None


def is_validation(name: str) -> bool:
    """CA secrets: the mesh root, ``file-root:`` bundles and credentials' ``-cacert`` halves."""
    return name == SDS_ROOT or name.startswith("file-root:") or name.endswith("-cacert")


def secret(name: str, material: Material | None) -> Obj:
    """A Secret named ``name``: a validation context for CA secrets, a TLS certificate for the rest."""
    out: Obj = {"@type": SECRET, "name": name}
    if material is None:
        return out
    if is_validation(name):
        out["validation_context"] = {"trusted_ca": material.trusted_ca} if material.trusted_ca else {}
    else:
        cert: Obj = {}
        if material.certificate_chain:
            cert["certificate_chain"] = material.certificate_chain
        if material.private_key:
            cert["private_key"] = material.private_key
        out["tls_certificate"] = cert
    return out


def workload_secrets() -> tuple[str, str]:
    """The two secrets istio-agent always serves: the workload certificate and the mesh root."""
    return SDS_DEFAULT, SDS_ROOT
