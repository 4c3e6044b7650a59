"""Kubernetes Services for egress traffic (lab 07) on the simulator, after istio.io's task "Kubernetes
Services for Egress Traffic" (tasks/traffic-management/egress/egress-kubernetes-services, its doc test
test.sh) and what Istio 1.27 does with those Services:

- cluster DNS answers an ``ExternalName`` Service with a CNAME to its external name (Kubernetes docs,
  concepts/services-networking/service/#externalname);
- since Istio 1.21 an ``ExternalName`` Service is only an alias: istiod builds no cluster, listener or
  route for it, matches it wherever it matches the Service its external name names, and applies no
  DestinationRule to it (Istio 1.21 upgrade notes, "ExternalName support changes"; 1.27
  pilot/pkg/model/push_context.go resolveServiceAliases, networking/core/listener.go and cluster.go
  skip ``model.Alias``);
- a Service without selector gets its endpoints from an ``Endpoints`` or ``EndpointSlice`` object
  (Kubernetes docs, concepts/services-networking/service/#services-without-selectors).
"""

from __future__ import annotations

import re

import pytest

from labkit.errors import LabkitError
from labkit.lab import Lab
from labkit.paths import lab_file
from labkit.sim.registry import external_name_aliases

LAB = "07-kubernetes-services"
PLAIN = "without-istio"
ALIAS = {
    "name": "my-httpbin",
    "external_host": "httpbin.org",
    "entry_name": "httpbin-org",
    "service_namespace": "default",
}
ALIAS_HOST = "my-httpbin.default.svc.cluster.local"
PAGE = "https://en.wikipedia.org/wiki/Main_Page"
TITLE = "<title>Wikipedia, the free encyclopedia</title>"


def apply(lab: Lab, file: str, **params: str) -> None:
    lab.apply(lab_file(LAB, file), namespace="default", **{**ALIAS, **params})
    lab.driver.sleep(2)  # istiod's push


def plain_client(lab: Lab) -> None:
    lab.apply(lab_file("common", "namespace.yaml"), name=PLAIN)
    lab.deploy_client(namespace=PLAIN)


def wikipedia_service(lab: Lab) -> str:
    """The task's selector-less my-wikipedia with an Endpoints address: Wikipedia's, as DNS gives it."""
    apply(lab, "service-with-endpoints.yaml", name="my-wikipedia", address=world_address(lab, "en.wikipedia.org"))
    return lab.get("Service", "my-wikipedia", "default")["spec"]["clusterIP"]


def world_address(lab: Lab, host: str) -> str:
    address = lab.world.resolve(host)
    assert address is not None
    return address


def headers(lab: Lab, namespace: str = "default") -> dict[str, str]:
    r = lab.curl(f"{ALIAS_HOST}/headers", "-sS", namespace=namespace)
    assert r.exit_code == 0, r.stderr
    return dict(re.findall(r'"([\w-]+)": "([^"]*)"', r.body))


# -- ExternalName: DNS and the API object


def test_cluster_dns_answers_an_external_name_service_with_its_external_hosts_address(lab: Lab) -> None:
    apply(lab, "externalname-service.yaml")
    cluster = lab.driver.mesh.cluster
    # Kubernetes docs (service/#externalname): looking up the Service's name returns a CNAME to the
    # external name, which the client then resolves; the pod's search path makes the short name work too.
    expected = world_address(lab, "httpbin.org")
    assert cluster.resolve(ALIAS_HOST, "without-istio") == expected
    assert cluster.resolve("my-httpbin", "default") == expected
    assert cluster.resolve("my-httpbin", "without-istio") is None  # not in that namespace's search path


