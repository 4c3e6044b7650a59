"""A run of the real data plane: the fabric, the internet, and pods with or without an Envoy.

``DataPlane.start()`` checks the machine (``preflight``), then builds everything under one run id; each
``add_pod`` adds a namespace cabled to the fabric, the pod's view of /etc, optionally istio-init's
capture rules and an Envoy. ``cleanup()`` (also run at interpreter exit and on SIGTERM) removes it all.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import subprocess
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from ..certs import generate_lab_pki
from ..errors import LabkitError
from ..sim.world import World
from . import capture as capture_rules
from . import exits, names, netns, preflight, worldview
from .capture import ISTIO_DEFAULT, CaptureConfig
from .fabric import POD_CIDR, Fabric
from .internet import Internet, ServerCert
from .podview import PodView
from .preflight import PROXY_UID
from .proxy import EnvoyProxy
from .rundir import RunDir

_POD_PREFIX = ipaddress.ip_network(POD_CIDR).prefixlen
_FIRST_POD_HOST = 10


class PlaneError(LabkitError):
    """A pod or gateway could not be added."""


class Pod:
    """A pod: its network namespace, its address, its view of /etc, and its Envoy when it has one."""

    def __init__(self, name: str, namespace: str, ns: str, ip: str, view: PodView, tools: preflight.Tools) -> None:
        self.name = name
        self.namespace = namespace
        self.ns = ns
        self.ip = ip
        self.view = view
        self.tools = tools
        self.proxy: EnvoyProxy | None = None
        self.capture: CaptureConfig | None = None
        self.extra_hosts: list[tuple[str, str]] = []

    def run(
        self, argv: Sequence[str], *, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the pod (its network, its /etc/hosts, resolv.conf and CA bundle) as root."""
        return subprocess.run(
            self.view.wrap(self.ns, argv), capture_output=True, text=True, timeout=timeout, input=input
        )

    def curl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """The real curl in the pod, e.g. ``pod.curl("-sS", "http://httpbin.org/get")``."""
        return self.run(["curl", *args], timeout=timeout)

    def iptables_nat(self) -> str:
        return capture_rules.saved(self.ns, self.tools.iptables)


