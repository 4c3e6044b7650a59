"""Istio's documented egress outcomes, reproduced with real curl through a real Envoy sidecar.

Every expectation comes from Istio's egress-control task
(https://istio.io/latest/docs/tasks/traffic-management/egress/egress-control/) unless its comment says
otherwise. The sidecar's config is the hand-written minimal xDS in minimal_xds.py; all traffic stays in
the run's own network namespaces.
"""

from __future__ import annotations

import minimal_xds
import pytest

from labkit.envoy import CaptureConfig, DataPlane, Pod
from labkit.envoy.accesslog import parse


@pytest.fixture
def sleep(plane: DataPlane) -> Pod:
    return plane.add_pod("sleep")


def configure(pod: Pod, mode: minimal_xds.Mode) -> None:
    assert pod.proxy is not None
    version = minimal_xds.apply(pod.proxy.xds, mode)
    pod.proxy.wait_applied(version, ("listeners", "clusters", "routes"))


def test_registry_only_https_to_an_unknown_host_fails_with_exit_35(sleep: Pod) -> None:
    configure(sleep, "REGISTRY_ONLY")
    r = sleep.curl("-sSI", "https://www.baidu.com", timeout=30)
    # egress-control, "Change to the blocking-by-default policy": curl exits with code 35.
    assert r.returncode == 35, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.startswith("curl: (35)")
    # The connection went to the BlackHoleCluster of the virtualOutbound catch-all chain (Istio blog
    # "Monitoring Blocked and Passthrough External Service Traffic": blocked traffic is BlackHoleCluster).
    assert sleep.proxy is not None
    line = sleep.proxy.wait_access_log("BlackHoleCluster")
    # Envoy access-log docs, response flags: UH is "no healthy upstream hosts in upstream cluster", which
    # is all the BlackHoleCluster (no endpoints) can give.
    assert " UH " in line, line


def test_registry_only_http_to_an_unknown_host_gets_502_from_block_all(sleep: Pod) -> None:
    configure(sleep, "REGISTRY_ONLY")
    r = sleep.curl("-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://httpbin.org/headers", timeout=30)
    # egress-control: under REGISTRY_ONLY an HTTP request to a host outside the registry gets 502.
    assert (r.returncode, r.stdout) == (0, "502"), r.stderr
    assert sleep.proxy is not None
    line = sleep.proxy.wait_access_log('"GET /headers HTTP/1.1" 502')
    # Envoy's access-log %ROUTE_NAME% is the route that answered: block_all (the direct 502).
    assert line.rstrip().endswith(" block_all"), line


def test_allow_any_passes_https_and_http_through_the_passthrough_cluster(sleep: Pod) -> None:
    configure(sleep, "ALLOW_ANY")
    r = sleep.curl("-sSI", "https://www.baidu.com", timeout=30)
    # egress-control, "Envoy passthrough to external services": 200 under ALLOW_ANY, "HTTP/1.1 200 OK"
    # from www.baidu.com and "HTTP/2 200" from edition.cnn.com (TLS passes through the sidecar untouched).
    assert (r.returncode, r.stdout.splitlines()[0]) == (0, "HTTP/1.1 200 OK"), r.stderr
    r = sleep.curl("-sSI", "https://edition.cnn.com", timeout=30)
    assert (r.returncode, r.stdout.splitlines()[0].strip()) == (0, "HTTP/2 200"), r.stderr
    r = sleep.curl("-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://httpbin.org/headers", timeout=30)
    assert (r.returncode, r.stdout) == (0, "200"), r.stderr
    assert sleep.proxy is not None
    line = sleep.proxy.wait_access_log('"GET /headers HTTP/1.1" 200')
    # Istio blog "Monitoring Blocked and Passthrough External Service Traffic": ALLOW_ANY traffic to
    # unknown hosts goes through PassthroughCluster; the upstream is the original destination.
    assert " PassthroughCluster " in line and '"203.0.113.20:80"' in line, line
    assert line.rstrip().endswith(" allow_any"), line
    tcp = parse(sleep.proxy.wait_access_log('"203.0.113.40:443" PassthroughCluster'))
    # A TCP proxy line: no HTTP method, path, protocol or status ("- - -" 0).
    assert (tcp.method, tcp.path, tcp.protocol, tcp.response_code) == ("-", "-", "-", 0)
    assert (tcp.upstream_cluster, tcp.upstream_host) == ("PassthroughCluster", "203.0.113.40:443")
    assert tcp.bytes_received > 0 and tcp.bytes_sent > 0  # the TLS handshake and reply went through