def test_an_external_name_service_has_no_cluster_ip(lab: Lab) -> None:
    apply(lab, "externalname-service.yaml")
    spec = lab.get("Service", "my-httpbin", "default")["spec"]
    # istio.io's task: `kubectl get svc my-httpbin` shows TYPE ExternalName, CLUSTER-IP <none>,
    # EXTERNAL-IP httpbin.org.
    assert (spec["type"], spec.get("clusterIP"), spec["externalName"]) == ("ExternalName", None, "httpbin.org")
    # Re-applying keeps it that way.
    apply(lab, "externalname-service.yaml")
    assert lab.get("Service", "my-httpbin", "default")["spec"].get("clusterIP") is None


def test_an_external_name_service_with_a_cluster_ip_is_refused(lab: Lab) -> None:
    doc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "my-httpbin"},
        "spec": {"type": "ExternalName", "externalName": "httpbin.org", "clusterIP": "10.96.0.99"},
    }
    # Kubernetes API validation: a cluster IP may not be set for type ExternalName.
    with pytest.raises(LabkitError, match="may not be set for type ExternalName"):
        lab.apply([doc], namespace="default")
    assert lab.get("Service", "my-httpbin", "default") is None


def test_without_a_sidecar_httpbin_sees_the_service_name_as_host(lab: Lab) -> None:
    plain_client(lab)
    apply(lab, "externalname-service.yaml")
    got = headers(lab, PLAIN)
    # istio.io's task and doc test: the Host header is the Service's name, and nothing else was added.
    assert got["Host"] == ALIAS_HOST
    assert not any(name.startswith("X-Envoy") for name in got)


# -- ExternalName through the sidecar: an alias (Istio 1.21+)


def test_through_the_sidecar_an_alias_of_an_unregistered_host_passes_through(lab: Lab) -> None:
    apply(lab, "externalname-service.yaml")
    got = headers(lab)
    # istio.io's doc test: the sidecar added its headers (it checks X-Envoy-Peer-Metadata).
    assert got["Host"] == ALIAS_HOST and "X-Envoy-Peer-Metadata" in got
    # Istio 1.21 upgrade notes: no route of its own, so under ALLOW_ANY it takes the catch-all
    # allow_any route (PassthroughCluster), which has no decorator (httproute.go buildCatchAllVirtualHost).
    assert "X-Envoy-Decorator-Operation" not in got
    assert " PassthroughCluster " in lab.logs()[-1]


def test_under_registry_only_an_alias_of_an_unregistered_host_is_blocked(lab: Lab) -> None:
    apply(lab, "externalname-service.yaml")
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.driver.sleep(2)
    # The alias is not a registry entry of its own: REGISTRY_ONLY answers 502 (istio.io egress-control).
    r = lab.curl(f"http://{ALIAS_HOST}/headers", "-sS", "-o", "/dev/null", "-w", "%{http_code}")
    assert r.stdout == "502"


def test_with_a_service_entry_for_its_external_name_the_alias_routes_like_that_host(lab: Lab) -> None:
    apply(lab, "externalname-service.yaml")
    apply(lab, "serviceentry-http.yaml")
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.driver.sleep(2)
    got = headers(lab)
    # Istio 1.21 upgrade notes: wherever Host: httpbin.org matches, Host: my-httpbin... matches too
    # (httproute.go generateVirtualHostDomains adds the aliases to httpbin.org's virtual host), so the
    # route is httpbin.org's: its cluster and its decorator "<host>:<port>/*" (the form istio.io's task shows).
    assert got["Host"] == ALIAS_HOST
    assert got["X-Envoy-Decorator-Operation"] == "httpbin.org:80/*"
    assert " outbound|80||httpbin.org " in lab.logs()[-1]


