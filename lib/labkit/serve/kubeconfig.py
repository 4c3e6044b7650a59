"""The kubeconfig that points kubectl and the Python client at the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

#: A ``kind-`` context, so labkit's context guard accepts it like any kind cluster.
CONTEXT = "kind-labkit-sim"


def kubeconfig(url: str, token: str, context: str = CONTEXT) -> dict[str, Any]:
    """Plain HTTP on loopback with a bearer token: nothing leaves the machine, so no TLS is needed."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": url}}],
        "users": [{"name": context, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": "default"}}],
        "current-context": context,
        "preferences": {},
    }


def write(path: Path, url: str, token: str, context: str = CONTEXT) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(kubeconfig(url, token, context), sort_keys=False))
    path.chmod(0o600)  # it holds the token
    return path
