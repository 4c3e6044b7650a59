"""ServiceEntry fields on the simulator: ``addresses`` for TCP, resolution and endpoints.

Sources:
- Istio ServiceEntry reference (istio.io/latest/docs/reference/config/networking/service-entry/):
  ``addresses`` "The virtual IP addresses associated with the service ... if the addresses field is
  specified, the traffic will be matched against the IP address and port" for TCP traffic;
  ``resolution: STATIC`` uses the static IP addresses in ``endpoints``; ``NONE`` forwards to the
  original destination IP.
- istio.io egress-control: under REGISTRY_ONLY, traffic to destinations outside the registry is
  blocked (BlackHoleCluster).
"""

from __future__ import annotations

from labkit.lab import Lab

BY_ADDRESS = """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: by-address}
spec:
  hosts: [my-company-proxy.com]
  addresses: [203.0.113.20/32]
  ports: [{number: 80, name: tcp, protocol: TCP}]
  location: MESH_EXTERNAL
  resolution: NONE
"""


def settle(lab: Lab) -> None:
    lab.driver.sleep(2.0)


def test_an_address_outside_the_registry_is_blocked_under_registry_only(lab: Lab) -> None:
    # Port 80 has an HTTP listener (the egress gateway Service declares http2 on 80), so the request is
    # routed by its Host header, an IP no service has: block_all answers 502 (istio.io egress-control).
    lab.set_outbound_policy("REGISTRY_ONLY")
    settle(lab)
    r = lab.curl("http://203.0.113.20/get", "-sS")
    assert r.status == 502
    assert lab.logs()[-1].endswith(" block_all")


def test_service_entry_addresses_let_tcp_through_by_destination_ip(lab: Lab) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.apply(BY_ADDRESS)
    settle(lab)
    r = lab.curl("http://203.0.113.20/get", "-sS")
    assert r.status == 200, r.stderr
    assert "outbound|80||my-company-proxy.com" in lab.logs()[-1]


def test_static_resolution_sends_to_the_listed_endpoint(lab: Lab) -> None:
    lab.apply(
        """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: static}
spec:
  hosts: [api.example.internal]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 203.0.113.20}]
"""
    )
    settle(lab)
    # The name resolves nowhere, so curl needs --resolve; the sidecar then routes by Host header to
    # the ServiceEntry's static endpoint (httpbin.org's address in the simulated world).
    r = lab.curl("http://api.example.internal/get", "-sS", "--resolve", "api.example.internal:80:198.51.100.99")
    assert r.status == 200, r.stderr
    assert '"203.0.113.20:80"' in lab.logs()[-1]


def test_the_blackhole_cluster_logs_no_healthy_upstream(lab: Lab) -> None:
    # BlackHoleCluster is a STATIC cluster with no endpoints (istiod's cluster builder); Envoy's
    # access-log flag for a request with no healthy upstream host is UH (Envoy docs, %RESPONSE_FLAGS%).
    # tests/envoy's sidecar tests see the same UH from a real Envoy 1.40.
    lab.set_outbound_policy("REGISTRY_ONLY")
    settle(lab)
    assert lab.curl("https://www.baidu.com", "-sSI").exit_code == 35
    line = lab.logs()[-1]
    assert '"- - -" 0 UH ' in line and " BlackHoleCluster " in line


def test_a_tls_route_to_a_subset_no_rule_defines_logs_no_cluster_found(lab: Lab) -> None:
    # A tls route to a subset that no DestinationRule defines points at a cluster istiod does not build
    # (Istio DestinationRule reference: subsets are defined by DestinationRules). Envoy's TCP proxy
    # then closes the connection and logs NC, "Upstream cluster not found" (Envoy access-log docs,
    # %RESPONSE_FLAGS%), not UH, which is for a cluster that exists without a healthy host.
    lab.apply(
        """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: cnn-tls}
spec:
  hosts: [edition.cnn.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: cnn-subset}
spec:
  hosts: [edition.cnn.com]
  tls:
  - match: [{port: 443, sniHosts: [edition.cnn.com]}]
    route: [{destination: {host: edition.cnn.com, subset: nowhere, port: {number: 443}}}]
"""
    )
    settle(lab)
    assert lab.curl("https://edition.cnn.com", "-sSI").exit_code == 35  # curl man page: SSL connect error
    line = lab.logs()[-1]
    assert '"- - -" 0 NC ' in line, line


def test_passthrough_tls_through_the_catch_all_logs_no_sni(lab: Lab) -> None:
    # No service has a TLS port 443, so the connection is taken by the virtualOutbound listener's
    # catch-all chain; istiod gives that listener no listener filters (pilot/pkg/networking/core/
    # listener_builder.go, buildVirtualOutboundListener), so no TLS inspector reads the ClientHello and
    # Envoy logs %REQUESTED_SERVER_NAME% as "-" (Envoy access-log docs: the SNI "set on ssl connection
    # socket", which only the TLS inspector sets for a connection Envoy does not terminate).
    r = lab.curl("https://www.google.com", "-sSI")
    assert r.status == 200, r.stderr
    line = lab.logs()[-1]
    assert " PassthroughCluster " in line and line.endswith(" - -"), line


def test_passthrough_tls_on_a_listener_with_sni_chains_logs_the_sni(lab: Lab) -> None:
    # A ServiceEntry without addresses with a TLS port 443 gives the sidecar a 0.0.0.0_443 listener
    # whose chain matches on SNI; istiod then adds the tls_inspector listener filter (buildListenerFromEntry:
    # "add a TLS inspector if we need to detect ServerName"), which reads every ClientHello on that
    # listener, also one that falls to its PassthroughFilterChain: the SNI is logged.
    lab.apply(
        """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: cnn-tls}
spec:
  hosts: [edition.cnn.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
  location: MESH_EXTERNAL
"""
    )
    settle(lab)
    r = lab.curl("https://www.google.com", "-sSI")
    assert r.status == 200, r.stderr
    line = lab.logs()[-1]
    assert " PassthroughCluster " in line and line.endswith(" www.google.com -"), line