def test_the_short_names_of_an_alias_take_the_same_route(lab: Lab) -> None:
    apply(lab, "externalname-service.yaml")
    apply(lab, "serviceentry-http.yaml")
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.driver.sleep(2)
    # httproute.go generateVirtualHostDomains gives every alias the alternative names of a Kubernetes
    # host (GenerateAltVirtualHosts: name, name.ns, name.ns.svc for a client in its namespace), and the
    # pod's DNS search path resolves them all (Kubernetes "DNS for Services and Pods").
    for short in ("my-httpbin", "my-httpbin.default", "my-httpbin.default.svc"):
        r = lab.curl(f"http://{short}/headers", "-sS")
        assert f'"Host": "{short}"' in r.body, r.stderr
        assert " outbound|80||httpbin.org " in lab.logs()[-1]


def test_a_destination_rule_for_the_external_name_service_does_not_apply(lab: Lab) -> None:
    apply(lab, "externalname-service.yaml")
    apply(lab, "serviceentry-http.yaml")
    dr = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "my-httpbin-tls"},
        "spec": {"host": ALIAS_HOST, "trafficPolicy": {"tls": {"mode": "SIMPLE"}}},
    }
    lab.apply([dr], namespace="default")
    lab.driver.sleep(2)
    # Istio 1.21 upgrade notes: a DestinationRule can no longer apply to an ExternalName Service.
    # Had it applied, TLS to httpbin.org's port 80 would fail; the request goes out in plain HTTP.
    assert headers(lab)["Host"] == ALIAS_HOST
    assert '"203.0.113.20:80" outbound|80||httpbin.org ' in lab.logs()[-1]


def test_tls_origination_for_the_external_host_covers_its_alias(lab: Lab) -> None:
    apply(lab, "externalname-service.yaml")
    apply(lab, "tls-origination.yaml")
    # istio.io egress-tls-origination: the app sends plain HTTP to port 80, the sidecar opens TLS to
    # targetPort 443. The alias takes httpbin.org's route (upgrade notes above), so it gets the same.
    got = headers(lab)
    assert got["Host"] == ALIAS_HOST
    line = lab.logs()[-1]
    assert f'"{world_address(lab, "httpbin.org")}:443" outbound|80||httpbin.org ' in line


def test_aliases_follow_a_chain_of_external_names_and_drop_a_loop() -> None:
    def svc(name: str, target: str) -> dict:
        meta = {"name": name, "namespace": "default"}
        return {"metadata": meta, "spec": {"type": "ExternalName", "externalName": target}}

    services = [
        svc("a", "b.default.svc.cluster.local"),
        svc("b", "httpbin.org"),
        svc("x", "y.default.svc.cluster.local"),
        svc("y", "x.default.svc.cluster.local"),
    ]
    # push_context.go resolveServiceAliases: Alias1 -> Alias2 -> Concrete flattens to Alias1 -> Concrete;
    # a loop is treated as if it did not exist (Kubernetes DNS answers NXDOMAIN).
    assert external_name_aliases(services) == {
        "httpbin.org": ["a.default.svc.cluster.local", "b.default.svc.cluster.local"]
    }


# -- a Service without selector, with endpoints outside the cluster


def test_a_service_without_selector_reaches_its_endpoints_address_from_both_clients(lab: Lab) -> None:
    plain_client(lab)
    cluster_ip = wikipedia_service(lab)
    resolve = ("--resolve", f"en.wikipedia.org:443:{cluster_ip}")
    # istio.io's task and doc test: by the cluster IP, both clients get Wikipedia's main page, the
    # sidecar one after a DestinationRule with tls mode DISABLE.
    r = lab.curl(PAGE, "-sS", *resolve, namespace=PLAIN)
    assert TITLE in r.body, r.stderr
    apply(lab, "destinationrule-disable.yaml", name="my-wikipedia")
    r = lab.curl(PAGE, "-sS", "-v", *resolve)
    assert TITLE in r.body, r.stderr
    # "Connected to en.wikipedia.org (<cluster IP>)": the doc test checks this line of curl -v.
    assert f"Connected to en.wikipedia.org ({cluster_ip}) port 443" in r.stderr
    assert " outbound|443||my-wikipedia.default.svc.cluster.local " in lab.logs()[-1]


