"""Lab 08's forward proxy on the envoy backend: the machine's own Squid, run in the pod's namespace.

Sources: istio.io "Using an External HTTPS Proxy" task (Squid in a namespace without sidecar; a client
there fetches an HTTPS page through it with HTTPS_PROXY, and Squid's access log shows a TCP_TUNNEL/200
line for the CONNECT); Squid's access-log documentation (the native format: time, elapsed, client
address, code/status, bytes, method, URL, user, hierarchy/peer, type).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

import labkit
from labkit.envoy import apps, preflight
from labkit.lab import Lab

QUIET = Console(quiet=True)
SQUID_POD = {
    "metadata": {"name": "squid-1", "namespace": "external"},
    "spec": {"containers": [{"name": "squid", "image": "ubuntu/squid:6.10-24.10_beta"}]},
}


def test_squid_missing_from_the_machine_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apps, "SQUID", "/nonexistent/squid")
    with pytest.raises(apps.AppError, match="runs Squid, and /nonexistent/squid is missing") as info:
        apps.check(SQUID_POD)
    assert "apt-get install squid" in info.value.hint


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    report = preflight.run()
    problem = "; ".join(c.detail for c in report.failures())
    if not problem and not Path(apps.SQUID).exists():
        problem = f"{apps.SQUID} is missing (apt-get install squid)"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the Squid tests, but: {problem}")
        pytest.skip(problem)
    lab = labkit.connect(backend="envoy", lab="test", cleanup_on_error=False, console=QUIET)
    try:
        yield lab
    finally:
        lab.driver.close()  # type: ignore[attr-defined]


def test_a_client_without_sidecar_tunnels_through_the_real_squid(lab: Lab) -> None:
    lab.apply(labkit.lab_file("common", "namespace.yaml"), name="external")
    lab.apply(labkit.lab_file("08-external-https-proxy", "squid-configmap.yaml"), namespace="external", proxy_port=3128)
    lab.apply(labkit.lab_file("08-external-https-proxy", "squid.yaml"), namespace="external")
    lab.wait_ready("external", "app=squid")
    lab.deploy_client(namespace="external")
    proxy_ip = lab.pods("external", "app=squid")[0]["status"]["podIP"]
    client_ip = lab.pods("external", "app=sleep")[0]["status"]["podIP"]
    r = lab.curl(
        "https://en.wikipedia.org/wiki/Main_Page", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
        "-x", f"{proxy_ip}:3128", namespace="external",
    )  # fmt: skip
    assert (r.exit_code, r.stdout) == (0, "200"), r.stderr
    squid = lab.client_pod("external", "squid")
    log = lab.driver.exec("external", squid, "squid", ["cat", "/var/log/squid/access.log"], 10).stdout
    tunnel = rf"^\S+ +\d+ {re.escape(client_ip)} TCP_TUNNEL/200 \d+ CONNECT en\.wikipedia\.org:443 - HIER_DIRECT/"
    assert any(re.match(tunnel, line) for line in log.splitlines()), log
    assert lab.logs("external", "app=squid", "squid")[-1] == log.splitlines()[-1]  # its log is the access log
    lab.cleanup()
