"""A small model of TLS: who presents which certificate, and who trusts which issuer.

Public hosts carry certificates from a public root that every client trusts by default, as a real
container's CA bundle does. Certificates a learner generates (PEM) map onto the same model later.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

PUBLIC_ROOT = "public-web-pki"  # stands for the CA bundle in curl images and Envoy's default trust
MESH_ROOT = "istio-mesh-ca"  # istiod's CA, used for ISTIO_MUTUAL between proxies


@dataclass(frozen=True)
class Identity:
    """A certificate: the names it covers and the root it chains to."""

    subject: str
    names: tuple[str, ...]
    root: str

    def covers(self, host: str) -> bool:
        return any(fnmatch.fnmatch(host.lower(), n.lower()) for n in self.names)


@dataclass
class ClientTls:
    """The client side of a handshake: the SNI it sends, what it trusts, and any certificate it offers."""

    sni: str | None
    trusted_roots: frozenset[str] = frozenset({PUBLIC_ROOT})
    verify: bool = True
    client_identity: Identity | None = None
    alpn: tuple[str, ...] = ("h2", "http/1.1")
    via: list[str] = field(default_factory=list)


def public_identity(host: str) -> Identity:
    return Identity(subject=host, names=(host, f"*.{host.split('.', 1)[-1]}"), root=PUBLIC_ROOT)