def test_an_endpoint_slice_gives_a_service_without_selector_its_endpoints(lab: Lab) -> None:
    lab.apply(
        [
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "wiki"},
             "spec": {"ports": [{"port": 443, "name": "tls"}]}},
            {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
             "metadata": {"name": "wiki-1", "labels": {"kubernetes.io/service-name": "wiki"}},
             "addressType": "IPv4", "ports": [{"name": "tls", "port": 443}],
             "endpoints": [{"addresses": [world_address(lab, "en.wikipedia.org")]}]},
        ],
        namespace="default",
    )  # fmt: skip
    cluster_ip = lab.get("Service", "wiki", "default")["spec"]["clusterIP"]
    # Kubernetes docs (services-without-selectors): an EndpointSlice labelled
    # kubernetes.io/service-name=<service> gives the Service its endpoints.
    r = lab.curl(PAGE, "-sS", "--resolve", f"en.wikipedia.org:443:{cluster_ip}")
    assert TITLE in r.body, r.stderr


def test_a_service_without_selector_and_without_endpoints_refuses_connections(lab: Lab) -> None:
    plain_client(lab)
    lab.apply(
        [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "wiki"},
          "spec": {"ports": [{"port": 443, "name": "tls"}]}}],
        namespace="default",
    )  # fmt: skip
    cluster_ip = lab.get("Service", "wiki", "default")["spec"]["clusterIP"]
    # kube-proxy rejects connections to a Service that has no endpoints (Kubernetes docs, "Virtual IPs
    # and Service Proxies"): curl's exit 7, "Couldn't connect to server" (curl man page, EXIT CODES).
    r = lab.curl(PAGE, "-sS", "--resolve", f"en.wikipedia.org:443:{cluster_ip}", namespace=PLAIN)
    assert r.exit_code == 7


def test_tls_mode_disable_passes_the_apps_own_tls_through_where_simple_wraps_it_again(lab: Lab) -> None:
    cluster_ip = wikipedia_service(lab)
    resolve = ("--resolve", f"en.wikipedia.org:443:{cluster_ip}")
    simple = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "my-wikipedia"},
        "spec": {"host": "my-wikipedia.default.svc.cluster.local", "trafficPolicy": {"tls": {"mode": "SIMPLE"}}},
    }
    lab.apply([simple], namespace="default")
    lab.driver.sleep(2)
    # istio.io network-issues, "Double TLS": TLS origination for traffic the app already encrypts fails
    # the app's handshake (curl exit 35, SSL connect error).
    assert lab.curl(PAGE, "-sS", *resolve).exit_code == 35
    # istio.io's task: with mode DISABLE the sidecar passes the app's TLS on untouched, and the page loads.
    apply(lab, "destinationrule-disable.yaml", name="my-wikipedia")
    r = lab.curl(PAGE, "-sS", *resolve)
    assert TITLE in r.body, r.stderr


def test_an_endpoint_port_other_than_the_target_port_is_refused_by_name(lab: Lab) -> None:
    lab.apply(
        [
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "wiki"},
             "spec": {"ports": [{"port": 443, "name": "tls"}]}},
            {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "wiki"},
             "subsets": [{"addresses": [{"ip": world_address(lab, "en.wikipedia.org")}],
                          "ports": [{"name": "tls", "port": 8443}]}]},
        ],
        namespace="default",
    )  # fmt: skip
    cluster_ip = lab.get("Service", "wiki", "default")["spec"]["clusterIP"]
    # Kubernetes sends a selector-less Service's traffic to its endpoint's port (8443 here); the
    # simulator only models targetPort, so it refuses rather than connect to the wrong port.
    with pytest.raises(LabkitError, match="endpoint port 'tls' is 8443 but its targetPort is 443"):
        lab.curl(PAGE, "-sS", "--resolve", f"en.wikipedia.org:443:{cluster_ip}")
