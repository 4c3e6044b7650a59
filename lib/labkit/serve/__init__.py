"""``labkit serve``: the simulated mesh behind the Kubernetes REST API, for the kube backend and kubectl.

A local HTTPS server on 127.0.0.1 answers discovery, object CRUD (server-side apply included), pod logs
and pod exec from a ``SimBackend``, and writes a kubeconfig whose context is ``kind-labkit-sim``, with
the server's CA and the bearer token every request must carry. It lets the real-cluster code path (the
``kubernetes`` client, ``kubectl``) run with no cluster at all.
"""

from __future__ import annotations

from .kubeconfig import CONTEXT
from .server import ApiServer

__all__ = ["CONTEXT", "ApiServer"]
