"""One Envoy process in a pod's network namespace, running as uid 1337 like istio-proxy.

It starts from a bootstrap whose listeners and clusters come from watched files (``XdsFiles``), so
config changes reach it without a restart. Its admin API listens on 127.0.0.1:15000 inside the pod's
namespace; this process reaches it through a socket opened in that namespace.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from ..errors import LabkitError, NotReady
from . import netns
from .bootstrap import ADMIN_PORT, bootstrap, node_id
from .podview import PodView
from .preflight import PROXY_UID
from .rundir import RunDir
from .xds import XdsFiles

#: Istio starts Envoy with two worker threads by default; the flush interval is shorter than Istio's
#: 1 s so an access-log line can be read right after the request that made it (every command waits
#: for it: backend.ACCESS_LOG_FLUSH).
CONCURRENCY = 2
FILE_FLUSH_MSEC = 20


class ProxyError(LabkitError):
    """The proxy did not start, or its admin API did not answer."""


class EnvoyProxy:
    def __init__(
        self,
        *,
        envoy: Path,
        run: RunDir,
        ns: str,
        directory: Path,
        kind: Literal["sidecar", "router"],
        pod: str,
        namespace: str,
        ip: str,
        view: PodView | None = None,
    ) -> None:
        self.envoy = envoy
        self.view = view
        self.run = run
        self.ns = ns
        self.directory = directory
        self.kind = kind
        self.pod = pod
        self.namespace = namespace
        self.ip = ip
        self.xds = XdsFiles(directory / "xds", owner_uid=PROXY_UID)
        self.bootstrap_path = directory / "bootstrap.json"
        self.access_log_path = directory / "access.log"  # Envoy's stdout: the access log goes to /dev/stdout
        self.log_path = directory / "envoy.log"  # Envoy's own log (stderr)
        self.process: subprocess.Popen[bytes] | None = None
        self.start_seconds: float | None = None

    def argv(self, binary: str | None = None) -> list[str]:
        envoy = [
            binary or str(self.envoy),
            "-c", str(self.bootstrap_path),
            "--disable-hot-restart",
            "--concurrency", str(CONCURRENCY),
            "--log-level", "warning",
            "--file-flush-interval-msec", str(FILE_FLUSH_MSEC),
            "--drain-time-s", "1",
        ]  # fmt: skip
        as_proxy = ["setpriv", f"--reuid={PROXY_UID}", f"--regid={PROXY_UID}", "--clear-groups", "--"]
        if self.view is not None:
            # Envoy resolves STRICT_DNS clusters through the pod's /etc/hosts and resolv.conf, like the pod.
            return self.view.wrap(self.ns, [*as_proxy, *envoy])
        return netns.enter_argv(self.ns, [*as_proxy, *envoy])

    def start(self, timeout: float = 15.0) -> None:
        self.xds.empty()
        self.bootstrap_path.write_text(
            json.dumps(
                bootstrap(self.xds, kind=self.kind, pod=self.pod, namespace=self.namespace, ip=self.ip), indent=1
            )
        )
        began = time.monotonic()
        with open(self.access_log_path, "ab") as out, open(self.log_path, "ab") as err:
            for f in (self.access_log_path, self.log_path, self.bootstrap_path):
                # Envoy reopens /dev/stdout by path, which checks the file's owner: it must be uid 1337's.
                os.chown(f, PROXY_UID, PROXY_UID)
            # Opened here (as root) and run as /proc/self/fd/N: uid 1337 may not be allowed to walk the path
            # to the virtual environment (a checkout under /root, say), but it can run an inherited file.
            binary = os.open(self.envoy, os.O_RDONLY | os.O_CLOEXEC)
            try:
                self.process = subprocess.Popen(
                    self.argv(f"/proc/self/fd/{binary}"),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                    pass_fds=(binary,),
                )
            finally:
                os.close(binary)
        self.run.record(self.process.pid, f"envoy {self.kind} {self.pod}.{self.namespace}")
        self._wait(self.ready, timeout, "become ready (GET /server_info answering LIVE with its node id)")
        self.start_seconds = time.monotonic() - began

    # -- admin API

    def admin(self, path: str, method: str = "GET", timeout: float = 5.0) -> tuple[int, str]:
        sock = netns.connect_in(self.ns, "127.0.0.1", ADMIN_PORT, timeout)
        conn = http.client.HTTPConnection("127.0.0.1", ADMIN_PORT, timeout=timeout)
        conn.sock = sock
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def ready(self) -> bool:
        """Envoy answers LIVE, and it is this proxy answering (its node id), not another one on the port."""
        try:
            status, body = self.admin("/server_info", timeout=1.0)
            info = json.loads(body) if status == 200 else {}
        except (OSError, ValueError):
            return False
        return info.get("state") == "LIVE" and info.get("node", {}).get("id") == self.node_id

    @property
    def node_id(self) -> str:
        return node_id(self.kind, self.ip, self.pod, self.namespace)

    def config_dump(self, resource: str = "") -> dict[str, Any]:
        """GET /config_dump, or only one kind of resource (``resource=dynamic_listeners``, Envoy's admin docs)."""
        status, body = self.admin(f"/config_dump?resource={resource}" if resource else "/config_dump")
        if status != 200:
            raise ProxyError(f"{self.pod}: GET /config_dump answered {status}: {body[:200]}")
        return json.loads(body)

    def applied_versions(self) -> dict[str, set[str]]:
        """The xDS versions Envoy has accepted, per resource type.

        Read from the ``version_text`` stats, which change on every accepted update; the config dump's
        version only moves when the resources themselves changed.
        """
        out: dict[str, set[str]] = {"listeners": set(), "clusters": set(), "routes": set(), "secrets": set()}
        status, body = self.admin("/stats?filter=version_text")
        if status != 200:
            raise ProxyError(f"{self.pod}: GET /stats answered {status}: {body[:200]}")
        for line in body.splitlines():
            name, _, value = line.partition(": ")
            value = value.strip().strip('"')
            if name == "listener_manager.lds.version_text":
                out["listeners"].add(value)
            elif name == "cluster_manager.cds.version_text":
                out["clusters"].add(value)
            elif ".rds." in name:
                out["routes"].add(value)
            elif name.startswith("sds."):
                out["secrets"].add(value)
        return out

    def wait_applied(
        self, version: str, kinds: tuple[str, ...] = ("listeners", "clusters"), timeout: float = 5.0
    ) -> None:
        """Wait until Envoy reports ``version`` for each of ``kinds`` (the file-watch reload has happened)."""
        self._wait(
            lambda: all(version in self.applied_versions()[k] for k in kinds), timeout, f"accept xDS version {version}"
        )

    # -- logs

    def access_log(self) -> list[str]:
        try:
            return self.access_log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def wait_access_log(self, contains: str, timeout: float = 3.0) -> str:
        found: list[str] = []

        def check() -> bool:
            found[:] = [line for line in self.access_log() if contains in line]
            return bool(found)

        self._wait(check, timeout, f"write an access-log line containing {contains!r}")
        return found[-1]

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    # -- lifecycle

    def stop(self, grace: float = 3.0) -> None:
        proc, self.process = self.process, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(grace)
        self.run.forget(proc.pid)

    def _wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise ProxyError(
                    f"Envoy for {self.pod}.{self.namespace} exited with code {self.process.returncode} "
                    f"before it could {what}; its log ends with:\n{self.log_tail()}"
                )
            if condition():
                return
            if time.monotonic() > deadline:
                raise NotReady(
                    f"Envoy for {self.pod}.{self.namespace} did not {what} within {timeout:g} s; "
                    f"its log ends with:\n{self.log_tail()}"
                )
            time.sleep(0.02)
