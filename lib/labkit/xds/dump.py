"""``proxy_config``: one section of Envoy's admin config_dump for a proxy of the simulated mesh, in
the JSON shapes ``pilot-agent request GET config_dump`` returns (envoy.admin.v3.*ConfigDump), so
``istioctl proxy-config`` style tooling can read it."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from ..sim.cluster import proxy_role
from ..sim.pki import sds_pem
from .config import EnvoyConfig
from .envoy import Obj
from .errors import TranslationError
from .secrets import Material, secret
from .translate import gateway_config, sidecar_config

if TYPE_CHECKING:
    from ..sim.mesh import Mesh

ADMIN = "type.googleapis.com/envoy.admin.v3."
KINDS = ("listeners", "routes", "clusters", "secrets")
#: Envoy's config dump never shows private keys.
REDACTED = {"inline_string": "[redacted]"}


def config_for(mesh: Mesh, pod: dict[str, Any]) -> EnvoyConfig:
    return gateway_config(mesh, pod) if proxy_role(pod) == "router" else sidecar_config(mesh, pod)


def proxy_config(mesh: Mesh, pod: dict[str, Any], kind: str) -> Obj:
    """The ``kind`` section ("listeners" | "routes" | "clusters" | "secrets") of the proxy's config dump."""
    if kind not in KINDS:
        raise TranslationError(f"proxy_config kind {kind!r}: choose one of {', '.join(KINDS)}")
    config = config_for(mesh, pod)
    now = mesh.clock.timestamp()
    version = f"{now[:19]}Z/1"
    if kind == "listeners":
        items = [
            {"name": x["name"], "active_state": {"version_info": version, "listener": x, "last_updated": now}}
            for x in config.listeners
        ]
        return {"@type": ADMIN + "ListenersConfigDump", "version_info": version, "dynamic_listeners": items}
    if kind == "routes":
        items = [{"version_info": version, "route_config": x, "last_updated": now} for x in config.routes]
        return {"@type": ADMIN + "RoutesConfigDump", "dynamic_route_configs": items}
    if kind == "clusters":
        items = [{"version_info": version, "cluster": x, "last_updated": now} for x in config.clusters]
        return {"@type": ADMIN + "ClustersConfigDump", "version_info": version, "dynamic_active_clusters": items}
    return secrets_dump(mesh, pod, config, version, now)


def secrets_dump(mesh: Mesh, pod: dict[str, Any], config: EnvoyConfig, version: str, now: str) -> Obj:
    """credentialName secrets come from the Kubernetes Secret in the proxy's namespace; one that does
    not exist never arrives, so Envoy keeps it warming. The workload certificate and mesh root (and
    ``file-`` secrets) exist on a real proxy but have no PEM in the simulator: shown without content."""
    active, warming = [], []
    for name in config.secrets:
        entry: Obj = {"name": name, "version_info": version, "last_updated": now}
        if name.startswith("kubernetes://"):
            material = _kubernetes_material(mesh, pod["metadata"]["namespace"], name)
            if material is None:
                warming.append({"name": name, "version_info": "uninitialized", "secret": secret(name, None)})
                continue
            entry["secret"] = secret(name, material)
        else:
            entry["secret"] = secret(name, None)
        active.append(entry)
    out: Obj = {"@type": ADMIN + "SecretsConfigDump", "dynamic_active_secrets": active}
    if warming:
        out["dynamic_warming_secrets"] = warming
    return out


def _kubernetes_material(mesh: Mesh, namespace: str, name: str) -> Material | None:
    """A credentialName Secret as SDS serves it (``sim.pki.sds_pem``), with the private key redacted as
    Envoy's config dump shows it."""
    pem = sds_pem(mesh.store, namespace, name.removeprefix("kubernetes://"))
    if pem is None:
        return None
    if pem.ca is not None:
        return Material(trusted_ca=_inline(pem.ca))
    return Material(certificate_chain=_inline(pem.cert), private_key=REDACTED)


def _inline(data: bytes | None) -> Obj | None:
    return {"inline_bytes": base64.b64encode(data).decode()} if data else None
