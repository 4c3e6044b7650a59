"""Names and shapes of the egress gateway's translated config, and of the client sidecar's path to it.
Sources: Istio 1.27.1 pilot/pkg/model/gateway.go (MergeGateways, resolvePorts, gatewayRDSRouteName),
pilot/pkg/networking/core/gateway.go, and istioctl/pkg/describe/testdata/describe/http_config.json
(a real gateway's route config "http.8080" whose virtual host is named for the server port 80)."""

from __future__ import annotations

from typing import Any

from labkit import certs
from labkit.lab import Lab
from labkit.xds import EnvoyConfig, gateway_config, sidecar_config

from .conftest import NGINX, gateway_pod, mesh_of, pod, scenario, settle


def gateway(lab: Lab) -> EnvoyConfig:
    return gateway_config(mesh_of(lab), gateway_pod(lab))


def filter_of(chain: dict[str, Any], suffix: str) -> dict[str, Any]:
    return next(f["typed_config"] for f in chain["filters"] if f["name"].endswith(suffix))


def test_http_server_listens_on_the_target_port_with_route_http_8080(pki: certs.LabPki) -> None:
    # resolvePorts: server port 80 of the Service istio-egressgateway (80 → 8080) becomes listener
    # 0.0.0.0_8080; gatewayRDSRouteName: HTTP servers share "http.<port>" with that resolved port;
    # buildGatewayHTTPRouteConfig: virtual host "<host>:<server port>" with the host as its domain.
    lab = scenario("03-http-through-gateway", pki)
    config = gateway(lab)
    assert [x["name"] for x in config.listeners] == ["0.0.0.0_8080"]
    listener = config.listeners[0]
    manager = filter_of(listener["filter_chains"][0], "http_connection_manager")
    assert manager["rds"]["route_config_name"] == "http.8080"
    assert manager["use_remote_address"] is True  # createGatewayHTTPFilterChainOpts
    routes = config.route("http.8080")
    assert routes is not None
    (vhost,) = routes["virtual_hosts"]
    assert (vhost["name"], vhost["domains"]) == ("edition.cnn.com:80", ["edition.cnn.com"])
    assert vhost["routes"][0]["route"]["cluster"] == "outbound|80||edition.cnn.com"
    # The sidecar's route for the host on port 80 goes to the gateway's subset cluster; its port is
    # named http2, so the cluster speaks HTTP/2 (cluster_builder.go setH2Options).
    side = sidecar_config(mesh_of(lab), pod(lab))
    side_routes = side.route("80")
    assert side_routes is not None
    host = next(v for v in side_routes["virtual_hosts"] if v["name"] == "edition.cnn.com:80")
    subset = "outbound|80|cnn|istio-egressgateway.istio-system.svc.cluster.local"
    assert host["routes"][0]["route"]["cluster"] == subset
    cluster = side.cluster(subset)
    assert cluster is not None
    options = cluster["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
    assert options["explicit_http_config"] == {"http2_protocol_options": {}}
    assert (
        cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"][
            "port_value"
        ]
        == 8080
    )


def test_a_server_without_gateway_routes_gets_the_404_virtual_host(pki: certs.LabPki) -> None:
    # buildGatewayHTTPRouteConfig: no virtual host for the route → "blackhole:<port>" with domain "*"
    # and no routes, so Envoy answers 404 NR (the egress-gateway task's broken-route case).
    routes = gateway(scenario("03-http-mesh-only-route", pki)).route("http.8080")
    assert routes is not None
    assert routes["virtual_hosts"] == [{"name": "blackhole:80", "domains": ["*"], "routes": []}]


def test_tls_passthrough_chains_by_sni(pki: certs.LabPki) -> None:
    # buildGatewayNetworkFiltersFromTLSRoutes: a PASSTHROUGH server gets one chain per matching tls route
    # with its sniHosts, proxied as TCP; the sidecar's 0.0.0.0_443 chain for the SNI goes to the gateway.
    lab = scenario("03-tls-passthrough", pki)
    config = gateway(lab)
    listener = config.listener("0.0.0.0_8443")
    assert listener is not None
    (chain,) = listener["filter_chains"]
    assert chain["filter_chain_match"] == {"server_names": ["edition.cnn.com"]}
    assert filter_of(chain, "tcp_proxy")["cluster"] == "outbound|443||edition.cnn.com"
    side = sidecar_config(mesh_of(lab), pod(lab)).listener("0.0.0.0_443")
    assert side is not None
    side_chain = side["filter_chains"][0]
    assert side_chain["filter_chain_match"] == {"server_names": ["edition.cnn.com"]}
    assert filter_of(side_chain, "tcp_proxy")["cluster"] == (
        "outbound|443|cnn|istio-egressgateway.istio-system.svc.cluster.local"
    )


