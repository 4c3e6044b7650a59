"""Waiting until the workloads behind a label selector can serve: rollout done, every container ready.

"Every container" includes the ``istio-proxy`` sidecar, whether injected as an ordinary container or
as a native sidecar (an init container with ``restartPolicy: Always``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import NotReady
from ..manifests import selector_matches

SIDECAR = "istio-proxy"
#: Seconds one poll's API request may take.
REQUEST_TIMEOUT = 10
#: Pods in these phases are finished, not starting: they never become ready and are not waited for.
FINISHED = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True)
class Unready:
    """One reason the selector's workloads are not ready yet, and the command that shows why."""

    message: str
    hint: str


def _kubectl(context: str | None) -> str:
    return f"kubectl --context {context}" if context else "kubectl"


def deployment_problems(deployments: list[Any], selector: str, namespace: str, kubectl: str) -> list[Unready]:
    """Rollout status, as ``kubectl rollout status`` judges it, of the Deployments behind ``selector``."""
    problems = []
    for dep in deployments:
        template = dep.spec.template.metadata if dep.spec and dep.spec.template else None
        if not selector_matches(selector, (template.labels if template else None) or {}):
            continue
        name = dep.metadata.name
        status = dep.status
        want = dep.spec.replicas if dep.spec.replicas is not None else 1
        observed = (status.observed_generation if status else None) or 0
        updated = (status.updated_replicas if status else None) or 0
        replicas = (status.replicas if status else None) or 0
        available = (status.available_replicas if status else None) or 0
        if (dep.metadata.generation or 0) > observed:
            message = "the controller has not seen the latest spec yet"
        elif updated < want:
            message = f"{updated} of {want} replicas updated"
        elif replicas > updated:
            message = f"{replicas - updated} old replica(s) still terminating"
        elif available < updated:
            message = f"{available} of {updated} updated replicas available"
        else:
            continue
        problems.append(
            Unready(
                f"deployment {namespace}/{name}: {message}",
                f"{kubectl} -n {namespace} rollout status deployment/{name}",
            )
        )
    return problems


def _state(status: Any) -> str:
    state = getattr(status, "state", None)
    if state is None:
        return "no state reported"
    if state.waiting:
        detail = f": {state.waiting.message}" if state.waiting.message else ""
        return f"waiting: {state.waiting.reason or 'unknown'}{detail}"
    if state.terminated:
        return f"terminated: {state.terminated.reason or 'exit code ' + str(state.terminated.exit_code)}"
    if state.running:
        restarts = getattr(status, "restart_count", 0) or 0
        return "running, readiness probe failing" + (f", {restarts} restart(s)" if restarts else "")
    return "no state reported"


def _sidecar_names(pod: Any) -> set[str]:
    """Init containers that keep running beside the app (native sidecars): they must be ready too."""
    inits = (pod.spec.init_containers if pod.spec else None) or []
    return {c.name for c in inits if getattr(c, "restart_policy", None) == "Always"}


def pod_problems(pod: Any, kubectl: str) -> list[Unready]:
    """Why one pod is not Running with every container (sidecar included) ready; empty when it is."""
    namespace, name = pod.metadata.namespace, pod.metadata.name
    status = pod.status
    phase = (status.phase if status else None) or "Unknown"
    describe = f"{kubectl} -n {namespace} describe pod {name}"
    statuses = list((status.container_statuses if status else None) or [])
    inits = list((status.init_container_statuses if status else None) or [])
    sidecars = _sidecar_names(pod)
    problems = []

    if phase != "Running":
        pending = [s for s in inits if s.name not in sidecars and not (s.state and s.state.terminated)]
        why = f" (init container {pending[0].name!r} {_state(pending[0])})" if pending else ""
        if not why and status and status.reason:
            why = f" ({status.reason}{': ' + status.message if status.message else ''})"
        problems.append(Unready(f"pod {namespace}/{name} is {phase}{why}", describe))

    expected = [c.name for c in (pod.spec.containers if pod.spec else None) or []]
    seen = {s.name: s for s in statuses}
    seen.update({s.name: s for s in inits if s.name in sidecars})
    extra = [s.name for s in statuses if s.name not in expected]
    for cname in dict.fromkeys([*sorted(sidecars), *expected, *extra]):
        cstatus = seen.get(cname)
        if cstatus is not None and cstatus.ready:
            continue
        detail = _state(cstatus) if cstatus is not None else "no status yet"
        kind = "sidecar container" if cname == SIDECAR or cname in sidecars else "container"
        hint = f"{describe}; {kubectl} -n {namespace} logs {name} -c {cname}"
        problems.append(Unready(f"pod {namespace}/{name}: {kind} {cname!r} is not ready ({detail})", hint))
    return problems


def check(
    core: Any, apps: Any, namespace: str, selector: str, context: str | None = None
) -> tuple[list[Unready], list[Any]]:
    """One look: the problems (empty when ready) and the live pods behind ``selector``."""
    kubectl = _kubectl(context)
    deployments = apps.list_namespaced_deployment(namespace, _request_timeout=REQUEST_TIMEOUT).items or []
    problems = deployment_problems(deployments, selector, namespace, kubectl)
    pods = (
        core.list_namespaced_pod(namespace, label_selector=selector or None, _request_timeout=REQUEST_TIMEOUT).items
        or []
    )
    live = [
        p
        for p in pods
        if not p.metadata.deletion_timestamp and ((p.status.phase if p.status else None) not in FINISHED)
    ]
    if not live:
        problems.append(
            Unready(
                f"no running pods match {selector or '(all)'} in namespace {namespace}",
                f"{kubectl} -n {namespace} get pods -l {selector} --show-labels"
                if selector
                else f"{kubectl} -n {namespace} get pods",
            )
        )
    for pod in live:
        problems.extend(pod_problems(pod, kubectl))
    return problems, live


def wait_ready(
    core: Any,
    apps: Any,
    namespace: str,
    selector: str,
    timeout: float,
    *,
    context: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    interval: float = 1.0,
    serialize: Callable[[Any], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Poll until the Deployment rollout is done and every pod behind ``selector`` is Running and ready.

    Returns the pods (as dicts). Raises NotReady after ``timeout`` seconds naming what is still not ready
    and the kubectl command that shows why.
    """
    deadline = clock() + timeout
    while True:
        problems, pods = check(core, apps, namespace, selector, context)
        if not problems:
            return [serialize(p) if serialize else p for p in pods]
        remaining = deadline - clock()
        if remaining <= 0:
            shown = "\n".join(f"  - {p.message}" for p in problems[:6])
            more = f"\n  - ... and {len(problems) - 6} more" if len(problems) > 6 else ""
            raise NotReady(
                f"{selector or 'pods'} in namespace {namespace} not ready after {timeout:g}s:\n{shown}{more}",
                hint=f"See why: {problems[0].hint}",
            )
        sleep(min(interval, remaining))
