"""The kubeconfig that points kubectl and the Python client at the server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

#: A ``kind-`` context, so labkit's context guard accepts it like any kind cluster.
CONTEXT = "kind-labkit-sim"


def kubeconfig(url: str, token: str, ca_data: str, context: str = CONTEXT) -> dict[str, Any]:
    """HTTPS on loopback with a bearer token: client-go sends a kubeconfig's token to TLS servers only."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": url, "certificate-authority-data": ca_data}}],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": "default"}}],
        "current-context": context,
        "preferences": {},
    }


def write(path: Path, url: str, token: str, ca_data: str, context: str = CONTEXT) -> Path:
    """Write the kubeconfig with mode 0600 from its first byte: it holds the token."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(kubeconfig(url, token, ca_data, context), sort_keys=False)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(tmp, 0o600)  # O_CREAT's mode does not apply to a leftover file of the same name
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