def test_istio_mutual_server_and_mutual_origination_with_credential_name(pki: certs.LabPki) -> None:
    lab = scenario("05-mutual-origination-credential-name", pki)
    config = gateway(lab)
    # gatewayRDSRouteName: an HTTPS server terminating TLS → https.<port>.<portName>.<gateway>.<namespace>.
    listener = config.listener("0.0.0.0_8443")
    assert listener is not None
    (chain,) = listener["filter_chains"]
    assert chain["filter_chain_match"] == {"server_names": [NGINX]}
    assert filter_of(chain, "http_connection_manager")["rds"]["route_config_name"] == (
        "https.443.https.istio-egressgateway.default"
    )
    # listener.go BuildListenerTLSContext: ISTIO_MUTUAL requires a client certificate; the workload
    # certificate "default" and the root "ROOTCA" come from istio-agent's SDS (sds-grpc).
    context = chain["transport_socket"]["typed_config"]
    assert context["require_client_certificate"] is True
    common = context["common_tls_context"]
    assert common["tls_certificate_sds_secret_configs"][0]["name"] == "default"
    assert common["combined_validation_context"]["validation_context_sds_secret_config"]["name"] == "ROOTCA"
    # authentication.go ApplyCustomSDSToClientCommonTLSContext: MUTUAL with credentialName takes the
    # client certificate from "kubernetes://<name>" and the CA from "<that>-cacert" (SdsCaSuffix).
    cluster = config.cluster(f"outbound|443||{NGINX}")
    assert cluster is not None
    upstream = cluster["transport_socket"]["typed_config"]
    assert upstream["sni"] == NGINX
    tls = upstream["common_tls_context"]
    assert tls["tls_certificate_sds_secret_configs"][0]["name"] == "kubernetes://client-credential"
    validation = tls["combined_validation_context"]["validation_context_sds_secret_config"]
    assert validation["name"] == "kubernetes://client-credential-cacert"
    assert set(config.secrets) == {
        "kubernetes://client-credential",
        "kubernetes://client-credential-cacert",
        "default",
        "ROOTCA",
    }
    # The sidecar: ISTIO_MUTUAL to the gateway with the DestinationRule's sni (cluster_tls.go), and the
    # in-mesh ALPN istio-peer-exchange, istio (util.ALPNInMeshWithMxc).
    side = sidecar_config(mesh_of(lab), pod(lab)).cluster(
        "outbound|443|nginx|istio-egressgateway.istio-system.svc.cluster.local"
    )
    assert side is not None
    mtls = side["transport_socket"]["typed_config"]
    assert mtls["sni"] == NGINX
    assert mtls["common_tls_context"]["alpn_protocols"] == ["istio-peer-exchange", "istio"]


def test_simple_origination_server_on_port_80(pki: certs.LabPki) -> None:
    # An HTTPS server on Service port 80 (named https-port-for-tls-origination) listens on 8080 and its
    # route config keeps the server's own port in its name (gatewayRDSRouteName uses server.Port.Number).
    config = gateway(scenario("05-simple-origination-at-gateway", pki))
    listener = config.listener("0.0.0.0_8080")
    assert listener is not None
    manager = filter_of(listener["filter_chains"][0], "http_connection_manager")
    assert manager["rds"]["route_config_name"] == "https.80.https-port-for-tls-origination.istio-egressgateway.default"
    routes = config.route("https.80.https-port-for-tls-origination.istio-egressgateway.default")
    assert routes is not None
    assert routes["virtual_hosts"][0]["routes"][0]["route"]["cluster"] == "outbound|443||edition.cnn.com"
    cluster = config.cluster("outbound|443||edition.cnn.com")
    assert cluster is not None and "transport_socket" in cluster  # SIMPLE from originate-tls-for-edition-cnn-com


def test_https_redirect_requires_tls_on_the_virtual_host(pki: certs.LabPki) -> None:
    # buildGatewayHTTPRouteConfig: a server with tls.httpsRedirect makes its virtual hosts require TLS
    # (RequireTls ALL), and a host no VirtualService routes still gets such a virtual host.
    lab = scenario("03-http-through-gateway", pki)
    gw = lab.get("Gateway", "istio-egressgateway", "default", "networking.istio.io/v1")
    assert gw is not None
    server = {**gw["spec"]["servers"][0], "hosts": ["edition.cnn.com", "www.cnn.com"], "tls": {"httpsRedirect": True}}
    lab.apply([{**gw, "spec": {**gw["spec"], "servers": [server]}}])
    settle(lab)
    routes = gateway(lab).route("http.8080")
    assert routes is not None
    by_name = {v["name"]: v for v in routes["virtual_hosts"]}
    assert by_name["edition.cnn.com:80"]["require_tls"] == "ALL" and by_name["edition.cnn.com:80"]["routes"]
    assert by_name["www.cnn.com:80"]["require_tls"] == "ALL" and "routes" not in by_name["www.cnn.com:80"]


def test_a_passthrough_server_no_route_uses_gets_no_listener(pki: certs.LabPki) -> None:
    # Istio 1.27 pilot/pkg/networking/core/gateway.go: a gateway listener left without filter chains is
    # omitted (istiod logs "gateway omitting listener ... must have more than 0 chains in listener"); Envoy
    # would reject it, and the whole LDS update with it. Here the TLS VirtualService is gone.
    lab = scenario("03-tls-passthrough", pki)
    from labkit.paths import lab_file

    from .conftest import GW

    lab.delete(lab_file("03-egress-gateway", "virtualservice-tls.yaml"), **GW)
    settle(lab)
    assert gateway(lab).listener("0.0.0.0_8443") is None
