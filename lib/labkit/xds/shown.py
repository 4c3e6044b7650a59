"""What ``lab.proxy_config(kind, pod=...)`` shows, per backend: the config a proxy holds, as one section
of Envoy's admin config_dump.

- envoy: the running Envoy's own ``/config_dump`` (its admin API), section by section;
- sim: labkit's translation of what the simulated proxy sees (``dump.proxy_config``), in the same shapes;
- kube: the proxy's own dump, read with ``pilot-agent request GET config_dump`` as ``istioctl proxy-config`` does.
"""

from __future__ import annotations

from typing import Any

from ..errors import LabkitError
from .dump import ADMIN, KINDS, proxy_config

#: config_dump's section for each kind (envoy.admin.v3.*ConfigDump).
SECTIONS = {
    "listeners": "ListenersConfigDump",
    "routes": "RoutesConfigDump",
    "clusters": "ClustersConfigDump",
    "secrets": "SecretsConfigDump",
}


def shown_config(driver: Any, kind: str, namespace: str, pod: str) -> dict[str, Any]:
    if kind not in KINDS:
        raise LabkitError(f"proxy_config kind {kind!r}: choose one of {', '.join(KINDS)}")
    if callable(getattr(driver, "config_dump", None)):  # envoy, kube: the proxy's own dump
        dump = driver.config_dump(namespace, pod)
        wanted = ADMIN + SECTIONS[kind]
        return next((c for c in dump.get("configs", []) if c.get("@type") == wanted), {"@type": wanted})
    mesh = getattr(driver, "mesh", None)
    if mesh is None:
        raise LabkitError(
            f"proxy_config is not built for the {getattr(driver, 'name', '?')} backend",
            hint=f"on a cluster: istioctl proxy-config {kind} {pod}.{namespace} -o json",
        )
    obj = mesh.store.raw("", "Pod", namespace, pod)
    if obj is None:
        raise LabkitError(f'pods "{pod}" not found in namespace {namespace}')
    return proxy_config(mesh, obj, kind)
