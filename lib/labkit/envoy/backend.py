"""``EnvoyBackend``: the Backend contract with labkit's control plane and a real data plane.

Objects, validation, the simulator's coverage refusals and the controllers (Deployments → Pods,
Services, sidecar injection, istiod's push delay) are the simulator's ``Mesh``, unchanged. Every pod it
makes is real (``DataPlane``): a network namespace, istio-init's capture and an Envoy for a sidecar, an
Envoy for a gateway, a bare namespace for the rest. ``MeshSync`` hands each Envoy what labkit's
translator makes of the config it sees, before any command runs in a pod. Commands, curl included,
are real and run on real time: ``/delay/5`` takes five seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..backend import DoctorItem, ExecResult
from ..curl import remote
from ..errors import LabkitError
from ..manifests import Ref
from ..result import CurlResult
from ..sim.backend import SimBackend
from ..sim.topology import SimOptions
from . import hops, preflight
from .apps import NGINX, SQUID
from .plane import DataPlane
from .preflight import ENVOY_VERSION
from .sync import MeshSync
from .volumes import rewrite
from .volumes import write as write_volumes

#: Exit code of a command still running at its deadline (GNU timeout's), and curl's own for a timeout.
TIMEOUT_EXIT_CODE = 124
CURL_TIMEOUT_EXIT_CODE = 28
#: Extra seconds past a curl's own timeout, so curl can report exit 28 itself (as on kube).
CURL_GRACE = 5.0
PROXY_CONTAINER = "istio-proxy"
#: Just over the proxies' access-log flush interval (proxy.FILE_FLUSH_MSEC, 20 ms).
ACCESS_LOG_FLUSH = 0.03
POD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: istiod's push delay on this backend: none. A change is pushed as soon as it is stored; before anything
#: looks at the data plane (a command, a log, a config dump, a pod's readiness) every Envoy gets what it
#: should hold by then, and the look waits until Envoy has accepted it (its xDS ``version_text`` stats,
#: nothing warming): the readiness ``istioctl experimental wait`` reads on a cluster. The simulator's
#: modelled delay (``SimOptions.push_delay``, one second) would only put a sleep in front of that real
#: signal; passing ``push_delay`` (``sim_options`` in ``labkit.connect``) brings it back.
PUSH_DELAY = 0.0


class EnvoyBackend(SimBackend):
    name = "envoy"
    simulated = False
    #: How long a check looks again for an access-log line: the proxies flush every 20 ms
    #: (proxy.FILE_FLUSH_MSEC), and a TCP proxy writes its line when the connection closes.
    access_log_flush_wait = 0.5
    #: Headers only Istio's proxy build adds, with the filter that adds them (``hops.ISTIO_ONLY_HEADERS``): a
    #: check that expects one can say by name why this backend's requests lack it.
    istio_only_headers = hops.ISTIO_ONLY_HEADERS

    def __init__(self, options: SimOptions | None = None, **overrides: Any) -> None:
        if options is None:
            overrides.setdefault("push_delay", PUSH_DELAY)
        super().__init__(options, **overrides)
        self._last_command = 0.0  # when the last command in a pod ended (or started, while it runs)
        self._flushed_after = 0.0  # when the access-log lines of the last curl had surely been written
        self.plane = DataPlane.start(self.mesh.world)  # refuses (changing nothing) without root or iptables
        try:
            self.sync = MeshSync(self.mesh, self.plane)
            self.sync.run()
        except BaseException:
            self.plane.cleanup()
            raise

    def describe(self) -> str:
        return f"real Envoy {ENVOY_VERSION} data plane and real curl; control plane modelled by labkit"

    def __repr__(self) -> str:
        return f"<EnvoyBackend run {self.plane.run_id}>"

    # -- real time: the Mesh's clock follows the wall clock as long as nothing sleeps on it
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    # -- objects: the simulator's API server, then the data plane follows
    def apply(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        refs = [Ref.of(d) for d in docs]
        before = {ref: self.mesh.store.get(ref) for ref in refs}
        stored = super().apply(docs)
        self._or_undo(before)
        return stored

    def delete(self, ref: Ref) -> bool:
        before = {ref: self.mesh.store.get(ref)}
        removed = super().delete(ref)
        self._or_undo(before)
        return removed

    def patch(self, ref: Ref, patch: Mapping[str, Any]) -> dict[str, Any]:
        before = {ref: self.mesh.store.get(ref)}
        patched = super().patch(ref, patch)
        self._or_undo(before)
        return patched

    def _or_undo(self, before: dict[Ref, dict[str, Any] | None]) -> None:
        """Refuse a change the data plane cannot build (the translator's or the pods' refusals), putting
        the objects back as they were, so a refused change changes nothing.

        The pods and proxies follow at the next look at the data plane (``sync.run()`` in ``exec``,
        ``curl``, ``logs``, ``config_dump`` and ``wait_ready``): writes in a row (a lab's cleanup, several
        manifests) reach each Envoy as one update instead of one per object."""
        try:
            self.sync.preview()
        except LabkitError:
            for ref, old in reversed(list(before.items())):
                if old is None:
                    self.mesh.remove(ref)
                else:
                    self.mesh.put(old)
            raise

    def wait_ready(self, namespace: str, selector: str, timeout: float) -> list[dict[str, Any]]:
        pods = super().wait_ready(namespace, selector, timeout)
        self.sync.run()
        return pods

    # -- workloads
    def exec(self, namespace: str, pod: str, container: str, argv: list[str], timeout: float) -> ExecResult:
        problem = self._container_check(namespace, pod, container)
        if problem:
            return ExecResult("", f"error: {problem}\n", 1, 0.0)
        self.sync.run()  # config istiod has pushed by now reaches the proxies first
        argv = self._local_paths(namespace, pod, container, list(argv))
        return self._run(namespace, pod, container, argv, timeout, TIMEOUT_EXIT_CODE)

    def _local_paths(self, namespace: str, pod: str, container: str, argv: list[str]) -> list[str]:
        """The container's volumes written out now; arguments naming a file under a mountPath point there."""
        obj = self.mesh.store.raw("", "Pod", namespace, pod)
        if obj is None:
            return argv
        directory = self.plane.run.subdir(f"pods/{namespace}.{pod}/volumes", mode=0o700)
        mounts = write_volumes(self.mesh.store, obj, container, directory)
        app = self.sync.apps.get(f"{namespace}/{pod}")
        if app is not None and app.container == container:
            mounts = {**mounts, **app.paths}  # the application's own directories (Squid's logs)
        return [rewrite(a, mounts) for a in argv] if mounts else argv

    def curl(self, namespace: str, pod: str, container: str, args: list[str], timeout: float) -> CurlResult:
        problem = self._container_check(namespace, pod, container)
        if problem:
            raise LabkitError(problem, hint="lab.deploy_client(...) creates the client pod")
        self.sync.run()
        proxies = [p for p in self.plane.pods.values() if p.proxy is not None]
        hop_pods = [
            p for p in proxies if (p.namespace, p.name) == (namespace, pod) or (p.proxy and p.proxy.kind == "router")
        ]
        marks = hops.log_marks(hop_pods)
        argv = remote.build_command(self._local_paths(namespace, pod, container, list(args)))
        result = self._run(namespace, pod, container, argv, timeout + CURL_GRACE, CURL_TIMEOUT_EXIT_CODE)
        curl = remote.to_result(list(args), result)
        time.sleep(ACCESS_LOG_FLUSH)  # the lines of this request reach the files
        self._flushed_after = time.monotonic()
        real = hops.trace(hop_pods, marks, curl.command)
        return replace(curl, traces=[real]) if real.hops else curl

    def _run(
        self, namespace: str, pod: str, container: str, argv: list[str], timeout: float, timeout_code: int
    ) -> ExecResult:
        real = self.plane.pods.get(f"{namespace}/{pod}")
        if real is None:
            return ExecResult("", f"error: pod {namespace}/{pod} has no real namespace\n", 1, 0.0)
        obj = self.mesh.store.raw("", "Pod", namespace, pod) or {}
        spec: dict[str, Any] = next(
            (c for c in obj.get("spec", {}).get("containers", []) if c["name"] == container), {}
        )
        env = {"HOSTNAME": pod, "HOME": "/root", "PATH": POD_PATH, "LANG": "C.UTF-8"}
        env.update({e["name"]: e["value"] for e in spec.get("env") or [] if isinstance(e.get("value"), str)})
        started = self._last_command = time.monotonic()
        proc = subprocess.Popen(
            real.view.wrap(real.ns, argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=env,
            start_new_session=True,  # a timeout ends the command and everything it started
        )
        try:
            out, err = proc.communicate(timeout=timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            code = timeout_code
            err += f"labkit: the command was still running after {timeout:g}s and was stopped\n"
        self._last_command = time.monotonic()
        return ExecResult(out, err, code, self._last_command - started)

    def logs(self, namespace: str, pod: str, container: str, since_seconds: float | None = None) -> list[str]:
        """The istio-proxy container's log is Envoy's access log (stdout); nginx's is its output; other
        containers log nothing here."""
        self.sync.run()
        real = self.plane.pods.get(f"{namespace}/{pod}")
        app = self.sync.apps.get(f"{namespace}/{pod}")
        if container != PROXY_CONTAINER and app is not None:
            return app.lines()
        if container != PROXY_CONTAINER or real is None or real.proxy is None:
            return []
        # Envoy flushes its access log every 20 ms: wait for the lines of the last command, unless that
        # wait is over already (a curl waits for its own lines before it returns).
        time.sleep(max(0.0, self._last_command + ACCESS_LOG_FLUSH - max(self._flushed_after, time.monotonic())))
        lines = [line for line in real.proxy.access_log() if line.startswith("[")]
        if since_seconds is None:
            return lines
        cutoff = datetime.now(timezone.utc).timestamp() - since_seconds
        return [line for line in lines if _started(line) >= cutoff]

    def config_dump(self, namespace: str, pod: str) -> dict[str, Any]:
        """The pod's Envoy's own ``/config_dump`` (after config istiod has pushed by now reached it)."""
        self.sync.run()
        real = self.plane.pods.get(f"{namespace}/{pod}")
        if real is None or real.proxy is None:
            raise LabkitError(f"pod {namespace}/{pod} runs no Envoy", hint="pick a pod with a sidecar or a gateway")
        return real.proxy.config_dump()

    def doctor(self) -> list[DoctorItem]:
        items = super().doctor()
        machine = [DoctorItem(f"machine: {c.name}", c.ok, c.detail, c.fix) for c in preflight.run().checks]
        for name, binary, needed_by, package in (
            ("nginx", NGINX, "lab 05's server", "nginx-light"),
            ("squid", SQUID, "lab 08's forward proxy", "squid"),
        ):
            there = Path(binary).exists()
            machine.append(
                DoctorItem(
                    f"machine: {name}",
                    there,
                    binary if there else f"missing ({needed_by} needs it)",
                    "" if there else f"apt-get install {package}",
                )
            )
        return [DoctorItem("backend", None, self.describe()), *machine, *items[1:]]

    # -- teardown
    def close(self) -> None:
        self.plane.cleanup()

    cleanup = close


def _started(line: str) -> float:
    """The %START_TIME% of an access-log line (``[2026-01-01T09:00:01.250Z] ...``) as a Unix time."""
    stamp = line[1 : line.index("]")]
    try:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return float("inf")
