"""The sidecar process: Envoy as uid 1337 in the pod's network namespace, and clear start failures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from labkit.envoy import DataPlane, netns
from labkit.envoy.proxy import EnvoyProxy, ProxyError


def test_envoy_runs_as_uid_1337_inside_the_pod_namespace(plane: DataPlane) -> None:
    pod = plane.add_pod("sleep")
    assert pod.proxy is not None and pod.proxy.process is not None
    pid = pod.proxy.process.pid
    status = Path(f"/proc/{pid}/status").read_text()
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    # istio.io "Traffic capture" / istio-iptables -u 1337: the proxy runs as uid 1337, which capture exempts.
    assert uid_line.split()[1:] == ["1337"] * 4, uid_line
    assert Path(f"/proc/{pid}/exe").resolve() == plane.tools.envoy
    assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(netns.path(pod.ns)).st_ino
    assert pid in netns.pids(pod.ns)
    # Istio's pilot-agent serves Envoy's admin on 127.0.0.1:15000 (istio.io "Debugging Envoy and Istiod").
    assert pod.proxy.admin("/ready") == (200, "LIVE\n")


def test_a_proxy_that_cannot_start_reports_envoy_s_log(plane: DataPlane) -> None:
    pod = plane.add_pod("sleep")
    assert pod.proxy is not None
    second = EnvoyProxy(
        envoy=plane.tools.envoy,
        run=plane.run,
        ns=pod.ns,
        directory=plane.run.subdir("pods/default.sleep/second", owner_uid=1337),
        kind="sidecar",
        pod="second",
        namespace="default",
        ip=pod.ip,
    )
    # The admin port is taken by the first Envoy, so the second one exits; the error carries its log.
    with pytest.raises(ProxyError, match=r"exited with code .* log ends with:\n.*15000"):
        second.start(timeout=10)
    second.stop()


def test_envoy_runs_even_where_uid_1337_cannot_walk_to_the_binary(plane: DataPlane, tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)  # root's private directory: uid 1337 cannot look inside
    binary = closed / "envoy"
    shutil.copy2(plane.tools.envoy, binary)
    pod = plane.add_pod("sleep", proxy=None, capture=None)
    proxy = EnvoyProxy(
        envoy=binary,
        run=plane.run,
        ns=pod.ns,
        directory=plane.run.subdir("pods/default.sleep/proxy", owner_uid=1337),
        kind="sidecar",
        pod="sleep",
        namespace="default",
        ip=pod.ip,
    )
    try:
        proxy.start(timeout=10)
        assert proxy.ready()
    finally:
        proxy.stop()
