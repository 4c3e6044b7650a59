"""The bootstrap a proxy starts from: its node identity, the admin port, and file-watched LDS/CDS.

Istio's sidecar bootstrap names the node ``sidecar~<pod IP>~<pod>.<namespace>~<namespace>.svc.cluster.local``
(``router~...`` for a gateway) and serves admin on 127.0.0.1:15000; both are kept. Where istiod would
stream config over ADS, the proxy here watches the files that ``XdsFiles`` writes.
"""

from __future__ import annotations

from typing import Any, Literal

from .xds import XdsFiles

ADMIN_PORT = 15000


def node_id(kind: str, ip: str, pod: str, namespace: str) -> str:
    return f"{kind}~{ip}~{pod}.{namespace}~{namespace}.svc.cluster.local"


def bootstrap(
    xds: XdsFiles,
    *,
    kind: Literal["sidecar", "router"],
    pod: str,
    namespace: str,
    ip: str,
    cluster: str | None = None,
) -> dict[str, Any]:
    return {
        "node": {
            "id": node_id(kind, ip, pod, namespace),
            "cluster": cluster or f"{pod}.{namespace}",
        },
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": ADMIN_PORT}}},
        "dynamic_resources": {"lds_config": xds.lds_source(), "cds_config": xds.cds_source()},
    }