class DataPlane:
    def __init__(self, world: World, tools: preflight.Tools, run: RunDir) -> None:
        self.world = world
        self.tools = tools
        self.run = run
        self.run_id = run.run_id
        self.fabric = Fabric(names.netns_name(self.run_id, "fabric"))
        self.internet_ns = names.netns_name(self.run_id, "internet")
        self.internet: Internet | None = None
        self.pods: dict[str, Pod] = {}
        self._namespaces: list[str] = []
        self._next_host = _FIRST_POD_HOST
        self._lock = threading.Lock()
        self._closed = False
        self.ca_pem = b""  # every lab CA the pods trust
        self.hosts: list[tuple[str, str]] = []  # (name, address) of every server, for the pods' /etc/hosts

    @classmethod
    def start(cls, world: World | None = None, *, base: Path | None = None) -> DataPlane:
        """Check the machine, then build the fabric and the internet. Refuses (changing nothing) when unfit."""
        tools = preflight.require()
        run = RunDir.create(names.new_run_id(), base)
        plane = cls(world if world is not None else World(), tools, run)
        exits.register(plane)
        try:
            plane._build()
        except BaseException:
            plane.cleanup()
            raise
        return plane

    def _build(self) -> None:
        servers = worldview.servers(self.world)  # refuses what it can't serve before anything is made
        self._namespaces.append(self.fabric.name)
        self.fabric.create()
        certs = self._server_certs(servers)
        self._namespaces.append(self.internet_ns)
        netns.create(self.internet_ns)
        internet = Internet(servers, certs, self.internet_ns, self.run)
        self.fabric.attach(self.internet_ns, [f"{ip}/32" for ip in internet.addresses()])
        netns.sh(["ip", "-n", self.internet_ns, "route", "add", POD_CIDR, "dev", "eth0"])
        self.internet = internet
        self.hosts = [(name, server.ip) for server in servers for name in server.names]
        internet.start()

    def _server_certs(self, servers: list[worldview.Server]) -> dict[str, ServerCert]:
        """A certificate per TLS server, each for the names the world gives it, from its own lab CA.

        Pods trust every one of those CAs (their CA bundle is the concatenation), as a container's bundle
        trusts the public web's CAs; a server never presents a name it doesn't have.
        """
        certs: dict[str, ServerCert] = {}
        bundle = []
        for server in servers:
            if not any(p.tls for p in server.ports):
                continue
            pki = generate_lab_pki(self.run.path / "pki" / server.name, server_names=server.certificate)
            certs[server.name] = ServerCert(pki.server_cert, pki.server_key)
            bundle.append(pki.ca_cert.read_bytes())
        self.ca_pem = b"".join(bundle)
        return certs

    # -- pods

    def add_pod(
        self,
        name: str,
        namespace: str = "default",
        *,
        proxy: Literal["sidecar", "router"] | None = "sidecar",
        capture: CaptureConfig | None = ISTIO_DEFAULT,
        extra_hosts: Iterable[tuple[str, str]] = (),
        ip: str | None = None,
    ) -> Pod:
        """A pod; ``proxy="sidecar"`` with ``capture`` is a meshed pod, ``proxy="router"`` and no capture a
        gateway, ``proxy=None`` and no capture a pod outside the mesh. ``ip`` (in the pod range) is the
        address the control plane gave the pod; without it the next free one is taken."""
        if capture is not None and proxy != "sidecar":
            raise PlaneError(f"pod {namespace}/{name}: traffic capture needs a sidecar (proxy='sidecar')")
        key = f"{namespace}/{name}"
        with self._lock:
            if self._closed:
                raise PlaneError("this data plane has been cleaned up")
            if key in self.pods:
                raise PlaneError(f"pod {key} exists already")
            if ip is None:
                ip = str(ipaddress.ip_network(POD_CIDR)[self._next_host])
                self._next_host += 1
            elif ipaddress.ip_address(ip) not in ipaddress.ip_network(POD_CIDR):
                raise PlaneError(f"pod {key}: {ip} is outside the pod range {POD_CIDR}")
            elif any(p.ip == ip for p in self.pods.values()):
                raise PlaneError(f"pod {key}: {ip} is taken by another pod")
        ns = names.netns_name(self.run_id, names.pod_role(f"{namespace}.{name}"))
        self._namespaces.append(ns)
        netns.create(ns)
        self.fabric.attach(ns, [f"{ip}/{_POD_PREFIX}"])
        directory = self.run.subdir(f"pods/{namespace}.{name}", mode=0o755)
        extra = list(extra_hosts)
        entries = [*self.hosts, *extra]
        view = PodView.write(directory, name, ip, entries, self.ca_pem)
        pod = Pod(name, namespace, ns, ip, view, self.tools)
        pod.extra_hosts = extra
        if capture is not None:
            capture_rules.apply(ns, capture, self.tools.iptables_restore)
            pod.capture = capture
        if proxy == "router":
            # Istio's gateway pods set this sysctl so Envoy (uid 1337) may bind 80 and 443; it is per namespace.
            netns.run(ns, ["sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start"])
        if proxy is not None:
            proxy_dir = self.run.subdir(f"pods/{namespace}.{name}/proxy", owner_uid=PROXY_UID)
            pod.proxy = EnvoyProxy(
                envoy=self.tools.envoy, run=self.run, ns=ns, directory=proxy_dir, kind=proxy,
                pod=name, namespace=namespace, ip=ip, view=view,
            )  # fmt: skip
            try:
                pod.proxy.start()
            except BaseException:
                pod.proxy.stop()  # a proxy that never became ready must not outlive the error
                raise
        self.pods[key] = pod
        return pod

    def remove_pod(self, name: str, namespace: str = "default") -> None:
        """Stop the pod's Envoy and every process in its namespace, then delete the namespace (its veth
        goes with it). A pod that is not there is left alone."""
        with self._lock:
            pod = self.pods.pop(f"{namespace}/{name}", None)
        if pod is None:
            return
        if pod.proxy is not None:
            pod.proxy.stop()
        if netns.exists(pod.ns):
            for pid in netns.pids(pod.ns):
                _kill(pid)
            netns.delete(pod.ns)
        if pod.ns in self._namespaces:
            self._namespaces.remove(pod.ns)

    def add_gateway(self, name: str = "istio-egressgateway", namespace: str = "istio-system") -> Pod:
        return self.add_pod(name, namespace, proxy="router", capture=None)

    def add_host(self, name: str, ip: str) -> None:
        """Make ``name`` resolve to ``ip`` in every pod, present and future (a Service name, for example);
        an earlier address of the name is replaced (a Service deleted and created again)."""
        self.hosts = [(n, i) for n, i in self.hosts if n != name] + [(name, ip)]
        for pod in self.pods.values():
            pod.view.write_hosts([*self.hosts, *pod.extra_hosts])

    def remove_host(self, name: str) -> None:
        """``name`` no longer resolves (its Service is gone)."""
        self.hosts = [(n, i) for n, i in self.hosts if n != name]
        for pod in self.pods.values():
            pod.view.write_hosts([*self.hosts, *pod.extra_hosts])

    def pod(self, name: str, namespace: str = "default") -> Pod:
        return self.pods[f"{namespace}/{name}"]

    # -- cleanup

    def cleanup(self) -> None:
        """Stop every process, delete every namespace and the run's directory. Safe to call twice."""
        with self._lock:
            self._closed = True
        for pod in list(self.pods.values()):
            if pod.proxy is not None:
                pod.proxy.stop()
        if self.internet is not None:
            self.internet.stop()
        for ns in reversed(self._namespaces):
            for pid in netns.pids(ns) if netns.exists(ns) else []:
                _kill(pid)
            netns.delete(ns)
        self.run.remove()
        self.run.remove_base_if_empty()
        exits.unregister(self)

    def __enter__(self) -> DataPlane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
