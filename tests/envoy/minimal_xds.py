"""A hand-written minimal sidecar config, in the shapes istiod gives a sidecar (not a translator).

Names and shapes follow Istio's source and istioctl's config-dump test data
(istioctl/pkg/authz/testdata/configdump.yaml): the ``virtualOutbound`` listener on 15001 with
``use_original_dst`` and its ``virtualOutbound-blackhole`` / ``virtualOutbound-catchall-tcp`` chains,
a ``0.0.0.0_80`` listener that does not bind and reads route config ``80`` over RDS, the ``allow_any``
(PassthroughCluster) and ``block_all`` (direct 502) virtual hosts of
pilot/pkg/networking/core/httproute.go, and the PassthroughCluster (ORIGINAL_DST) and
BlackHoleCluster (STATIC, no endpoints) of pilot/pkg/networking/core/cluster_builder.go.
"""

from __future__ import annotations

from typing import Any, Literal

from labkit.envoy.accesslog import stdout_access_log
from labkit.envoy.xds import XdsFiles

Mode = Literal["ALLOW_ANY", "REGISTRY_ONLY"]

HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
TCP_PROXY = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"


def _tcp_proxy(cluster: str) -> dict[str, Any]:
    return {
        "name": "envoy.filters.network.tcp_proxy",
        "typed_config": {
            "@type": TCP_PROXY,
            "stat_prefix": cluster,
            "cluster": cluster,
            "access_log": stdout_access_log(),
        },
    }


def clusters() -> list[dict[str, Any]]:
    return [
        {
            "name": "PassthroughCluster",
            "type": "ORIGINAL_DST",
            "connect_timeout": "10s",
            "lb_policy": "CLUSTER_PROVIDED",
        },
        {"name": "BlackHoleCluster", "type": "STATIC", "connect_timeout": "10s"},
    ]


def listeners(xds: XdsFiles, mode: Mode) -> list[dict[str, Any]]:
    catchall = "PassthroughCluster" if mode == "ALLOW_ANY" else "BlackHoleCluster"
    virtual_outbound = {
        "name": "virtualOutbound",
        "address": {"socket_address": {"address": "0.0.0.0", "port_value": 15001}},
        "use_original_dst": True,
        "traffic_direction": "OUTBOUND",
        "filter_chains": [
            {
                "name": "virtualOutbound-blackhole",
                "filter_chain_match": {"destination_port": 15001},
                "filters": [_tcp_proxy("BlackHoleCluster")],
            },
            {"name": "virtualOutbound-catchall-tcp", "filters": [_tcp_proxy(catchall)]},
        ],
    }
    http_80 = {
        "name": "0.0.0.0_80",
        "address": {"socket_address": {"address": "0.0.0.0", "port_value": 80}},
        "bind_to_port": False,
        "traffic_direction": "OUTBOUND",
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": HCM,
                            "stat_prefix": "outbound_0.0.0.0_80",
                            "rds": {"route_config_name": "80", "config_source": xds.rds_source("80")},
                            "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": ROUTER}}],
                            "access_log": stdout_access_log(),
                        },
                    }
                ]
            }
        ],
    }
    return [virtual_outbound, http_80]


def routes(mode: Mode) -> list[dict[str, Any]]:
    if mode == "ALLOW_ANY":
        vhost = {
            "name": "allow_any",
            "domains": ["*"],
            "routes": [
                {
                    "name": "allow_any",
                    "match": {"prefix": "/"},
                    "route": {"cluster": "PassthroughCluster", "timeout": "0s", "max_grpc_timeout": "0s"},
                }
            ],
        }
    else:
        vhost = {
            "name": "block_all",
            "domains": ["*"],
            "routes": [{"name": "block_all", "match": {"prefix": "/"}, "direct_response": {"status": 502}}],
        }
    return [{"name": "80", "virtual_hosts": [vhost], "validate_clusters": False}]


def apply(xds: XdsFiles, mode: Mode) -> str:
    return xds.apply(listeners=listeners(xds, mode), clusters=clusters(), routes=routes(mode))
