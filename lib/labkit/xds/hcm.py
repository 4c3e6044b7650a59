"""The HTTP connection manager istiod puts on outbound and gateway listeners (Istio 1.27,
core/listener.go buildHTTPConnectionManager, gateway.go buildGatewayConnectionManager).

Istio's own filters (istio.metadata_exchange, istio.alpn, istio.stats) are not in upstream Envoy and
are left out, and so are the tracing custom tags; the upstream Envoy filters istiod uses, in its
order, stay: grpc_stats, fault, cors, router. Tracing is on as meshConfig.enableTracing (default true)
says: it is what makes Envoy send a route's decorator as ``x-envoy-decorator-operation``.
"""

from __future__ import annotations

from .envoy import ADS, CORS, FAULT, HCM, ROUTER, TYPE, UUID_REQUEST_ID, Obj, typed

GRPC_STATS = TYPE + "envoy.extensions.filters.http.grpc_stats.v3.FilterConfig"
#: tracing.go configureSampling with the default sampling (PILOT_TRACE_SAMPLING 1%).
TRACING = {"client_sampling": {"value": 100}, "random_sampling": {"value": 1}, "overall_sampling": {"value": 100}}
#: util.EnvoyServerName: what a gateway says in the server header (sidecars keep Envoy's "envoy").
GATEWAY_SERVER_NAME = "istio-envoy"


def http_filters() -> list[Obj]:
    return [
        typed("envoy.filters.http.grpc_stats", GRPC_STATS, emit_filter_state=True, stats_for_all_methods=False),
        typed("envoy.filters.http.fault", FAULT),
        typed("envoy.filters.http.cors", CORS),
        typed("envoy.filters.http.router", ROUTER),
    ]


def connection_manager(
    stat_prefix: str, route_name: str, access_log: list[Obj], gateway: bool = False, tracing: bool = True
) -> Obj:
    """An HCM fetching route config ``route_name`` over RDS. Sidecar outbound: use_remote_address false,
    the server header overwritten with Envoy's default; gateways: use_remote_address true, server
    ``istio-envoy``, client certificate details sanitized and set (SANITIZE_SET)."""
    fields: Obj = {
        "stat_prefix": stat_prefix,
        "rds": {"config_source": dict(ADS), "route_config_name": route_name},
        "http_filters": http_filters(),
    }
    if tracing:
        fields["tracing"] = {k: dict(v) for k, v in TRACING.items()}
    if access_log:
        fields["access_log"] = access_log
    fields.update(
        use_remote_address=gateway,
        upgrade_configs=[{"upgrade_type": "websocket"}],
        stream_idle_timeout="0s",
        normalize_path=True,
        request_id_extension={"typed_config": {"@type": UUID_REQUEST_ID, "use_request_id_for_trace_sampling": True}},
        path_with_escaped_slashes_action="KEEP_UNCHANGED",
    )
    if gateway:
        fields.update(
            server_name=GATEWAY_SERVER_NAME,
            forward_client_cert_details="SANITIZE_SET",
            set_current_client_cert_details={"subject": True, "cert": True, "dns": True, "uri": True},
        )
    return typed("envoy.filters.network.http_connection_manager", HCM, **fields)
