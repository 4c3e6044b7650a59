"""istio.io's egress tasks, Gateway API tab, end to end on the simulator (curl from the sleep pod).

Sources (istio/istio.io, content/en/docs/tasks/traffic-management/egress/):
- EC: egress-control/index.md, "Manage traffic to external services", Gateway API tab (snips.sh
  snip_manage_traffic_to_external_services_3/_4; doc test egress-control/gtwapi_test.sh);
- EG: egress-gateway/index.md, "Egress gateway for HTTP traffic" and "... for HTTPS traffic", Gateway API
  tab (snip_egress_gateway_for_http_traffic_4/6/7/11/12, snip_egress_gateway_for_https_traffic_4/5/8/9;
  doc test egress-gateway/gtwapi_test.sh);
- WC: wildcard-egress-hosts/index.md, "Wildcard configuration for arbitrary domains", Gateway API tab
  (snip_configure_egress_gateway_traffic_to_a_wildcard_host_2/3/4).
The manifests below are those pages' manifests (apiVersion v1 where the page has v1beta1: the CRDs
serve both with one schema).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from labkit import ManifestError
from labkit.lab import Lab

GW = "gateway.networking.k8s.io/v1"
TLS_ROUTE = "gateway.networking.k8s.io/v1alpha2"
NET = "networking.istio.io/v1"
CNN_GATEWAY_PODS = {"namespace": "default", "selector": "gateway.networking.k8s.io/gateway-name=cnn-egress-gateway"}


def meta(name: str, **annotations: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "namespace": "default"}
    if annotations:
        out["annotations"] = annotations
    return out


def service_entry(name: str, hosts: list[str], ports: list[tuple[int, str, str]], resolution: str | None) -> dict:
    spec: dict[str, Any] = {"hosts": hosts, "ports": [{"number": n, "name": m, "protocol": p} for n, m, p in ports]}
    if resolution:
        spec["resolution"] = resolution
    return {"apiVersion": NET, "kind": "ServiceEntry", "metadata": meta(name), "spec": spec}


def gateway(name: str, listener: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": GW,
        "kind": "Gateway",
        "metadata": meta(name, **{"networking.istio.io/service-type": "ClusterIP"}),
        "spec": {
            "gatewayClassName": "istio",
            "listeners": [{**listener, "allowedRoutes": {"namespaces": {"from": "Same"}}}],
        },
    }


def route(kind: str, name: str, parent: dict[str, str], backend: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GW if kind == "HTTPRoute" else TLS_ROUTE,
        "kind": kind,
        "metadata": meta(name),
        "spec": {"parentRefs": [parent], **spec, "rules": [{"backendRefs": [backend]}]},
    }


def se_parent(name: str) -> dict[str, str]:
    return {"kind": "ServiceEntry", "group": "networking.istio.io", "name": name}


def hostname_backend(host: str, port: int) -> dict[str, Any]:
    return {"kind": "Hostname", "group": "networking.istio.io", "name": host, "port": port}


# EC: the httpbin-ext ServiceEntry and HTTPRoute with a 3s request timeout.
HTTPBIN_SE = service_entry("httpbin-ext", ["httpbin.org"], [(80, "http", "HTTP")], "DNS")
HTTPBIN_SE["spec"]["location"] = "MESH_EXTERNAL"
HTTPBIN_ROUTE = route(
    "HTTPRoute", "httpbin-ext", se_parent("httpbin-ext"), hostname_backend("httpbin.org", 80), hostnames=["httpbin.org"]
)
HTTPBIN_ROUTE["spec"]["rules"][0]["timeouts"] = {"request": "3s"}

# EG, HTTP: the cnn ServiceEntry, the Gateway and the two HTTPRoutes.
CNN_SE = service_entry("cnn", ["edition.cnn.com"], [(80, "http-port", "HTTP"), (443, "https", "HTTPS")], "DNS")
CNN_HTTP_GATEWAY = gateway(
    "cnn-egress-gateway", {"name": "http", "hostname": "edition.cnn.com", "port": 80, "protocol": "HTTP"}
)
DIRECT_CNN = route(
    "HTTPRoute", "direct-cnn-to-egress-gateway", se_parent("cnn"), {"name": "cnn-egress-gateway-istio", "port": 80}
)
FORWARD_CNN = route(
    "HTTPRoute",
    "forward-cnn-from-egress-gateway",
    {"name": "cnn-egress-gateway"},
    hostname_backend("edition.cnn.com", 80),
    hostnames=["edition.cnn.com"],
)

# EG, HTTPS: a TLS ServiceEntry, a Passthrough listener and two TLSRoutes.
CNN_TLS_SE = service_entry("cnn", ["edition.cnn.com"], [(443, "tls", "TLS")], "DNS")
CNN_TLS_GATEWAY = gateway(
    "cnn-egress-gateway",
    {"name": "tls", "hostname": "edition.cnn.com", "port": 443, "protocol": "TLS", "tls": {"mode": "Passthrough"}},
)
DIRECT_CNN_TLS = route(
    "TLSRoute", "direct-cnn-to-egress-gateway", se_parent("cnn"), {"name": "cnn-egress-gateway-istio", "port": 443}
)
FORWARD_CNN_TLS = route(
    "TLSRoute",
    "forward-cnn-from-egress-gateway",
    {"name": "cnn-egress-gateway"},
    hostname_backend("edition.cnn.com", 443),
    hostnames=["edition.cnn.com"],
)

# WC: *.wikipedia.org through a Passthrough listener to www.wikipedia.org.
WIKIPEDIA_SE = service_entry("wikipedia", ["*.wikipedia.org"], [(443, "https", "HTTPS")], None)
WWW_WIKIPEDIA_SE = service_entry("www-wikipedia", ["www.wikipedia.org"], [(443, "https", "HTTPS")], "DNS")
WIKIPEDIA_GATEWAY = gateway(
    "wikipedia-egress-gateway",
    {"name": "tls", "hostname": "*.wikipedia.org", "port": 443, "protocol": "TLS", "tls": {"mode": "Passthrough"}},
)
DIRECT_WIKIPEDIA = route(
    "TLSRoute",
    "direct-wikipedia-to-egress-gateway",
    se_parent("wikipedia"),
    {"name": "wikipedia-egress-gateway-istio", "port": 443},
)
FORWARD_WIKIPEDIA = route(
    "TLSRoute",
    "forward-wikipedia-from-egress-gateway",
    {"name": "wikipedia-egress-gateway"},
    hostname_backend("www.wikipedia.org", 443),
    hostnames=["*.wikipedia.org"],
)


def apply(lab: Lab, *docs: dict[str, Any]) -> None:
    lab.apply([copy.deepcopy(d) for d in docs])
    lab.driver.sleep(2)  # istiod's push (about a second), as the pages' tests wait for config to propagate


# --------------------------------------------------------------------------- egress control: the timeout


def test_http_route_request_timeout_gives_504_after_3s(lab: Lab) -> None:
    # EC: with the HTTPRoute's timeouts.request: 3s, /delay/5 answers 504 after about 3 seconds
    # (snip_manage_traffic_to_external_services_4_out: "504", "real 0m3.149s").
    apply(lab, HTTPBIN_SE, HTTPBIN_ROUTE)
    r = lab.curl("http://httpbin.org/delay/5", "-o", "/dev/null", "-sS", "-w", "%{http_code}\n")
    assert r.status == 504
    assert 3.0 <= r.elapsed < 3.5
    assert "HTTPRoute default/httpbin-ext rules[0]" in str(r.explain())


def test_without_the_http_route_the_delay_completes(lab: Lab) -> None:
    # EC: before the timeout rule, /delay/5 answers 200 after about 5 seconds
    # (snip_manage_traffic_to_external_services_1_out: "200", "real 0m5.024s").
    apply(lab, HTTPBIN_SE)
    r = lab.curl("http://httpbin.org/delay/5", "-o", "/dev/null", "-sS", "-w", "%{http_code}\n")
    assert r.status == 200 and r.elapsed >= 5.0


# --------------------------------------------------------------------------- egress gateway: HTTP


def test_gateway_is_deployed_as_name_istio_with_status(lab: Lab) -> None:
    # EG: the page reads the gateway's proxy by label gateway.networking.k8s.io/gateway-name=cnn-egress-gateway
    # (snip_egress_gateway_for_http_traffic_11) and its certificate names service account
    # cnn-egress-gateway-istio (snip_egress_gateway_for_http_traffic_13_out).
    apply(lab, CNN_SE, CNN_HTTP_GATEWAY)
    backend = lab.driver
    [pod] = backend.list_objects("v1", "Pod", "default", "gateway.networking.k8s.io/gateway-name=cnn-egress-gateway")
    assert pod["spec"]["serviceAccountName"] == "cnn-egress-gateway-istio"
    assert pod["metadata"]["name"].startswith("cnn-egress-gateway-istio-")
    svc = lab.get("Service", "cnn-egress-gateway-istio", "default")
    assert svc is not None and svc["spec"]["type"] == "ClusterIP"  # the service-type annotation
    # The Service's ports: status-port 15021 (appProtocol tcp) and one per listener port, named after the
    # listener, appProtocol its protocol in lower case (istio/istio pilot/pkg/config/kube/gateway/testdata/
    # deployment/cluster-ip.yaml).
    ports = [(p["name"], p["port"], p.get("appProtocol")) for p in svc["spec"]["ports"]]
    assert ports == [("status-port", 15021, "tcp"), ("http", 80, "http")]
    # The Gateway API's Gateway status: Accepted and Programmed, and the address it was given.
    gw = lab.get("Gateway", "cnn-egress-gateway", "default", api_version=GW)
    assert gw is not None
    conditions = {c["type"]: c["status"] for c in gw["status"]["conditions"]}
    assert conditions == {"Accepted": "True", "Programmed": "True"}
    assert gw["status"]["addresses"] == [{"type": "IPAddress", "value": svc["spec"]["clusterIP"]}]


def test_http_goes_through_the_deployed_gateway(lab: Lab) -> None:
    # EG: curl -sSL http://edition.cnn.com/politics gives 301 then 200 (snip_..._http_traffic_7_out), and the
    # gateway's proxy log has the request to outbound|80||edition.cnn.com on route
    # default.forward-cnn-from-egress-gateway.0 (snip_egress_gateway_for_http_traffic_12).
    apply(lab, CNN_SE, CNN_HTTP_GATEWAY, DIRECT_CNN, FORWARD_CNN)
    r = lab.curl("http://edition.cnn.com/politics", "-sSL", "-o", "/dev/null", "-D", "-")
    assert r.statuses == [301, 200]
    lines = [line for line in lab.logs(**CNN_GATEWAY_PODS) if "outbound|80||edition.cnn.com" in line]
    assert lines, "the deployed gateway proxied the request"
    assert '"GET /politics HTTP/1.1" 301' in lines[-1]
    assert lines[-1].endswith(" default.forward-cnn-from-egress-gateway.0")
    explained = str(r.explain())
    assert "HTTPRoute default/direct-cnn-to-egress-gateway rules[0]" in explained
    assert "HTTPRoute default/forward-cnn-from-egress-gateway rules[0]" in explained
    assert "Gateway (gateway.networking.k8s.io) default/cnn-egress-gateway listener http" in explained


def test_without_the_forwarding_route_the_gateway_has_no_route(lab: Lab) -> None:
    # EG (by the Gateway API's rules): a listener with no HTTPRoute attached has no route for the host, so
    # Envoy answers 404 with response flag NR (Envoy access log docs: NR, no route configured).
    apply(lab, CNN_SE, CNN_HTTP_GATEWAY, DIRECT_CNN)
    r = lab.curl("http://edition.cnn.com/politics", "-sSL", "-o", "/dev/null", "-D", "-")
    assert r.statuses == [404]
    assert any(" NR route_not_found " in line for line in lab.logs(**CNN_GATEWAY_PODS))


def test_routes_report_which_parents_accepted_them(lab: Lab) -> None:
    # Gateway API RouteParentStatus: one entry per parentRef, Accepted True where the route attached;
    # the Gateway's listener counts its attached routes (ListenerStatus.attachedRoutes).
    apply(lab, CNN_SE, CNN_HTTP_GATEWAY, DIRECT_CNN, FORWARD_CNN)
    forward = lab.get("HTTPRoute", "forward-cnn-from-egress-gateway", "default", api_version=GW)
    assert forward is not None
    [parent] = forward["status"]["parents"]
    assert {c["type"]: c["status"] for c in parent["conditions"]}["Accepted"] == "True"
    gw = lab.get("Gateway", "cnn-egress-gateway", "default", api_version=GW)
    assert gw is not None and gw["status"]["listeners"][0]["attachedRoutes"] == 1


def test_deleting_the_gateway_removes_its_deployment(lab: Lab) -> None:
    # EG cleanup deletes only the Gateway (snip_cleanup_http_gateway_2): its Deployment and Service are
    # owned by it and go with it (Kubernetes garbage collection of owner references).
    apply(lab, CNN_SE, CNN_HTTP_GATEWAY)
    lab.delete(copy.deepcopy(CNN_HTTP_GATEWAY))
    backend = lab.driver
    assert lab.get("Deployment", "cnn-egress-gateway-istio", "default", api_version="apps/v1") is None
    assert lab.get("Service", "cnn-egress-gateway-istio", "default") is None
    assert (
        backend.list_objects("v1", "Pod", "default", "gateway.networking.k8s.io/gateway-name=cnn-egress-gateway") == []
    )


# --------------------------------------------------------------------------- egress gateway: HTTPS passthrough


def test_https_passes_through_the_deployed_gateway_by_tls_route(lab: Lab) -> None:
    # EG: curl -sSL https://edition.cnn.com/politics gives 200 (snip_egress_gateway_for_https_traffic_5_out); the
    # gateway logs a TCP line ("- - -") to outbound|443||edition.cnn.com with SNI edition.cnn.com
    # (snip_egress_gateway_for_https_traffic_9).
    apply(lab, CNN_TLS_SE, CNN_TLS_GATEWAY, DIRECT_CNN_TLS, FORWARD_CNN_TLS)
    r = lab.curl("https://edition.cnn.com/politics", "-sSL", "-o", "/dev/null", "-D", "-")
    assert r.statuses == [200]
    lines = [line for line in lab.logs(**CNN_GATEWAY_PODS) if "outbound|443||edition.cnn.com" in line]
    assert lines and '"- - -"' in lines[-1] and " edition.cnn.com " in lines[-1] + " "
    assert "TLSRoute default/forward-cnn-from-egress-gateway rules[0]" in str(r.explain())


# --------------------------------------------------------------------------- wildcard hosts


def test_wildcard_tls_routes_send_every_wikipedia_to_www(lab: Lab) -> None:
    # WC: with the wildcard Gateway and TLSRoutes, both en. and de.wikipedia.org answer with their titles
    # (snip_configure_egress_gateway_traffic_to_a_wildcard_host_4_out), and the gateway's only upstream is
    # www.wikipedia.org (snip_..._wildcard_host_6_out: outbound|443||www.wikipedia.org).
    lab.set_outbound_policy("REGISTRY_ONLY")  # the page installs Istio with REGISTRY_ONLY
    apply(lab, WIKIPEDIA_GATEWAY, DIRECT_WIKIPEDIA, FORWARD_WIKIPEDIA, WIKIPEDIA_SE, WWW_WIKIPEDIA_SE)
    for url in ("https://en.wikipedia.org/wiki/Main_Page", "https://de.wikipedia.org/wiki/Wikipedia:Hauptseite"):
        r = lab.curl(url, "-s")
        assert r.status == 200, r.explain()
    pods = {"namespace": "default", "selector": "gateway.networking.k8s.io/gateway-name=wikipedia-egress-gateway"}
    upstreams = [line for line in lab.logs(**pods) if "outbound|443|" in line]
    assert len(upstreams) == 2 and all("outbound|443||www.wikipedia.org" in line for line in upstreams)


# --------------------------------------------------------------------------- refused by name


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        (
            {**copy.deepcopy(CNN_HTTP_GATEWAY), "metadata": meta("cnn-egress-gateway")},
            'metadata.annotations["networking.istio.io/service-type"]',
        ),
        (
            {
                **DIRECT_CNN,
                "spec": {**DIRECT_CNN["spec"], "parentRefs": [{"kind": "Service", "group": "", "name": "x"}]},
            },
            "spec.parentRefs[0].kind",
        ),
    ],
)
def test_what_the_simulator_does_not_model_is_refused_by_name(lab: Lab, doc: dict[str, Any], where: str) -> None:
    with pytest.raises(ManifestError) as err:
        lab.driver.apply([copy.deepcopy(doc)])
    assert where in [p.path for p in err.value.problems]


def test_other_gateway_api_kinds_are_refused(lab: Lab) -> None:
    grpc = {"apiVersion": GW, "kind": "GRPCRoute", "metadata": meta("g"), "spec": {}}
    with pytest.raises(ManifestError) as err:
        lab.driver.apply([grpc])
    assert "GRPCRoute" in str(err.value)


# --------------------------------------------------------------------------- TLS origination at the gateway

# TO: egress-gateway-tls-origination/index.md, "Perform TLS origination with an egress gateway", Gateway API
# tab (snips.sh snip_perform_tls_origination_with_an_egress_gateway_4/6/7/8/10/11; doc test
# egress-gateway-tls-origination/gtwapi_tls_test.sh). The sidecar reaches the gateway with the mesh's mutual
# TLS (the listener terminates it with ISTIO_MUTUAL), the gateway opens TLS to edition.cnn.com:443.
CNN_ORIGINATION_GATEWAY = gateway(
    "cnn-egress-gateway",
    {
        "name": "https-listener-for-tls-origination",
        "hostname": "edition.cnn.com",
        "port": 80,
        "protocol": "HTTPS",
        "tls": {"mode": "Terminate", "options": {"gateway.istio.io/tls-terminate-mode": "ISTIO_MUTUAL"}},
    },
)
CNN_GATEWAY_MTLS_DR = {
    "apiVersion": NET,
    "kind": "DestinationRule",
    "metadata": meta("egressgateway-for-cnn"),
    "spec": {
        "host": "cnn-egress-gateway-istio.default.svc.cluster.local",
        "trafficPolicy": {
            "loadBalancer": {"simple": "ROUND_ROBIN"},
            "portLevelSettings": [{"port": {"number": 80}, "tls": {"mode": "ISTIO_MUTUAL", "sni": "edition.cnn.com"}}],
        },
    },
}
FORWARD_CNN_TO_443 = route(
    "HTTPRoute",
    "forward-cnn-from-egress-gateway",
    {"name": "cnn-egress-gateway"},
    hostname_backend("edition.cnn.com", 443),
    hostnames=["edition.cnn.com"],
)
ORIGINATE_TLS_DR = {
    "apiVersion": NET,
    "kind": "DestinationRule",
    "metadata": meta("originate-tls-for-edition-cnn-com"),
    "spec": {
        "host": "edition.cnn.com",
        "trafficPolicy": {
            "loadBalancer": {"simple": "ROUND_ROBIN"},
            "portLevelSettings": [{"port": {"number": 443}, "tls": {"mode": "SIMPLE"}}],
        },
    },
}


def originate_at_the_gateway(lab: Lab) -> tuple[list[int], list[str]]:
    apply(lab, CNN_SE, CNN_ORIGINATION_GATEWAY, CNN_GATEWAY_MTLS_DR, DIRECT_CNN, FORWARD_CNN_TO_443, ORIGINATE_TLS_DR)
    r = lab.curl("http://edition.cnn.com/politics", "-sSL", "-o", "/dev/null", "-D", "-")
    return r.statuses, [line for line in lab.logs(**CNN_GATEWAY_PODS) if "outbound|443||edition.cnn.com" in line]


def test_the_deployed_gateway_originates_tls(lab: Lab) -> None:
    # TO: curl -sSL http://edition.cnn.com/politics answers 200 at once, without the 301 to https
    # (snip_perform_tls_origination_with_an_egress_gateway_8_out: "HTTP/1.1 200 OK"), and the gateway's log
    # shows the request sent to outbound|443||edition.cnn.com on route default.forward-cnn-from-egress-gateway.0,
    # received on its port 80 (snip_perform_tls_origination_with_an_egress_gateway_11).
    statuses, lines = originate_at_the_gateway(lab)
    assert statuses == [200]
    assert lines, "the deployed gateway sent the request on to port 443"
    assert '"GET /politics HTTP/1.1" 200' in lines[-1]
    assert ":80 " in lines[-1] and lines[-1].endswith(" default.forward-cnn-from-egress-gateway.0")


def test_the_gateway_logs_the_sni_the_sidecar_sent(lab: Lab) -> None:
    # TO: the gateway's line ends with the SNI of the sidecar's mutual TLS (the DestinationRule's sni) before
    # the route name: "... edition.cnn.com default.forward-cnn-from-egress-gateway.0" (..._gateway_11).
    _, lines = originate_at_the_gateway(lab)
    assert lines[-1].endswith(" edition.cnn.com default.forward-cnn-from-egress-gateway.0")


def test_without_the_mesh_tls_the_gateway_listener_refuses_the_request(lab: Lab) -> None:
    # TO: the listener terminates ISTIO_MUTUAL TLS, so the sidecar needs the DestinationRule that opens it
    # (egressgateway-for-cnn); without it the sidecar sends plain HTTP to a TLS port and the exchange fails
    # (Envoy answers 503 for an upstream connection that breaks before a response: envoy docs, response flag UC
    # / "upstream connect error or disconnect/reset before headers").
    apply(lab, CNN_SE, CNN_ORIGINATION_GATEWAY, DIRECT_CNN, FORWARD_CNN_TO_443, ORIGINATE_TLS_DR)
    r = lab.curl("http://edition.cnn.com/politics", "-sS", "-o", "/dev/null", "-w", "%{http_code}")
    assert r.status == 503


# --------------------------------------------------------------------------- the same model everywhere


def test_the_envoy_translation_sees_the_gateway_api_routes(lab: Lab) -> None:
    # EG: the gateway logs route default.forward-cnn-from-egress-gateway.0 (snip_..._http_traffic_12), and
    # %ROUTE_NAME% is the name of the Envoy route that matched (Envoy access log docs): the gateway's route
    # table has that route, to outbound|80||edition.cnn.com; the client's has default.direct-cnn-to-egress-gateway.0.
    apply(lab, CNN_SE, CNN_HTTP_GATEWAY, DIRECT_CNN, FORWARD_CNN)

    def routes(pod: str) -> dict[str, str]:
        dump = lab.proxy_config("routes", pod)
        return {
            route["name"]: route["route"]["cluster"]
            for config in dump["dynamic_route_configs"]
            for vhost in config["route_config"]["virtual_hosts"]
            for route in vhost["routes"]
            if "cluster" in route.get("route", {})
        }

    gateway_routes = routes("gateway.networking.k8s.io/gateway-name=cnn-egress-gateway")
    assert gateway_routes["default.forward-cnn-from-egress-gateway.0"] == "outbound|80||edition.cnn.com"
    client_routes = routes("sleep")
    assert (
        client_routes["default.direct-cnn-to-egress-gateway.0"]
        == "outbound|80||cnn-egress-gateway-istio.default.svc.cluster.local"
    )


def test_cleanup_removes_the_deployed_gateway_too(lab: Lab) -> None:
    # The deployed objects carry the Gateway's labels (istiod copies them: istio/istio
    # pilot/pkg/config/kube/gateway/testdata/deployment/copy-labels-annotations-enabled-infra-nil.yaml), so
    # labkit's cleanup by label and Kubernetes' owner garbage collection agree: nothing is left.
    apply(lab, CNN_SE, CNN_HTTP_GATEWAY, DIRECT_CNN, FORWARD_CNN)
    [pod] = lab.pods("default", "gateway.networking.k8s.io/gateway-name=cnn-egress-gateway")
    assert pod["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "labkit"
    lab.cleanup()
    assert lab.is_clean
    assert lab.pods("default", "gateway.networking.k8s.io/gateway-name=cnn-egress-gateway") == []


def test_every_served_version_is_stored_once_and_found_by_any(lab: Lab) -> None:
    # Kubernetes serves one object at each of its CRD's served versions (Gateway and HTTPRoute: v1, v1beta1;
    # TLSRoute: v1, v1alpha2, v1alpha3, in ../shared/istio/gateway-api-crd.yaml): applied as v1beta1, it is the
    # same object when read, listed or deleted through v1.
    older = {**copy.deepcopy(CNN_HTTP_GATEWAY), "apiVersion": "gateway.networking.k8s.io/v1beta1"}
    apply(lab, CNN_SE, older)
    assert lab.get("Gateway", "cnn-egress-gateway", "default", api_version=GW) is not None
    names = [g["metadata"]["name"] for g in lab.driver.list_objects(GW, "Gateway", "default")]
    assert names == ["cnn-egress-gateway"]
    lab.delete(copy.deepcopy(CNN_HTTP_GATEWAY))
    assert lab.get("Gateway", "cnn-egress-gateway", "default", api_version="gateway.networking.k8s.io/v1beta1") is None
