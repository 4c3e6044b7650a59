"""An egress gateway pod: its own namespace and Envoy, reached by a Service name from other pods."""

from __future__ import annotations

from typing import Any

import minimal_xds

from labkit.envoy import DataPlane
from labkit.envoy.accesslog import stdout_access_log

GATEWAY_HOST = "istio-egressgateway.istio-system.svc.cluster.local"


def gateway_listener(route_source: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "0.0.0.0_80",
        "address": {"socket_address": {"address": "0.0.0.0", "port_value": 80}},
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": minimal_xds.HCM,
                            "stat_prefix": "outbound_0.0.0.0_80",
                            "rds": {"route_config_name": "http.80", "config_source": route_source},
                            "http_filters": [
                                {"name": "envoy.filters.http.router", "typed_config": {"@type": minimal_xds.ROUTER}}
                            ],
                            "access_log": stdout_access_log(),
                        },
                    }
                ]
            }
        ],
    }


def test_a_gateway_listens_on_port_80_and_pods_reach_it_by_its_service_name(plane: DataPlane) -> None:
    gw = plane.add_gateway()
    client = plane.add_pod("client", proxy=None, capture=None)
    assert gw.proxy is not None
    # A route that proxies to the world's edition.cnn.com through the PassthroughCluster would need the
    # translator; a direct response is enough to show the gateway's own listener answering.
    route = {
        "name": "http.80",
        "virtual_hosts": [
            {
                "name": "any",
                "domains": ["*"],
                "routes": [
                    {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "gw"}}}
                ],
            }
        ],
    }
    version = gw.proxy.xds.apply(listeners=[gateway_listener(gw.proxy.xds.rds_source("http.80"))], routes=[route])
    gw.proxy.wait_applied(version, ("listeners", "routes"))
    # Istio's gateway pods allow uid 1337 to bind port 80 (net.ipv4.ip_unprivileged_port_start=0 in
    # the gateway injection template's sysctls), so the listener really binds.
    plane.add_host(GATEWAY_HOST, gw.ip)
    r = client.curl("-sS", "-w", " %{http_code}", f"http://{GATEWAY_HOST}/")
    assert (r.returncode, r.stdout) == (0, "gw 200"), r.stderr
    assert f'"{GATEWAY_HOST}"' in gw.proxy.wait_access_log('"GET / HTTP/1.1" 200')
