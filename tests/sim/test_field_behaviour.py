"""Behaviour of Istio fields the simulator reads that no lab test proves on its own.

Each test is the evidence that lib/labkit/sim/coverage.yaml names for a ``modelled`` field; each
expected result cites the Istio or Envoy reference it comes from.
"""

from __future__ import annotations

from typing import Any

from labkit import manifests
from labkit.lab import Lab
from labkit.paths import lab_file

EGRESS = "03-egress-gateway"
PARAMS = {"host": "edition.cnn.com", "istio_namespace": "istio-system", "gateway_label": "egressgateway"}
GATEWAY_PODS = {"namespace": "istio-system", "selector": "istio=egressgateway"}


def lab_docs(name: str, **overrides: str) -> list[dict[str, Any]]:
    return manifests.load(lab_file(EGRESS, name), {**PARAMS, **overrides})


def test_a_gateway_server_serves_only_its_hosts(lab: Lab) -> None:
    """Gateway ``servers[].hosts``: the hosts a server exposes; a VirtualService bound to the gateway is
    applied to a server only for hosts that match the server's (istio.io, Gateway reference: Server.hosts,
    and VirtualService reference: gateways). Here the server exposes another host, so the gateway's route
    table has no virtual host for edition.cnn.com and Envoy answers 404 with flag NR (Envoy access log
    reference: NR, no route configured)."""
    gateway = lab_docs("gateway-http.yaml")
    gateway[0]["spec"]["servers"][0]["hosts"] = ["other.example.com"]
    lab.apply(lab_docs("serviceentry-http.yaml") + gateway + lab_docs("destinationrule-gateway.yaml"))
    lab.apply(lab_docs("virtualservice-http.yaml"))
    lab.driver.sleep(2)
    r = lab.curl("http://edition.cnn.com/politics", "-sS", "-o", "/dev/null", "-D", "-")
    assert r.statuses == [404]
    assert any(" NR route_not_found " in line for line in lab.logs(**GATEWAY_PODS))
    # The same documents with the server exposing the host do reach it (istio.io egress-gateway task: 301).
    lab.apply(lab_docs("gateway-http.yaml"))
    lab.driver.sleep(2)
    assert lab.curl("http://edition.cnn.com/politics", "-sS", "-o", "/dev/null", "-D", "-").statuses == [301]


def test_resolution_none_sends_to_the_address_the_client_resolved(lab: Lab) -> None:
    """ServiceEntry ``resolution: NONE``: Istio assumes connections are already resolved to a specific IP
    and forwards them there (istio.io, ServiceEntry reference: Resolution NONE). So under REGISTRY_ONLY, where
    an unregistered TLS host is blackholed (istio.io egress-control task: curl fails with exit 35), a
    NONE entry lets the client's own DNS answer through, via the entry's cluster outbound|443||host."""
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.driver.sleep(2)
    assert lab.curl("https://www.baidu.com", "-sSI").exit_code == 35, "blocked before the entry exists"
    lab.apply(
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "ServiceEntry",
            "metadata": {"name": "baidu"},
            "spec": {
                "hosts": ["www.baidu.com"],
                "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
                "resolution": "NONE",
            },
        }
    )
    lab.driver.sleep(2)
    r = lab.curl("https://www.baidu.com", "-sSI")
    assert (r.exit_code, r.status) == (0, 200), r.stderr
    line = [x for x in lab.logs() if "outbound|443||www.baidu.com" in x]
    assert line, "the sidecar used the entry's cluster, not PassthroughCluster"


HTTPBIN_SE = lab_file("01-external-access", "serviceentry-http.yaml")


