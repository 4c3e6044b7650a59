"""Where a proxy finds the certificates a DestinationRule names (``credentialName`` through SDS)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..trace import Hop
from . import gatewayapi_deploy
from .messages import TLS_FAILED, Outcome
from .pki import CA_SUFFIX
from .tls import Identity, TrustStore

if TYPE_CHECKING:
    from .mesh import Mesh




class Credentials:
    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh

    def for_client(
        self, pod: dict[str, Any], tls: dict[str, Any], hop: Hop
    ) -> tuple[TrustStore | None, Identity | None] | Outcome:
        """The CAs to trust and the client certificate for upstream TLS. ``None`` trust: the default CA
        bundle. Check the server with ``pki.verify_peer(server, trust, now, subject_alt_names=...)``."""
        name = tls.get("credentialName")
        if not name:
            return None, None
        if gatewayapi_deploy.is_deployed(pod):
            denied = gatewayapi_deploy.secret_access_problem(self.mesh.store.select, pod)
            if denied:
                hop.step("credential", denied)
                return Outcome.failed(TLS_FAILED, f"credentialName {name}: not served to this gateway")
        # SDS reads the Secret from the proxy's own namespace (the gateway's, for a gateway); the CA may
        # sit in a separate "<name>-cacert" Secret, which Istio prefers when it exists.
        ns = pod["metadata"]["namespace"]
        secret = self.mesh.store.raw("", "Secret", ns, name)
        ca_secret = self.mesh.store.raw("", "Secret", ns, f"{name}{CA_SUFFIX}")
        if secret is None and ca_secret is None:
            hop.step(
                "credential",
                f"Secret {ns}/{name} not found: SDS can't serve it, the cluster has no "
                "certificate, so the handshake fails",
            )
            return Outcome.failed(TLS_FAILED, f"credentialName {name}: Secret not found in {ns}")
        found = [f"{ns}/{s['metadata']['name']}" for s in (secret, ca_secret) if s is not None]
        hop.step("credential", f"Secret {' and '.join(found)} (SDS)")
        return self.mesh.pki.from_secret(secret, ca_secret)
