"""The real-cluster backend: server-side apply, readiness, exec and logs through the Kubernetes client."""

from __future__ import annotations

from .backend import KubeBackend
from .context import ALLOW_ENV, check_allowed, guard, probe, resolve_context

__all__ = ["ALLOW_ENV", "KubeBackend", "check_allowed", "guard", "probe", "resolve_context"]