def httpbin_routes(lab: Lab, *routes: dict[str, Any]) -> None:
    """httpbin.org registered as in lab 01, with a VirtualService whose http routes are ``routes`` followed by
    a catch-all route to httpbin.org."""
    lab.apply(HTTPBIN_SE, name="httpbin-ext", host="httpbin.org")
    catch_all = {"route": [{"destination": {"host": "httpbin.org"}}]}
    lab.apply(
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "httpbin-routes"},
            "spec": {"hosts": ["httpbin.org"], "http": [*routes, catch_all]},
        }
    )
    lab.driver.sleep(2)


def first_hop(lab: Lab, path: str, *args: str) -> tuple[int, str | None]:
    """Status and Location of the first response to ``curl http://httpbin.org<path>`` (redirects not followed)."""
    r = lab.curl(f"http://httpbin.org{path}", "-sS", "-o", "/dev/null", "-D", "-", *args)
    assert r.responses, r.stderr
    return r.responses[0].status, r.responses[0].header("location")


def test_http_match_on_the_uri_exact_prefix_and_regex(lab: Lab) -> None:
    """HTTPMatchRequest ``uri`` with StringMatch exact, prefix and regex (RE2, matching the whole path); the
    conditions of one match are ANDed, the entries of ``match`` are ORed, and the first matching route wins
    (istio.io, VirtualService reference: HTTPMatchRequest, StringMatch, HTTPRoute). A ``redirect`` route answers
    with the default code 301 and a Location made of the request's scheme and authority and the new path
    (VirtualService reference: HTTPRedirect, redirectCode defaults to MOVED_PERMANENTLY)."""
    httpbin_routes(
        lab,
        {
            "match": [{"uri": {"exact": "/old"}}, {"uri": {"prefix": "/legacy/"}}, {"uri": {"regex": "/v[0-9]+/get"}}],
            "redirect": {"uri": "/get"},
        },
    )
    for path in ("/old", "/legacy/a", "/v2/get"):
        assert first_hop(lab, path) == (301, "http://httpbin.org/get"), path
    assert first_hop(lab, "/get") == (200, None)
    # exact is not prefix, and a regex must match the whole path: these go to the catch-all route.
    for path in ("/old/more", "/v2/get/more"):
        assert first_hop(lab, path)[1] is None, path


def test_http_match_on_method_and_headers(lab: Lab) -> None:
    """HTTPMatchRequest ``method`` and ``headers`` (StringMatch exact, prefix, regex on a header's value), as in
    istio.io's request-routing task, which routes the user "jason" by the header end-user (istio.io, VirtualService
    reference: HTTPMatchRequest). ``redirectCode``, ``scheme`` and ``authority`` set the redirect's status and the
    Location's scheme and host (VirtualService reference: HTTPRedirect)."""
    httpbin_routes(
        lab,
        {"match": [{"method": {"exact": "DELETE"}}], "redirect": {"uri": "/anything", "redirectCode": 302}},
        {"match": [{"method": {"exact": "PUT"}}], "redirect": {"authority": "edition.cnn.com"}},
        {"match": [{"headers": {"end-user": {"exact": "jason"}}}], "redirect": {"uri": "/headers", "scheme": "https"}},
        {
            "match": [{"headers": {"x-team": {"prefix": "blue-"}, "x-build": {"regex": "[0-9]+"}}}],
            "redirect": {"uri": "/ip"},
        },
    )
    assert first_hop(lab, "/get", "-X", "DELETE") == (302, "http://httpbin.org/anything")
    # Without ``uri`` the redirect keeps the request's path (HTTPRedirect: authority replaces only the host).
    assert first_hop(lab, "/get", "-X", "PUT") == (301, "http://edition.cnn.com/get")
    assert first_hop(lab, "/get", "-H", "end-user: jason") == (301, "https://httpbin.org/headers")
    assert first_hop(lab, "/get", "-H", "end-user: bob") == (200, None)
    assert first_hop(lab, "/get", "-H", "x-team: blue-1", "-H", "x-build: 42") == (301, "http://httpbin.org/ip")
    # Both headers must match: one alone, or a value the regex does not match as a whole, falls through.
    assert first_hop(lab, "/get", "-H", "x-team: blue-1") == (200, None)
    assert first_hop(lab, "/get", "-H", "x-team: blue-1", "-H", "x-build: 42a") == (200, None)


