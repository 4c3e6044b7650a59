"""The content behind each SDS secret name a translation uses, for one proxy of the mesh.

- ``kubernetes://<name>`` (a ``credentialName``): the Kubernetes Secret in the proxy's namespace, with
  Istio's formats ``tls.crt``/``tls.key``/``ca.crt`` or ``cert``/``key``/``cacert``; ``...-cacert`` is the
  CA, from a Secret named ``<name>-cacert`` when it exists, else from ``<name>`` itself;
- ``default`` and ``ROOTCA``: the workload certificate and the mesh root from the run's mesh CA;
- ``file-root:system``: the pods' CA bundle (the lab CAs the world's servers use);
- ``file-root:<path>``, ``file-cert:<cert>~<key>``: files mounted into the proxy's container.

A secret without content (a Secret that does not exist) is None: Envoy then never gets its certificate,
as with istiod, which does not push a credential it cannot read.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..sim.pki import sds_pem
from ..xds.names import SDS_DEFAULT, SDS_ROOT, SDS_SYSTEM_ROOT
from ..xds.secrets import Material
from .meshca import MeshCa

if TYPE_CHECKING:
    from ..sim.mesh import Mesh

PROXY_CONTAINER = "istio-proxy"


def _inline(data: bytes) -> dict[str, str]:
    return {"inline_bytes": base64.b64encode(data).decode()}


def material_of(mesh: Mesh, pod: dict[str, Any], ca: MeshCa, system_roots: bytes) -> Callable[[str], Material | None]:
    namespace = pod["metadata"]["namespace"]
    account = pod["spec"].get("serviceAccountName") or "default"

    def material(name: str) -> Material | None:
        if name == SDS_DEFAULT:
            cert = ca.workload(namespace, account)
            return Material(certificate_chain=_inline(cert.chain_pem), private_key=_inline(cert.key_pem))
        if name == SDS_ROOT:
            return Material(trusted_ca=_inline(ca.root_pem))
        if name == SDS_SYSTEM_ROOT:
            return Material(trusted_ca=_inline(system_roots))
        if name.startswith("kubernetes://"):
            return _kubernetes(mesh, namespace, name.removeprefix("kubernetes://"))
        if name.startswith("file-root:"):
            data = mesh.cluster.pod_file(pod, PROXY_CONTAINER, name.removeprefix("file-root:"))
            return Material(trusted_ca=_inline(data)) if data else None
        if name.startswith("file-cert:"):
            cert_path, _, key_path = name.removeprefix("file-cert:").partition("~")
            cert_pem = mesh.cluster.pod_file(pod, PROXY_CONTAINER, cert_path)
            key_pem = mesh.cluster.pod_file(pod, PROXY_CONTAINER, key_path)
            if not cert_pem or not key_pem:
                return None
            return Material(certificate_chain=_inline(cert_pem), private_key=_inline(key_pem))
        return None

    return material


def _kubernetes(mesh: Mesh, namespace: str, secret_name: str) -> Material | None:
    """A credentialName Secret as SDS serves it (one reader for the simulator, the dump and this backend)."""
    pem = sds_pem(mesh.store, namespace, secret_name)
    if pem is None:
        return None
    if pem.ca is not None:
        return Material(trusted_ca=_inline(pem.ca))
    assert pem.cert is not None and pem.key is not None  # sds_pem gives a CA or a whole pair
    return Material(certificate_chain=_inline(pem.cert), private_key=_inline(pem.key))