def test_a_changed_config_file_takes_effect_without_a_restart(sleep: Pod) -> None:
    assert sleep.proxy is not None and sleep.proxy.process is not None
    pid = sleep.proxy.process.pid
    configure(sleep, "ALLOW_ANY")
    assert sleep.curl("-sSI", "https://www.baidu.com", timeout=30).returncode == 0
    # egress-control: changing outboundTrafficPolicy to REGISTRY_ONLY blocks the same request (exit 35)
    # once the proxies have the new config; here it arrives as a renamed file, and Envoy is the same process.
    configure(sleep, "REGISTRY_ONLY")
    assert sleep.curl("-sSI", "https://www.baidu.com", timeout=30).returncode == 35
    assert sleep.proxy.process.pid == pid and sleep.proxy.process.poll() is None


def test_include_outbound_ip_ranges_limits_capture_to_the_cluster_range(plane: DataPlane) -> None:
    # egress-control, "Direct access to external services": with includeOutboundIPRanges set to the
    # cluster's ranges, external traffic skips the sidecar, so even REGISTRY_ONLY does not block it.
    pod = plane.add_pod("direct", capture=CaptureConfig(include_outbound_ip_ranges="10.96.0.0/16,10.244.0.0/16"))
    configure(pod, "REGISTRY_ONLY")
    r = pod.curl("-sSI", "https://www.baidu.com", timeout=30)
    assert (r.returncode, r.stdout.splitlines()[0]) == (0, "HTTP/1.1 200 OK"), r.stderr
    assert pod.proxy is not None and not any("203.0.113.40" in line for line in pod.proxy.access_log())


def test_excluded_ip_range_and_port_bypass_the_sidecar(plane: DataPlane) -> None:
    # istio.io reference "Resource Annotations": traffic.sidecar.istio.io/excludeOutboundIPRanges and
    # excludeOutboundPorts exclude those destinations from redirection to the sidecar.
    by_range = plane.add_pod("by-range", capture=CaptureConfig(exclude_outbound_ip_ranges="203.0.113.40/32"))
    by_port = plane.add_pod("by-port", capture=CaptureConfig(exclude_outbound_ports="443"))
    for pod in (by_range, by_port):
        configure(pod, "REGISTRY_ONLY")
        r = pod.curl("-sSI", "https://www.baidu.com", timeout=30)
        assert (r.returncode, r.stdout.splitlines()[0]) == (0, "HTTP/1.1 200 OK"), (pod.name, r.stderr)
    # Not excluded: the same pods' plain HTTP still meets the sidecar's block_all.
    r = by_port.curl("-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://httpbin.org/get", timeout=30)
    assert r.stdout == "502"


def test_a_route_timeout_answers_504_after_three_seconds(sleep: Pod) -> None:
    # egress-control, "Manage traffic to external services": with a ServiceEntry for httpbin.org and a
    # 3 s timeout, `curl http://httpbin.org/delay/5` gets 504 (Gateway Timeout) after about 3 seconds.
    # The cluster and route are written in istiod's shapes for that ServiceEntry (outbound|80||httpbin.org,
    # STRICT_DNS) and VirtualService (virtual host httpbin.org:80, route timeout 3s).
    assert sleep.proxy is not None
    xds = sleep.proxy.xds
    cluster = "outbound|80||httpbin.org"
    routes = minimal_xds.routes("REGISTRY_ONLY")
    routes[0]["virtual_hosts"].insert(
        0,
        {
            "name": "httpbin.org:80",
            "domains": ["httpbin.org", "httpbin.org:80"],
            "routes": [{"match": {"prefix": "/"}, "route": {"cluster": cluster, "timeout": "3s"}}],
        },
    )
    clusters = [
        *minimal_xds.clusters(),
        {
            "name": cluster,
            "type": "STRICT_DNS",
            "connect_timeout": "10s",
            "dns_lookup_family": "V4_ONLY",
            "load_assignment": {
                "cluster_name": cluster,
                "endpoints": [
                    {
                        "lb_endpoints": [
                            {"endpoint": {"address": {"socket_address": {"address": "httpbin.org", "port_value": 80}}}}
                        ]
                    }
                ],
            },
        },
    ]
    version = xds.apply(listeners=minimal_xds.listeners(xds, "REGISTRY_ONLY"), clusters=clusters, routes=routes)
    sleep.proxy.wait_applied(version, ("listeners", "clusters", "routes"))
    r = sleep.curl("-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "http://httpbin.org/delay/5")
    code, seconds = r.stdout.split()
    assert code == "504", r.stderr
    assert 2.9 <= float(seconds) < 4.5
    # Envoy access-log docs: UT is "upstream request timeout".
    assert " UT " in sleep.proxy.wait_access_log(f" {cluster} ")
