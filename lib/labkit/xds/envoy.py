"""Small builders for Envoy v3 JSON shapes that every translator module uses."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

TYPE = "type.googleapis.com/"
LISTENER = TYPE + "envoy.config.listener.v3.Listener"
CLUSTER = TYPE + "envoy.config.cluster.v3.Cluster"
ROUTE_CONFIG = TYPE + "envoy.config.route.v3.RouteConfiguration"
SECRET = TYPE + "envoy.extensions.transport_sockets.tls.v3.Secret"
HCM = TYPE + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
TCP_PROXY = TYPE + "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
ROUTER = TYPE + "envoy.extensions.filters.http.router.v3.Router"
FAULT = TYPE + "envoy.extensions.filters.http.fault.v3.HTTPFault"
CORS = TYPE + "envoy.extensions.filters.http.cors.v3.Cors"
UPSTREAM_TLS = TYPE + "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
DOWNSTREAM_TLS = TYPE + "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
RAW_BUFFER = TYPE + "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"
HTTP_PROTOCOL_OPTIONS = TYPE + "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
TLS_INSPECTOR = TYPE + "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"
HTTP_INSPECTOR = TYPE + "envoy.extensions.filters.listener.http_inspector.v3.HttpInspector"
UUID_REQUEST_ID = TYPE + "envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig"

#: The config source istiod's resources name: everything over the one ADS stream.
ADS: Obj = {"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"}


def address(ip: str, port: int) -> Obj:
    return {"socket_address": {"address": ip, "port_value": port}}


def typed(name: str, type_url: str, **fields: Any) -> Obj:
    return {"name": name, "typed_config": {"@type": type_url, **fields}}


def tcp_proxy(cluster: str, access_log: list[Obj]) -> Obj:
    """tcp_proxy with Istio's stat prefix (the cluster name) and the listener's access log."""
    fields: Obj = {"stat_prefix": cluster, "cluster": cluster}
    if access_log:
        fields["access_log"] = access_log
    return typed("envoy.filters.network.tcp_proxy", TCP_PROXY, **fields)


def duration(seconds: float) -> str:
    """A protobuf JSON duration: ``3s``, ``0.500s``."""
    text = f"{seconds:.9f}".rstrip("0").rstrip(".")
    return f"{text}s"


def sds(name: str, source: Obj | None = None) -> Obj:
    """An SdsSecretConfig. istio-agent serves the workload certificates on the ``sds-grpc`` cluster;
    credentialName secrets come from istiod over ADS (security/model SDSAdsConfig)."""
    return {"name": name, "sds_config": source if source is not None else ADS}
