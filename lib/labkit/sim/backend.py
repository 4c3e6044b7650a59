"""``SimBackend``: the Backend contract, answered by the simulated mesh."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from .. import schema
from ..backend import NETWORK_POLICY_ITEM, DoctorItem, ExecResult
from ..errors import LabkitError, NotReady
from ..kinds import check_simulated
from ..manifests import Ref
from ..patch import merge_patch
from ..result import CurlResult
from . import coverage, shell, squid
from .client import SimCurl
from .cluster import is_ready
from .mesh import Mesh
from .store import group_of
from .topology import ISTIO_VERSION, SimOptions


class SimBackend:
    name = "sim"
    simulated = True

    def __init__(self, options: SimOptions | None = None, **overrides: Any) -> None:
        options = replace(options or SimOptions(), **overrides)
        self.mesh = Mesh(options)
        self.istio_namespace = options.istio_namespace
        self._curl = SimCurl(self.mesh)

    def describe(self) -> str:
        return f"simulated mesh (a model of Istio {ISTIO_VERSION} on kind; real time, simulated waits cost none)"

    def close(self) -> None:
        """The simulated mesh lives in this process and holds nothing to release."""

    def now(self) -> float:
        return self.mesh.clock.now()

    def sleep(self, seconds: float) -> None:
        self.mesh.clock.sleep(seconds)

    # -- objects
    def apply(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        schema.validate(docs)  # the simulated API server is as strict as the real one
        coverage.validate(docs)  # and refuses Istio fields the simulator would silently ignore
        ordered = sorted(docs, key=lambda d: d.get("kind") != "Namespace")
        created = {d["metadata"]["name"] for d in ordered if d.get("kind") == "Namespace"}
        for doc in ordered:
            ns = doc["metadata"].get("namespace")
            if ns and ns not in created and self.mesh.store.raw("", "Namespace", None, ns) is None:
                raise LabkitError(f'namespaces "{ns}" not found', hint=f"create namespace {ns} first")
        return [self.mesh.put(copy.deepcopy(doc)) for doc in ordered]

    def delete(self, ref: Ref) -> bool:
        return self.mesh.remove(ref)

    def get(self, ref: Ref) -> dict[str, Any] | None:
        return self.mesh.store.get(ref)

    def check_kind(self, api_version: str, kind: str) -> None:
        """Raise UnknownKind unless the simulated API server stores ``kind`` at ``api_version``."""
        check_simulated(api_version, kind)

    def list_objects(
        self, api_version: str, kind: str, namespace: str | None = None, selector: str | None = None
    ) -> list[dict[str, Any]]:
        return [copy.deepcopy(o) for o in self.mesh.store.select(group_of(api_version), kind, namespace, selector)]

    def patch(self, ref: Ref, patch: Mapping[str, Any]) -> dict[str, Any]:
        current = self.mesh.store.get(ref)
        if current is None:
            raise LabkitError(f"{ref} not found")
        patched = merge_patch(current, patch)
        # A patch is held to what an apply is: valid, and within what the simulator models.
        checked = {k: v for k, v in patched.items() if k != "status"}
        schema.validate([checked])
        coverage.validate([checked])
        return self.mesh.put(patched)

    # -- workloads
    def wait_ready(self, namespace: str, selector: str, timeout: float) -> list[dict[str, Any]]:
        deadline = self.now() + timeout
        while True:
            pods = self.mesh.cluster.pods(namespace, selector)
            if pods and all(is_ready(p) for p in pods):
                return [copy.deepcopy(p) for p in pods]
            if self.now() >= deadline:
                raise NotReady(
                    f"no ready pod matches {selector} in namespace {namespace} after {timeout:g}s",
                    hint=f"kubectl get pods -n {namespace} -l {selector}",
                )
            self.sleep(1.0)

    def _container_check(self, namespace: str, pod: str, container: str) -> str | None:
        obj = self.mesh.store.raw("", "Pod", namespace, pod)
        if obj is None:
            return f'pods "{pod}" not found'
        names = [c["name"] for c in obj["spec"].get("containers", [])]
        if container not in names:
            return f"container {container} is not valid for pod {pod}"
        return None

    def exec(self, namespace: str, pod: str, container: str, argv: list[str], timeout: float) -> ExecResult:
        """Run argv in the container: curl, busybox time, sleep, sh -c with pipelines (``sim.shell``)."""
        problem = self._container_check(namespace, pod, container)
        if problem:
            return ExecResult("", f"error: {problem}\n", 1, 0.0)
        obj = self.mesh.store.raw("", "Pod", namespace, pod)
        assert obj is not None

        def curl(args: list[str], extra_env: dict[str, str]) -> tuple[str, str, int]:
            r = self._curl.run(namespace, pod, container, args, extra_env)
            return r.stdout, r.stderr, r.exit_code

        spec = next(c for c in obj["spec"]["containers"] if c["name"] == container)
        env = {"HOSTNAME": pod, "HOME": "/root", "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
        env.update({e["name"]: e["value"] for e in spec.get("env") or [] if isinstance(e.get("value"), str)})
        context = shell.Pod(
            curl=curl,
            now=self.now,
            sleep=self.sleep,
            read=lambda path: self._pod_file(obj, container, path),
            env=env,
            admin=(lambda path: self._envoy_admin(obj, path)) if container == "istio-proxy" else None,
            discovery=_istiod_debug(self.mesh, obj),
        )
        return shell.execute(context, list(argv))

    def _envoy_admin(self, pod: dict[str, Any], path: str) -> tuple[str, str, int]:
        """Envoy's admin ``config_dump`` for this pod's proxy, from the translator that gives the envoy
        backend its config (``labkit.xds``); other admin paths are refused by name."""
        from ..xds.dump import KINDS, proxy_config  # deferred: the translator is only needed here

        endpoint, _, query = path.lstrip("/").partition("?")
        if endpoint != "config_dump" or query:
            return "", f"admin path /{path.lstrip('/')}: not modelled by the offline simulator (config_dump is)\n", 2
        sections = [proxy_config(self.mesh, pod, kind) for kind in KINDS]
        return json.dumps({"configs": sections}, indent=2) + "\n", "", 0

    def _pod_file(self, pod: dict[str, Any], container: str, path: str) -> bytes | None:
        """A file the container can read: what curl wrote there (-o, -D), Squid's access log, and
        mounted Secrets and ConfigMaps."""
        meta = pod["metadata"]
        for found in (
            self._curl.written(meta["namespace"], meta["name"], container, path),
            squid.access_log_file(self.mesh, pod, container, path),
        ):
            if found is not None:
                return found
        return self.mesh.cluster.pod_file(pod, container, path)

    def curl(self, namespace: str, pod: str, container: str, args: list[str], timeout: float) -> CurlResult:
        problem = self._container_check(namespace, pod, container)
        if problem:
            raise LabkitError(problem, hint="lab.deploy_client(...) creates the client pod")
        return self._curl.run(namespace, pod, container, list(args))

    def logs(self, namespace: str, pod: str, container: str, since_seconds: float | None = None) -> list[str]:
        return self.mesh.logs(namespace, pod, container, since_seconds)

    def doctor(self) -> list[DoctorItem]:
        o = self.mesh.options
        mesh_config = self.mesh.mesh_config()
        access_log = bool(mesh_config.get("accessLogFile"))
        policy = (mesh_config.get("outboundTrafficPolicy") or {}).get("mode", "ALLOW_ANY")
        gateway = self.mesh.cluster.pods(o.istio_namespace, "istio=egressgateway")
        return [
            DoctorItem("backend", None, self.describe()),
            DoctorItem(
                "egress gateway",
                bool(gateway),
                "istio-egressgateway ready" if gateway else "not installed",
                "" if gateway else "start the simulator with egress_gateway=True",
            ),
            DoctorItem("access logging", access_log, "accessLogFile: /dev/stdout" if access_log else "off"),
            DoctorItem("outbound policy", None, policy),
            DoctorItem(
                NETWORK_POLICY_ITEM,
                o.enforce_network_policy,
                "enforced" if o.enforce_network_policy else "not enforced",
            ),
        ]


def _istiod_debug(mesh: Mesh, pod: dict[str, Any]) -> Callable[[str], tuple[str, str, int]] | None:
    """istiod's debug API in istiod's pod (``pilot-discovery request GET /debug/syncz``)."""
    from ..serve.istiod_debug import handler  # deferred: serve imports the simulator

    return handler(mesh, pod)