CNN_SE = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "ServiceEntry",
    "metadata": {"name": "edition-cnn-com"},
    "spec": {
        "hosts": ["edition.cnn.com"],
        "ports": [{"number": 80, "name": "http-port", "protocol": "HTTP", "targetPort": 443}],
        "resolution": "DNS",
    },
}


def test_destination_rule_tls_for_every_port_and_for_a_subset(lab: Lab) -> None:
    """DestinationRule ``trafficPolicy.tls`` applies to every port of the host, and a subset's own
    ``trafficPolicy.tls`` to traffic routed to that subset (istio.io, DestinationRule reference: TrafficPolicy,
    Subset). With mode SIMPLE the sidecar originates TLS, so plain HTTP from the app gets a single 200 from
    edition.cnn.com instead of its redirect to HTTPS (istio.io egress-tls-origination task)."""
    url = "http://edition.cnn.com/politics"
    rule: dict[str, Any] = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "edition-cnn-com"},
        "spec": {"host": "edition.cnn.com", "trafficPolicy": {"tls": {"mode": "SIMPLE"}}},
    }
    lab.apply([CNN_SE, rule])
    lab.driver.sleep(2)
    r = lab.curl(url, "-sSL", "-o", "/dev/null", "-D", "-")
    assert r.statuses == [200], r.stderr
    rule["spec"] = {
        "host": "edition.cnn.com",
        "subsets": [{"name": "tls", "trafficPolicy": {"tls": {"mode": "SIMPLE"}}}],
    }
    route = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "edition-cnn-com"},
        "spec": {
            "hosts": ["edition.cnn.com"],
            "http": [{"route": [{"destination": {"host": "edition.cnn.com", "subset": "tls"}}]}],
        },
    }
    lab.apply([rule, route])
    lab.driver.sleep(2)
    assert lab.curl(url, "-sSL", "-o", "/dev/null", "-D", "-").statuses == [200]
    lab.delete(route)
    lab.driver.sleep(2)
    # Traffic not routed to the subset gets no TLS: plain HTTP reaches port 443 and the origination is gone.
    assert lab.curl(url, "-sSL", "-o", "/dev/null", "-D", "-").statuses != [200]


def test_http_match_on_source_labels(lab: Lab) -> None:
    """HTTPMatchRequest ``sourceLabels``: the route applies only to requests from workloads with those labels
    (istio.io, VirtualService reference: HTTPMatchRequest.sourceLabels)."""
    lab.deploy_client(name="other")
    httpbin_routes(lab, {"match": [{"sourceLabels": {"app": "other"}}], "redirect": {"uri": "/ip"}})
    r = lab.curl("http://httpbin.org/get", "-sS", "-o", "/dev/null", "-D", "-", client="other")
    assert (r.responses[0].status, r.responses[0].header("location")) == (301, "http://httpbin.org/ip")
    assert first_hop(lab, "/get") == (200, None), "the sleep client's labels don't match"


def test_an_http_route_name_is_the_route_name_in_the_access_log(lab: Lab) -> None:
    """HTTPRoute ``name`` is logged in the access logs for requests matching the route (istio.io, VirtualService
    reference: HTTPRoute.name); Istio's default access log format ends with %ROUTE_NAME% (istio.io, Envoy access
    logs task: default format)."""
    httpbin_routes(
        lab,
        {
            "name": "to-httpbin-get",
            "match": [{"uri": {"exact": "/get"}}],
            "route": [{"destination": {"host": "httpbin.org"}}],
        },
    )
    assert first_hop(lab, "/get") == (200, None)
    line = [x for x in lab.logs() if '"GET /get ' in x]
    assert line and line[-1].endswith(" to-httpbin-get"), line
