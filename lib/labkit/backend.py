"""The contract both backends meet. ``Lab`` speaks only this; it never knows which one it has."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from .manifests import Ref
from .result import CurlResult


@dataclass(frozen=True)
class ExecResult:
    """A command run in a container: its output and exit code."""

    stdout: str
    stderr: str
    exit_code: int
    elapsed: float


#: The doctor item that says whether the cluster's CNI enforces NetworkPolicy (lab 04 needs it).
NETWORK_POLICY_ITEM = "NetworkPolicy enforcement"


@dataclass(frozen=True)
class DoctorItem:
    """One line of ``labkit doctor``: what was checked, whether it is fine, and the fix if not."""

    name: str
    ok: bool | None  # None: informational / not applicable
    detail: str
    fix: str = ""


@runtime_checkable
class Backend(Protocol):
    #: "sim" or "kube"
    name: str
    #: True when results come from the simulator, never from a real mesh
    simulated: bool
    #: Where Istio's control plane, gateways and the ``istio`` ConfigMap live
    istio_namespace: str

    def describe(self) -> str:
        """One line for banners: the context or 'simulated mesh'."""
        ...

    def close(self) -> None:
        """Release what the backend holds (API connections, a data plane); safe to call twice."""
        ...

    # -- time: the sim has a virtual clock so /delay/5 and retries cost no real time
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    # -- objects (documents arrive validated, namespaced and labelled by Lab)
    def apply(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create or update each object (server-side apply on kube); return them as stored."""
        ...

    def delete(self, ref: Ref) -> bool:
        """Delete one object; False when it was already gone."""
        ...

    def get(self, ref: Ref) -> dict[str, Any] | None: ...

    def list_objects(
        self, api_version: str, kind: str, namespace: str | None = None, selector: str | None = None
    ) -> list[dict[str, Any]]: ...

    def patch(self, ref: Ref, patch: Mapping[str, Any]) -> dict[str, Any]:
        """JSON merge patch (labels, ConfigMap data)."""
        ...

    # -- workloads
    def wait_ready(self, namespace: str, selector: str, timeout: float) -> list[dict[str, Any]]:
        """Wait for the pods behind ``selector`` to be Ready with every container (the sidecar too)."""
        ...

    def exec(self, namespace: str, pod: str, container: str, argv: list[str], timeout: float) -> ExecResult: ...

    def curl(self, namespace: str, pod: str, container: str, args: list[str], timeout: float) -> CurlResult:
        """Run ``curl *args`` in the container and parse what it printed into a CurlResult."""
        ...

    def logs(self, namespace: str, pod: str, container: str, since_seconds: float | None = None) -> list[str]: ...

    def doctor(self) -> list[DoctorItem]: ...
