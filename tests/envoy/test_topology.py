"""The run's network lives only in its own namespaces, and each pod sees the lab's names and CA.

Issue 11, "Safety and cleanup": the backend never changes the host's own network namespace, routes,
iptables or /etc. The addresses are the world's (lib/labkit/sim/world.py), read through World.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from labkit.envoy import DataPlane, netns
from labkit.envoy.fabric import POD_CIDR
from labkit.envoy.preflight import CA_BUNDLE, Tools
from labkit.envoy.worldview import servers


def host_state(tools: Tools) -> dict[str, str]:
    def out(argv: list[str]) -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    files = ("/etc/hosts", "/etc/resolv.conf", str(CA_BUNDLE))
    return {
        "links": out(["ip", "-o", "link", "show"]),
        "addresses": out(["ip", "-o", "addr", "show"]),
        "routes": out(["ip", "route", "show", "table", "all"]),
        "iptables": "\n".join(
            line for line in out([f"{tools.iptables}-save"]).splitlines() if not line.startswith("#")
        ),
        "etc": " ".join(hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files),
        "etc-netns": str(sorted(p.name for p in Path("/etc/netns").iterdir()) if Path("/etc/netns").is_dir() else []),
    }


def test_the_host_network_and_etc_are_untouched(needs_envoy: Tools) -> None:
    before = host_state(needs_envoy)
    with DataPlane.start() as plane:
        plane.add_pod("sleep")  # a sidecar with its capture rules, and a pod outside the mesh
        pod = plane.add_pod("outside", proxy=None, capture=None)
        assert pod.curl("-sS", "-o", "/dev/null", "http://httpbin.org/get").returncode == 0
        during = host_state(needs_envoy)
    after = host_state(needs_envoy)
    for key in before:
        assert during[key] == before[key], f"the host's {key} changed while the data plane ran"
        assert after[key] == before[key], f"the host's {key} changed after cleanup"


def test_every_interface_sits_in_a_project_namespace(plane: DataPlane) -> None:
    pod = plane.add_pod("sleep")
    # The fabric holds the bridge and one veth end per cabled namespace; the other ends are eth0 inside.
    fabric_links = netns.run(plane.fabric.name, ["ip", "-o", "link", "show"])
    assert " br0: " in fabric_links
    assert "eth0" in netns.run(pod.ns, ["ip", "-o", "link", "show"])
    addr = netns.run(pod.ns, ["ip", "-o", "-4", "addr", "show", "dev", "eth0"])
    assert f"{pod.ip}/16" in addr and pod.ip.startswith(POD_CIDR.split(".0.0/")[0] + ".")
    internet = netns.run(plane.internet_ns, ["ip", "-o", "-4", "addr", "show", "dev", "eth0"])
    for server in servers(plane.world):
        assert f"{server.ip}/32" in internet


def test_pods_resolve_the_world_s_hosts_and_trust_the_lab_ca(plane: DataPlane) -> None:
    pod = plane.add_pod("client", proxy=None, capture=None)
    names = [name for server in servers(plane.world) for name in server.names]
    assert "httpbin.org" in names
    for name in names:
        r = pod.run(["getent", "hosts", name])
        assert r.stdout.split()[0] == plane.world.resolve(name), r
    # A name the lab does not know fails to resolve (curl exit 6, "Couldn't resolve host name": curl(1)).
    r = pod.curl("-sS", "http://unknown.example/", timeout=20)
    assert r.returncode == 6, r
    # curl verifies the world's HTTPS servers against the system bundle, which the pod sees as the lab CA.
    r = pod.curl("-sS", "-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}", "https://httpbin.org/get")
    assert (r.returncode, r.stdout) == (0, "200 0"), r.stderr
    assert pod.run(["cat", str(CA_BUNDLE)]).stdout.encode() == plane.ca_pem


def test_a_pod_without_a_sidecar_has_no_capture_rules(plane: DataPlane) -> None:
    pod = plane.add_pod("outside", proxy=None, capture=None)
    assert "ISTIO_OUTPUT" not in pod.iptables_nat()
    assert pod.proxy is None


def test_a_gateway_runs_a_router_envoy_without_capture(plane: DataPlane) -> None:
    gw = plane.add_gateway()
    assert gw.proxy is not None and gw.proxy.ready()
    assert "ISTIO_OUTPUT" not in gw.iptables_nat()
    node = gw.proxy.config_dump()["configs"][0]["bootstrap"]["node"]
    # Istio names a gateway's node router~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local
    # (istio.io "Debugging Envoy and Istiod", proxy-status / node ids).
    assert node["id"] == f"router~{gw.ip}~istio-egressgateway.istio-system~istio-system.svc.cluster.local"
