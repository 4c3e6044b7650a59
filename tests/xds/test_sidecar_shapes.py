"""Names and shapes of a sidecar's translated config. Sources are Istio 1.27.1 (the version the
simulator models): pilot/pkg/networking/core/* and the config dump in istioctl's test data
(istioctl/pkg/authz/testdata/configdump.yaml, a real sidecar's ListenersConfigDump)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labkit import certs
from labkit.lab import Lab
from labkit.paths import lab_file
from labkit.xds import EnvoyConfig, TranslationError, sidecar_config

from .conftest import envoy_validate, mesh_of, pod, scenario, settle


def client(lab: Lab) -> EnvoyConfig:
    return sidecar_config(mesh_of(lab), pod(lab))


def tcp_cluster(chain: dict[str, Any]) -> str:
    return next(f["typed_config"]["cluster"] for f in chain["filters"] if f["name"].endswith("tcp_proxy"))


def hcm(chain: dict[str, Any]) -> dict[str, Any]:
    return next(f["typed_config"] for f in chain["filters"] if f["name"].endswith("http_connection_manager"))


def test_virtual_outbound_hands_unknown_traffic_to_the_passthrough_cluster(lab: Lab) -> None:
    # istioctl/pkg/authz/testdata/configdump.yaml: virtualOutbound on 0.0.0.0:15001, use_original_dst,
    # chains virtualOutbound-blackhole (destination_port 15001 → BlackHoleCluster) and
    # virtualOutbound-catchall-tcp (→ PassthroughCluster under ALLOW_ANY); listener_builder.go
    # buildOutboundCatchAllNetworkFilterChains.
    listener = client(lab).listener("virtualOutbound")
    assert listener is not None
    assert listener["address"]["socket_address"] == {"address": "0.0.0.0", "port_value": 15001}
    assert listener["use_original_dst"] is True
    blackhole, catchall = listener["filter_chains"]
    assert blackhole["name"] == "virtualOutbound-blackhole"
    assert blackhole["filter_chain_match"] == {"destination_port": 15001}
    assert tcp_cluster(blackhole) == "BlackHoleCluster"
    assert catchall["name"] == "virtualOutbound-catchall-tcp" and tcp_cluster(catchall) == "PassthroughCluster"


def test_registry_only_blocks_with_blackhole_and_block_all(pki: certs.LabPki) -> None:
    # listener_builder.go buildOutboundCatchAllNetworkFiltersOnly: REGISTRY_ONLY → BlackHoleCluster, also
    # for every listener's PassthroughFilterChain (listener.go buildListenerFromEntry); httproute.go
    # buildCatchAllVirtualHost: virtual host and route block_all answer 502 directly. istio.io
    # tasks/traffic-management/egress/egress-control shows the 502 for HTTP under REGISTRY_ONLY.
    config = client(scenario("01-registry-only-service-entries-timeout", pki))
    outbound = config.listener("virtualOutbound")
    assert outbound is not None and tcp_cluster(outbound["filter_chains"][1]) == "BlackHoleCluster"
    http = config.listener("0.0.0.0_80")
    assert http is not None and http["default_filter_chain"]["name"] == "PassthroughFilterChain"
    assert tcp_cluster(http["default_filter_chain"]) == "BlackHoleCluster"
    routes = config.route("80")
    assert routes is not None
    last = routes["virtual_hosts"][-1]
    assert (last["name"], last["domains"]) == ("block_all", ["*"])
    assert last["routes"][0]["name"] == "block_all" and last["routes"][0]["direct_response"] == {"status": 502}


def test_allow_any_catch_all_virtual_host(lab: Lab) -> None:
    # httproute.go buildCatchAllVirtualHost: allow_any sends every host to PassthroughCluster, timeout 0s.
    routes = client(lab).route("80")
    assert routes is not None
    last = routes["virtual_hosts"][-1]
    assert last["name"] == "allow_any" and last["domains"] == ["*"]
    assert last["routes"][0]["route"] == {"cluster": "PassthroughCluster", "timeout": "0s", "max_grpc_timeout": "0s"}


def test_http_port_listener_shape(lab: Lab) -> None:
    # configdump.yaml listener 0.0.0.0_80: bind_to_port false, traffic_direction OUTBOUND, the HTTP chain
    # matches raw_buffer with ALPN http/1.1 and h2c (listener.go plaintextHTTPALPNs), its HCM has
    # stat_prefix outbound_0.0.0.0_80 and RDS route_config_name "80" over ADS; http_inspector;
    # default_filter_chain PassthroughFilterChain.
    listener = client(lab).listener("0.0.0.0_80")
    assert listener is not None
    assert listener["bind_to_port"] is False and listener["traffic_direction"] == "OUTBOUND"
    chain = listener["filter_chains"][0]
    assert chain["filter_chain_match"] == {
        "transport_protocol": "raw_buffer",
        "application_protocols": ["http/1.1", "h2c"],
    }
    manager = hcm(chain)
    assert manager["stat_prefix"] == "outbound_0.0.0.0_80"
    assert manager["rds"] == {
        "config_source": {"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"},
        "route_config_name": "80",
    }
    assert "envoy.filters.listener.http_inspector" in [f["name"] for f in listener["listener_filters"]]
    assert listener["default_filter_chain"]["name"] == "PassthroughFilterChain"
    # The filters istiod puts on outbound HTTP that upstream Envoy has, in its order (configdump.yaml).
    names = [f["name"] for f in manager["http_filters"]]
    assert names == [
        "envoy.filters.http.grpc_stats",
        "envoy.filters.http.fault",
        "envoy.filters.http.cors",
        "envoy.filters.http.router",
    ]


def test_access_log_is_istios_default_text_format(lab: Lab) -> None:
    # pilot/pkg/model/telemetry_logging.go EnvoyTextLogFormat, written to meshConfig.accessLogFile.
    listener = client(lab).listener("0.0.0.0_80")
    assert listener is not None
    log = hcm(listener["filter_chains"][0])["access_log"][0]["typed_config"]
    assert log["path"] == "/dev/stdout"
    text = log["log_format"]["text_format_source"]["inline_string"]
    # core/accesslog.go listenerAccessLogFilter: the listener's own log only for NR (no filter chain).
    assert listener["access_log"][0]["filter"] == {"response_flag_filter": {"flags": ["NR"]}}
    assert text.startswith('[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"')
    assert text.endswith(
        "%UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% "
        "%DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n"
    )


def test_service_entry_virtual_host_route_and_cluster(pki: certs.LabPki) -> None:
    config = client(scenario("01-registry-only-service-entries-timeout", pki))
    routes = config.route("80")
    assert routes is not None and routes["validate_clusters"] is False  # httproute.go: ValidateClusters false
    vhost = next(v for v in routes["virtual_hosts"] if v["name"] == "httpbin.org:80")  # util.DomainName host:port
    # generateVirtualHostDomains with the port ignored (IgnorePortInHostMatching) plus the absolute
    # FQDN (PILOT_ENABLE_ABSOLUTE_FQDN_VHOST_DOMAIN, on by default since 1.27.0, istio/istio#56007).
    assert vhost["domains"] == ["httpbin.org", "httpbin.org."]
    route = vhost["routes"][0]
    # route.go TranslateRoute: the VirtualService http route has no name, so the Envoy route has none;
    # its timeout is the VirtualService's 3s (istio.io egress-control "timeout: 3s"); GetRouteOperation
    # gives the decorator host:port/path of its one cluster.
    assert "name" not in route
    assert route["route"]["cluster"] == "outbound|80||httpbin.org"
    assert route["route"]["timeout"] == "3s"
    assert route["decorator"] == {"operation": "httpbin.org:80/*"}
    assert route["metadata"]["filter_metadata"]["istio"]["config"] == (
        "/apis/networking.istio.io/v1alpha3/namespaces/default/virtual-service/httpbin-ext"
    )
    cluster = config.cluster("outbound|80||httpbin.org")
    assert cluster is not None
    # cluster_builder.go buildCluster: resolution DNS → STRICT_DNS, IPv4 proxy → V4_ONLY, meshConfig
    # connectTimeout 10s; Istio's default load balancer is LEAST_REQUEST (the clusters of
    # istioctl/pkg/describe/testdata/describe/http_config.json show lb_policy LEAST_REQUEST).
    assert (cluster["type"], cluster["dns_lookup_family"], cluster["connect_timeout"]) == (
        "STRICT_DNS",
        "V4_ONLY",
        "10s",
    )
    assert cluster["lb_policy"] == "LEAST_REQUEST"
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"] == {"address": "httpbin.org", "port_value": 80}


def test_default_route_and_retry_policy(lab: Lab) -> None:
    # route.go BuildDefaultHTTPOutboundRoute: route name "default", decorator host:port/*, timeout 0s;
    # retry/retry.go (1.27.1) DefaultPolicy: 2 retries on connect-failure,refused-stream,unavailable,
    # cancelled,retriable-status-codes, previous_hosts predicate, 5 host selection attempts, no codes.
    routes = client(lab).route("80")
    assert routes is not None
    vhost = next(v for v in routes["virtual_hosts"] if v["name"] == "sleep.default.svc.cluster.local:80")
    route = vhost["routes"][0]
    assert route["name"] == "default"
    assert route["decorator"] == {"operation": "sleep.default.svc.cluster.local:80/*"}
    policy = route["route"]["retry_policy"]
    assert policy["retry_on"] == "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
    assert policy["num_retries"] == 2 and policy["host_selection_retry_max_attempts"] == "5"
    assert policy["retry_host_predicate"][0]["name"] == "envoy.retry_host_predicates.previous_hosts"
    assert "retriable_status_codes" not in policy
    # GenerateAltVirtualHostsForKubernetesService: same-namespace short names, then the cluster IP.
    assert vhost["domains"][:5] == [
        "sleep.default.svc.cluster.local",
        "sleep.default.svc.cluster.local.",
        "sleep",
        "sleep.default.svc",
        "sleep.default",
    ]


def test_https_service_entry_is_matched_by_sni(pki: certs.LabPki) -> None:
    # listener.go: a TLS port without a VIP gets a 0.0.0.0_<port> chain matching the host as SNI
    # (tls_inspector), proxied as TCP to outbound|443||host; istio.io egress-control: HTTPS to a
    # ServiceEntry host is routed by SNI.
    listener = client(scenario("01-registry-only-service-entries-timeout", pki)).listener("0.0.0.0_443")
    assert listener is not None
    chain = listener["filter_chains"][0]
    assert chain["filter_chain_match"] == {"server_names": ["www.google.com"]}
    assert tcp_cluster(chain) == "outbound|443||www.google.com"
    assert [f["name"] for f in listener["listener_filters"]] == ["envoy.filters.listener.tls_inspector"]


def test_kubernetes_service_tcp_port_has_an_address_listener(lab: Lab) -> None:
    # configdump.yaml: TCP ports of a Service get <clusterIP>_<port> listeners (10.96.0.10_53 for kube-dns).
    config = client(lab)
    dns = next(x for x in config.listeners if x["name"].endswith("_53"))
    assert tcp_cluster(dns["filter_chains"][0]) == "outbound|53||kube-dns.kube-system.svc.cluster.local"
    # There is no EDS server: the cluster is STATIC with the Service's pod addresses.
    cluster = config.cluster("outbound|53||kube-dns.kube-system.svc.cluster.local")
    assert cluster is not None and cluster["type"] == "STATIC"


def test_passthrough_and_blackhole_clusters(lab: Lab) -> None:
    # cluster_builder.go buildDefaultPassthroughCluster (ORIGINAL_DST, CLUSTER_PROVIDED, downstream's
    # protocol) and buildBlackHoleCluster (STATIC, no endpoints).
    config = client(lab)
    passthrough, blackhole = config.cluster("PassthroughCluster"), config.cluster("BlackHoleCluster")
    assert passthrough is not None and blackhole is not None
    assert (passthrough["type"], passthrough["lb_policy"]) == ("ORIGINAL_DST", "CLUSTER_PROVIDED")
    options = passthrough["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
    assert "use_downstream_protocol_config" in options
    assert blackhole["type"] == "STATIC" and "load_assignment" not in blackhole


def test_tls_origination_cluster(pki: certs.LabPki) -> None:
    # cluster_tls.go constructUpstreamTLS: SIMPLE without caCertificates verifies with the system roots
    # (SDS file-root:system), no sni → auto_sni and auto_san_validation (setAutoSniAndAutoSanValidation);
    # the ServiceEntry's targetPort 443 is where the endpoint listens (istio.io egress-tls-origination).
    config = client(scenario("02-tls-origination", pki))
    cluster = config.cluster("outbound|80||edition.cnn.com")
    assert cluster is not None
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"]["port_value"] == 443
    context = cluster["transport_socket"]["typed_config"]
    assert context["@type"].endswith("UpstreamTlsContext") and "sni" not in context
    validation = context["common_tls_context"]["combined_validation_context"]
    assert validation["validation_context_sds_secret_config"]["name"] == "file-root:system"
    options = cluster["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
    assert options["upstream_http_protocol_options"] == {"auto_sni": True, "auto_san_validation": True}
    assert "file-root:system" in config.secrets
    plain = config.cluster("outbound|443||edition.cnn.com")
    assert plain is not None and "transport_socket" not in plain


def test_subset_form_routes_to_the_subset_cluster(pki: certs.LabPki) -> None:
    # route.go GetDestinationCluster: outbound|<destination port>|<subset>|<host>; the subset's
    # port-level TLS applies to its cluster (cluster.go buildSubsetCluster).
    config = client(scenario("02-tls-origination-subset", pki))
    routes = config.route("80")
    assert routes is not None
    vhost = next(v for v in routes["virtual_hosts"] if v["name"] == "edition.cnn.com:80")
    assert vhost["routes"][0]["route"]["cluster"] == "outbound|443|tls-origination|edition.cnn.com"
    cluster = config.cluster("outbound|443|tls-origination|edition.cnn.com")
    assert cluster is not None and "transport_socket" in cluster
    assert cluster["lb_policy"] == "ROUND_ROBIN"  # the subset's loadBalancer.simple


def test_route_to_an_undefined_subset_points_at_a_missing_cluster(pki: certs.LabPki) -> None:
    # istio/istio#15226: a VirtualService can route to a cluster that does not exist; with
    # validate_clusters false Envoy accepts the route and answers 503 NC.
    config = client(scenario("02-subset-without-destination-rule", pki))
    routes = config.route("80")
    assert routes is not None and routes["validate_clusters"] is False
    vhost = next(v for v in routes["virtual_hosts"] if v["name"] == "edition.cnn.com:80")
    assert vhost["routes"][0]["route"]["cluster"] == "outbound|443|tls-origination|edition.cnn.com"
    assert config.cluster("outbound|443|tls-origination|edition.cnn.com") is None


def test_service_entry_addresses_get_their_own_tcp_listener(lab: Lab, pki: certs.LabPki, tmp_path: Path) -> None:
    # istio.io reference "ServiceEntry", addresses: traffic to the address and a TCP port is matched by
    # destination IP and port; istiod builds listener <address>_<port> proxying to outbound|port||host.
    entry = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {
            "hosts": ["db.example.com"],
            "addresses": ["240.0.0.7"],
            "resolution": "STATIC",
            "ports": [{"number": 3306, "name": "tcp", "protocol": "TCP"}],
            "endpoints": [{"address": "192.0.2.7"}],
        },
    }
    lab.apply([entry])
    settle(lab)
    config = client(lab)
    listener = config.listener("240.0.0.7_3306")
    assert listener is not None and listener["bind_to_port"] is False
    assert tcp_cluster(listener["filter_chains"][0]) == "outbound|3306||db.example.com"
    cluster = config.cluster("outbound|3306||db.example.com")
    assert cluster is not None and cluster["type"] == "STATIC"  # resolution STATIC: its endpoints
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"] == {"address": "192.0.2.7", "port_value": 3306}
    done = envoy_validate(config, pki, tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_endpoint_fields_it_does_not_build_are_refused(lab: Lab) -> None:
    """Right, or refused by name: an endpoint weight would change load balancing; it is not built."""
    entry = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": "weighted", "namespace": "default"},
        "spec": {
            "hosts": ["w.example.com"],
            "resolution": "STATIC",
            "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}],
            "endpoints": [{"address": "192.0.2.8", "weight": 3}],
        },
    }
    lab.apply([entry])
    settle(lab)
    with pytest.raises(TranslationError, match=r"endpoints\[\]\.weight"):
        client(lab)


def test_an_external_name_service_joins_the_virtual_host_of_the_host_it_names(lab: Lab) -> None:
    # Istio 1.21 upgrade notes ("ExternalName support changes") and istio.io's Kubernetes-services egress
    # task: an ExternalName Service is an alias of the service it names; istiod adds the alias's hostname
    # and its alternative names (GenerateAltVirtualHosts: name.ns, name.ns.svc, and the bare name in the
    # proxy's own namespace) to that service's virtual host, so Host: my-httpbin... takes httpbin.org's
    # route. The absolute form with a trailing dot follows the host's own (see the test above).
    lab.apply(lab_file("01-external-access", "serviceentry-http.yaml"), name="httpbin-ext", host="httpbin.org")
    lab.apply(
        lab_file("07-kubernetes-services", "externalname-service.yaml"),
        name="my-httpbin",
        external_host="httpbin.org",
    )
    settle(lab)
    routes = client(lab).route("80")
    assert routes is not None
    vhost = next(v for v in routes["virtual_hosts"] if v["name"] == "httpbin.org:80")
    alias = "my-httpbin.default.svc.cluster.local"
    assert vhost["domains"] == [
        "httpbin.org",
        "httpbin.org.",
        alias,
        alias + ".",
        "my-httpbin",
        "my-httpbin.default.svc",
        "my-httpbin.default",
    ]
