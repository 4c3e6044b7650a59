"""Reading istiod's debug state the way an operator does: ``pilot-discovery request GET <path>`` run in
the istiod pod, which asks istiod's own monitoring port (127.0.0.1:15014) and prints the answer
(pilot/cmd/pilot-discovery/request.go; the path's leading slash is optional: pilot/pkg/request)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException

from ..backend import ExecResult
from ..errors import LabkitError
from .apierror import message_of
from .syncstate import ProxySync, SyncStateUnreadable, parse

SYNCZ = "/debug/syncz"
#: istiod's pods carry ``app=istiod`` (istio-discovery chart); its container is named ``discovery``.
ISTIOD_SELECTOR = "app=istiod"
DISCOVERY_CONTAINER = "discovery"
#: Seconds one read may take (istiod answers from memory, in milliseconds).
EXEC_TIMEOUT = 10.0
REQUEST_TIMEOUT = 10

Exec = Callable[[str, str, str, list[str], float], ExecResult]


def request_argv(path: str) -> list[str]:
    return ["pilot-discovery", "request", "GET", path]


def istiod_pods(core: Any, namespace: str) -> list[tuple[str, str]]:
    """(pod, container) of every running istiod pod; the container is ``discovery``, or the only one."""
    try:
        pods = (
            core.list_namespaced_pod(namespace, label_selector=ISTIOD_SELECTOR, _request_timeout=REQUEST_TIMEOUT).items
            or []
        )
    except ApiException as exc:
        raise SyncStateUnreadable(f"cannot list istiod's pods in {namespace}: {message_of(exc)}") from None
    out = []
    for pod in pods:
        if pod.metadata.deletion_timestamp or (pod.status.phase if pod.status else None) != "Running":
            continue
        names = [c.name for c in (pod.spec.containers if pod.spec else None) or []]
        container = DISCOVERY_CONTAINER if DISCOVERY_CONTAINER in names or not names else names[0]
        out.append((pod.metadata.name, container))
    return out


def read_syncz(core: Any, run: Exec, namespace: str) -> dict[str, ProxySync]:
    """Every proxy's sync state from every istiod replica (each knows the proxies connected to it)."""
    pods = istiod_pods(core, namespace)
    if not pods:
        raise SyncStateUnreadable(f"no running istiod pod ({ISTIOD_SELECTOR}) in namespace {namespace}")
    merged: dict[str, ProxySync] = {}
    for pod, container in pods:
        argv = request_argv(SYNCZ)
        try:
            result = run(namespace, pod, container, argv, EXEC_TIMEOUT)
        except LabkitError as exc:  # the exec itself was refused, e.g. no pods/exec permission
            raise SyncStateUnreadable(str(exc)) from None
        if result.exit_code != 0:
            why = (result.stderr.strip().splitlines() or [f"exit code {result.exit_code}"])[-1]
            raise SyncStateUnreadable(f"`{' '.join(argv)}` in {namespace}/{pod} failed: {why}")
        merged.update(parse(result.stdout))
    return merged
