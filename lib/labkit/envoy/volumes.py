"""A container's Secret and ConfigMap volumes as files in the run directory.

The host's file system is never written outside the run directory, so a volume cannot appear at its
``mountPath`` (``/etc/nginx-client-certs`` does not exist on the host to bind-mount over). Instead each
volume's keys are written to a directory of the pod, and the paths a command or a config file names
under a ``mountPath`` are rewritten to that directory (``rewrite``).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import LabkitError

if TYPE_CHECKING:
    from ..sim.store import ObjectStore

#: mountPath -> the directory holding that volume's files
Mounts = dict[str, Path]


class VolumeNotBuilt(LabkitError):
    """A volume kind the envoy backend does not write."""


def check(pod: dict[str, Any], container: str) -> None:
    """Refuse, by name, a volume of the container that ``write`` would not write."""
    spec = next((c for c in pod["spec"].get("containers") or [] if c["name"] == container), None)
    volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
    for mount in (spec or {}).get("volumeMounts") or []:
        volume = volumes.get(mount["name"]) or {}
        if "secret" not in volume and "configMap" not in volume:
            kind = next((k for k in volume if k != "name"), "unknown")
            raise VolumeNotBuilt(
                f"pod {pod['metadata']['namespace']}/{pod['metadata']['name']}: volume {mount['name']} ({kind}) "
                "is not written by the envoy backend (Secret and ConfigMap volumes only)",
                hint="mount a Secret or a ConfigMap, or run this lab on a kind cluster",
            )


def write(store: ObjectStore, pod: dict[str, Any], container: str, directory: Path) -> Mounts:
    """Write the container's Secret and ConfigMap volumes (their current content) under ``directory``."""
    spec = next((c for c in pod["spec"].get("containers") or [] if c["name"] == container), None)
    volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
    ns = pod["metadata"]["namespace"]
    check(pod, container)
    out: Mounts = {}
    for i, mount in enumerate((spec or {}).get("volumeMounts") or []):
        volume = volumes.get(mount["name"]) or {}
        if "secret" in volume:
            obj = store.raw("", "Secret", ns, volume["secret"]["secretName"]) or {}
            data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
            data.update({k: v.encode() for k, v in (obj.get("stringData") or {}).items()})
        else:
            obj = store.raw("", "ConfigMap", ns, volume["configMap"]["name"]) or {}
            data = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
        target = directory / f"{container}-{i}"
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in target.iterdir():
            stale.unlink()
        for key, value in data.items():
            path = target / key
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(value)
        out[mount["mountPath"].rstrip("/")] = target
    return out


def rewrite(text: str, mounts: Mounts) -> str:
    """``text`` with every path under a mountPath pointing into that volume's directory instead."""
    for mount_path in sorted(mounts, key=len, reverse=True):
        if text == mount_path or text.startswith(mount_path + "/"):
            return str(mounts[mount_path]) + text[len(mount_path) :]
    return text


def rewrite_all(text: str, mounts: Mounts) -> str:
    """Every occurrence of a mountPath in a config file (``"/etc/nginx-server-certs/tls.crt"``)."""
    for mount_path in sorted(mounts, key=len, reverse=True):
        text = text.replace(mount_path + "/", str(mounts[mount_path]) + "/")
    return text
