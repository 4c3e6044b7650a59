"""What one proxy can see: exportTo, the Sidecar resource, and registry precedence.

Sources cited below:
- SE: https://istio.io/latest/docs/reference/config/networking/service-entry/#ServiceEntry (exportTo)
- VS: https://istio.io/latest/docs/reference/config/networking/virtual-service/#VirtualService (exportTo)
- DR: https://istio.io/latest/docs/reference/config/networking/destination-rule/#DestinationRule (exportTo)
- SIDECAR: https://istio.io/latest/docs/reference/config/networking/sidecar/ (NOTE 1-3, IstioEgressListener.hosts,
  IstioEgressListener.port, Sidecar.outboundTrafficPolicy)
- MESH: https://istio.io/latest/docs/reference/config/istio.mesh.v1alpha1/ (defaultServiceExportTo,
  defaultVirtualServiceExportTo, defaultDestinationRuleExportTo, rootNamespace)
- ANNOTATIONS: https://istio.io/latest/docs/reference/config/annotations/#NetworkingExportTo
- XNS: https://istio.io/latest/docs/ops/best-practices/traffic-management/#cross-namespace-configuration
- istio/istio 1.27.1 pilot/pkg/model/sidecar.go and push_context.go, named by function where the
  reference pages say nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from labkit.sim.registry import build
from labkit.sim.scope import Scope, ScopeError, exported, sidecar_for

T0, T1, T2 = "2026-01-01T09:00:00Z", "2026-01-01T09:00:01Z", "2026-01-01T09:00:02Z"


def meta(ns: str, name: str, created: str = T0, **extra: Any) -> dict[str, Any]:
    return {"namespace": ns, "name": name, "creationTimestamp": created, **extra}


def pod(ns: str = "default", **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta(ns, "client", labels=labels or {"app": "sleep"})}


def service(ns: str, name: str, created: str = T0, export_to: str | None = None, ports: tuple = (80,)) -> dict:
    annotations = {"networking.istio.io/exportTo": export_to} if export_to is not None else {}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(ns, name, created, annotations=annotations),
        "spec": {"clusterIP": "10.96.0.20", "ports": [{"name": f"http-{p}", "port": p} for p in ports]},
    }


def service_entry(
    ns: str, name: str, hosts: list[str], created: str = T0, export_to: list[str] | None = None, ports: tuple = (80,)
) -> dict:
    spec: dict[str, Any] = {
        "hosts": hosts,
        "ports": [{"number": p, "name": f"p{p}", "protocol": "HTTP" if p == 80 else "TLS"} for p in ports],
        "resolution": "DNS",
    }
    if export_to is not None:
        spec["exportTo"] = export_to
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": meta(ns, name, created),
        "spec": spec,
    }


def virtual_service(ns: str, name: str, hosts: list[str], dest: str, export_to: list[str] | None = None) -> dict:
    spec: dict[str, Any] = {"hosts": hosts, "http": [{"route": [{"destination": {"host": dest}}]}]}
    if export_to is not None:
        spec["exportTo"] = export_to
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": meta(ns, name), "spec": spec}


def destination_rule(ns: str, name: str, host: str, export_to: list[str] | None = None, created: str = T0) -> dict:
    spec: dict[str, Any] = {"host": host, "trafficPolicy": {"tls": {"mode": "SIMPLE"}}}
    if export_to is not None:
        spec["exportTo"] = export_to
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": meta(ns, name, created),
        "spec": spec,
    }


def sidecar(ns: str, name: str, created: str = T0, selector: dict | None = None, **spec: Any) -> dict:
    if selector is not None:
        spec["workloadSelector"] = {"labels": selector}
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Sidecar",
        "metadata": meta(ns, name, created),
        "spec": spec,
    }


def scope(objects: list[dict], client: dict | None = None, mesh: dict | None = None, gateway: bool = False) -> Scope:
    return Scope.for_proxy(client or pod(), objects, mesh or {}, gateway=gateway)


# -- exportTo ---------------------------------------------------------------------------------------


def test_service_entry_exported_to_dot_stays_in_its_namespace() -> None:
    # SE exportTo: "." exports to the same namespace the service is declared in only.
    objs = [service_entry("team-a", "ext", ["api.example.com"], export_to=["."])]
    assert scope(objs, pod("team-a")).visible("api.example.com")
    assert not scope(objs, pod("default")).visible("api.example.com")


def test_service_entry_without_export_to_is_everywhere_unless_the_mesh_default_says_dot() -> None:
    # SE exportTo: no namespaces specified means exported to all namespaces;
    # MESH defaultServiceExportTo: the default for ServiceEntry.exportTo, "." = current namespace.
    objs = [service_entry("team-a", "ext", ["api.example.com"])]
    assert scope(objs, pod("default")).visible("api.example.com")
    private = {"defaultServiceExportTo": ["."]}
    assert not scope(objs, pod("default"), private).visible("api.example.com")
    assert scope(objs, pod("team-a"), private).visible("api.example.com")


def test_service_entry_exported_to_a_named_namespace() -> None:
    # SE exportTo: a list of namespaces to which this service is exported.
    objs = [service_entry("team-a", "ext", ["api.example.com"], export_to=["default"])]
    assert scope(objs, pod("default")).visible("api.example.com")
    assert not scope(objs, pod("team-b")).visible("api.example.com")


def test_tilde_exports_to_no_namespace_and_star_wins_over_it() -> None:
    # MESH defaultServiceExportTo: "~" = No Namespace, "*" = All Namespaces; istiod gives "*" precedence
    # when both are set (push_context.go initServiceRegistry).
    assert not exported("team-a", ["~"], None, "team-a")
    assert exported("team-a", ["~", "*"], None, "default")
    objs = [service_entry("team-a", "ext", ["api.example.com"], export_to=["~"])]
    assert not scope(objs, pod("team-a")).visible("api.example.com")


def test_kubernetes_service_export_to_annotation() -> None:
    # ANNOTATIONS networking.istio.io/exportTo: "." reachable within its namespace; comma separated names.
    host = "backend.team-a.svc.cluster.local"
    objs = [service("team-a", "backend", export_to=".")]
    assert scope(objs, pod("team-a")).visible(host)
    assert not scope(objs, pod("default")).visible(host)
    named = [service("team-a", "backend", export_to="default, team-b")]
    assert scope(named, pod("team-b")).visible(host)
    assert not scope(named, pod("team-c")).visible(host)


def test_virtual_service_export_to_dot() -> None:
    # VS exportTo: "." exports the virtual service to its own namespace only.
    objs = [
        service_entry("team-a", "ext", ["api.example.com"]),
        virtual_service("team-a", "timeout", ["api.example.com"], "api.example.com", export_to=["."]),
    ]
    assert [v["metadata"]["name"] for v in scope(objs, pod("team-a")).virtual_services_for("api.example.com")] == [
        "timeout"
    ]
    assert scope(objs, pod("default")).virtual_services_for("api.example.com") == []


def test_virtual_service_default_export_from_mesh_config() -> None:
    # MESH defaultVirtualServiceExportTo: the default for VirtualService.exportTo.
    objs = [
        service_entry("team-a", "ext", ["api.example.com"]),
        virtual_service("team-a", "timeout", ["api.example.com"], "api.example.com"),
    ]
    assert scope(objs, pod("default")).virtual_services_for("api.example.com")
    mesh = {"defaultVirtualServiceExportTo": ["."]}
    assert scope(objs, pod("default"), mesh).virtual_services_for("api.example.com") == []


def test_destination_rule_export_to_dot_only_serves_its_own_namespace() -> None:
    # DR exportTo "." = same namespace; XNS: the lookup path is client namespace, service namespace,
    # then the root namespace.
    objs = [
        service_entry("team-a", "ext", ["api.example.com"]),
        destination_rule("team-a", "tls", "api.example.com", export_to=["."]),
    ]
    assert scope(objs, pod("team-a")).destination_rule("api.example.com") is not None
    assert scope(objs, pod("default")).destination_rule("api.example.com") is None
    assert [r["metadata"]["name"] for r in scope(objs, pod("team-a")).destination_rules] == ["tls"]
    assert scope(objs, pod("default")).destination_rules == []


def test_destination_rule_lookup_order_client_then_service_then_root() -> None:
    # XNS: 1. client namespace 2. service namespace 3. Istio configuration root.
    objs = [
        service_entry("team-a", "ext", ["api.example.com"]),
        destination_rule("istio-system", "root", "api.example.com"),
        destination_rule("team-a", "service-ns", "api.example.com"),
        destination_rule("default", "client-ns", "api.example.com"),
        destination_rule("team-b", "elsewhere", "api.example.com"),
    ]
    assert scope(objs, pod("default")).destination_rule("api.example.com")["metadata"]["name"] == "client-ns"
    assert scope(objs, pod("team-c")).destination_rule("api.example.com")["metadata"]["name"] == "service-ns"
    without_service_ns = [o for o in objs if o["metadata"]["name"] != "service-ns"]
    assert scope(without_service_ns, pod("team-c")).destination_rule("api.example.com")["metadata"]["name"] == "root"


def test_proxies_in_the_root_namespace_look_in_the_service_namespace_before_their_own() -> None:
    # push_context.go destinationRule: for a proxy in the root namespace (an egress gateway in
    # istio-system), only root rules exported to "." come first; then the service's namespace, then
    # the root namespace's exported rules ("istio-system tends to become the root config namespace").
    gw = pod("istio-system", istio="egressgateway")
    objs = [
        service_entry("team-a", "ext", ["api.example.com"]),
        destination_rule("istio-system", "root", "api.example.com"),
        destination_rule("team-a", "service-ns", "api.example.com"),
    ]
    assert scope(objs, gw, gateway=True).destination_rule("api.example.com")["metadata"]["name"] == "service-ns"
    objs.append(destination_rule("istio-system", "root-private", "api.example.com", export_to=["."]))
    assert scope(objs, gw, gateway=True).destination_rule("api.example.com")["metadata"]["name"] == "root-private"


def test_destination_rules_for_one_host_in_one_namespace_merge_subsets() -> None:
    # istiod merges DestinationRules for one host in one namespace: the later one only adds subsets
    # (pilot/pkg/model/destination_rule.go mergeDestinationRule).
    first = destination_rule("default", "a", "api.example.com", created=T0)
    first["spec"]["subsets"] = [{"name": "v1", "labels": {"version": "v1"}}]
    second = destination_rule("default", "b", "api.example.com", created=T1)
    second["spec"]["subsets"] = [{"name": "v2", "labels": {"version": "v2"}}]
    second["spec"]["trafficPolicy"] = {"tls": {"mode": "DISABLE"}}
    objs = [service_entry("default", "ext", ["api.example.com"]), second, first]
    merged = scope(objs).destination_rule("api.example.com")
    assert [s["name"] for s in merged["spec"]["subsets"]] == ["v1", "v2"]
    assert merged["spec"]["trafficPolicy"]["tls"]["mode"] == "SIMPLE"


# -- which Sidecar applies --------------------------------------------------------------------------


def test_sidecar_with_matching_workload_selector_wins() -> None:
    # SIDECAR: preference goes to the resource whose workloadSelector selects the workload over one without.
    sidecars = [
        sidecar("default", "default", egress=[{"hosts": ["./*"]}]),
        sidecar("default", "sleep-only", selector={"app": "sleep"}, egress=[{"hosts": ["*/*"]}]),
        sidecar("default", "other", selector={"app": "other"}, egress=[{"hosts": ["*/*"]}]),
    ]
    assert sidecar_for(pod(), sidecars, "istio-system").sidecar["metadata"]["name"] == "sleep-only"
    assert sidecar_for(pod(app="web"), sidecars, "istio-system").sidecar["metadata"]["name"] == "default"


def test_root_namespace_sidecar_is_the_default_for_namespaces_without_one() -> None:
    # SIDECAR NOTE 2: a Sidecar in the MeshConfig root namespace applies to namespaces without one;
    # MESH rootNamespace (istio-system by default).
    sidecars = [sidecar("istio-system", "default", egress=[{"hosts": ["./*"]}])]
    assert sidecar_for(pod("team-a"), sidecars, "istio-system").sidecar is not None
    sidecars.append(sidecar("team-a", "own", egress=[{"hosts": ["*/*"]}]))
    assert sidecar_for(pod("team-a"), sidecars, "istio-system").sidecar["metadata"]["name"] == "own"
    assert sidecar_for(pod("team-b"), sidecars, "istio-config").sidecar is None


def test_root_namespace_sidecar_with_a_selector_is_not_a_default() -> None:
    # SIDECAR NOTE 2: the global default should not have a workloadSelector; istiod only takes a
    # selector-less one from the root namespace (push_context.go initSidecarScopes).
    sidecars = [sidecar("istio-system", "picky", selector={"app": "sleep"}, egress=[{"hosts": ["./*"]}])]
    assert sidecar_for(pod("default"), sidecars, "istio-system").sidecar is None


def test_two_selectorless_sidecars_take_the_oldest_and_say_so() -> None:
    # SIDECAR NOTE 1: more than one selector-less Sidecar in a namespace is undefined; istiod sorts by
    # creation time, then name (model/config.go sortConfigByCreationTime) and takes the first.
    sidecars = [sidecar("default", "newer", T1), sidecar("default", "older", T0)]
    choice = sidecar_for(pod(), sidecars, "istio-system")
    assert choice.sidecar["metadata"]["name"] == "older"
    assert "undefined" in choice.reason and "newer" in choice.reason


# -- Sidecar egress hosts ---------------------------------------------------------------------------


def mixed_registry() -> list[dict]:
    return [
        service("default", "sleep"),
        service("team-a", "backend"),
        service_entry("default", "wiki", ["en.wikipedia.org", "*.wikipedia.org", "wikipedia.org"]),
        service_entry("team-a", "httpbin", ["httpbin.org"]),
    ]


def test_egress_hosts_dot_star_sees_only_the_sidecars_namespace() -> None:
    # SIDECAR hosts: "./foo" selects from the Sidecar's namespace; "prod/*" all services of a namespace.
    objs = [*mixed_registry(), sidecar("default", "default", egress=[{"hosts": ["./*", "istio-system/*"]}])]
    s = scope(objs)
    assert s.visible("sleep.default.svc.cluster.local")
    assert s.visible("en.wikipedia.org")
    assert not s.visible("httpbin.org")
    assert not s.visible("backend.team-a.svc.cluster.local")
    assert "egress hosts do not import it" in (s.why_hidden("httpbin.org") or "")


def test_egress_hosts_any_namespace_one_host() -> None:
    # SIDECAR hosts: "*/foo.example.com" selects the service from any available namespace.
    objs = [*mixed_registry(), sidecar("default", "default", egress=[{"hosts": ["*/httpbin.org"]}])]
    s = scope(objs)
    assert s.visible("httpbin.org")
    assert not s.visible("sleep.default.svc.cluster.local")


def test_egress_hosts_tilde_trims_everything() -> None:
    # SIDECAR hosts: "~/*" completely trims the configuration for sidecars that make no outbound calls.
    objs = [*mixed_registry(), sidecar("default", "default", egress=[{"hosts": ["~/*"]}])]
    assert scope(objs).services == []


def test_egress_hosts_wildcard_dns_name() -> None:
    # SIDECAR hosts: a wildcard in the left-most component, e.g. "prod/*.example.com". istiod imports a
    # service when its host is a subset of the pattern (sidecar.go hostClassification.Matches).
    objs = [*mixed_registry(), sidecar("default", "default", egress=[{"hosts": ["*/*.wikipedia.org"]}])]
    s = scope(objs)
    imported = sorted(svc.hostname for svc in s.services)
    assert imported == ["*.wikipedia.org", "en.wikipedia.org"]


def test_egress_hosts_cannot_import_what_is_not_exported() -> None:
    # SIDECAR hosts NOTE: only services exported to the sidecar's namespace can be referenced;
    # private ones (exportTo ".") are not available.
    objs = [
        service_entry("team-a", "ext", ["api.example.com"], export_to=["."]),
        sidecar("default", "default", egress=[{"hosts": ["team-a/*"]}]),
    ]
    s = scope(objs)
    assert not s.visible("api.example.com")
    assert "not exported to default" in (s.why_hidden("api.example.com") or "")


def test_egress_listener_port_narrows_the_imported_ports() -> None:
    # SIDECAR IstioEgressListener.port: the default destination port of the imported hosts; istiod keeps
    # only that port of each imported service (sidecar.go serviceMatchingListenerPort).
    objs = [
        service_entry("default", "ext", ["api.example.com"], ports=(80, 443)),
        sidecar(
            "default", "default", egress=[{"port": {"number": 80, "protocol": "HTTP", "name": "h"}, "hosts": ["./*"]}]
        ),
    ]
    s = scope(objs)
    assert s.visible("api.example.com", 80)
    assert not s.visible("api.example.com", 443)
    assert "port 443" in (s.why_hidden("api.example.com", 443) or "")


def test_http_proxy_egress_listener_does_not_narrow_by_port() -> None:
    # sidecar.go needsPortMatch: a listener port narrows the imported services, except when its
    # protocol is HTTP_PROXY (the listener is then a generic egress HTTP proxy).
    objs = [
        service_entry("default", "ext", ["api.example.com"], ports=(80, 443)),
        sidecar(
            "default",
            "default",
            egress=[{"port": {"number": 3128, "protocol": "HTTP_PROXY", "name": "p"}, "hosts": ["./*"]}],
        ),
    ]
    assert sorted(p.number for p in scope(objs).service("api.example.com").ports) == [80, 443]


def test_malformed_egress_host_is_refused() -> None:
    # SIDECAR hosts: must be namespace/dnsName (istiod logs and drops others; here they are refused).
    with pytest.raises(ScopeError, match="namespace/dnsName"):
        scope([sidecar("default", "default", egress=[{"hosts": ["httpbin.org"]}])])


def test_virtual_services_follow_the_egress_hosts() -> None:
    # SIDECAR hosts: services "specified using a ServiceEntry or VirtualService" in the imported
    # namespace; a VirtualService from a namespace that is not imported is left out
    # (virtualservice.go SelectVirtualServices).
    objs = [
        service_entry("default", "ext", ["api.example.com"]),
        virtual_service("default", "mine", ["api.example.com"], "api.example.com"),
        virtual_service("team-a", "theirs", ["api.example.com"], "api.example.com"),
        sidecar("default", "default", egress=[{"hosts": ["./*"]}]),
    ]
    assert [v["metadata"]["name"] for v in scope(objs).virtual_services] == ["mine"]


def test_virtual_service_destinations_are_imported_with_it_but_not_for_direct_requests() -> None:
    # A VirtualService's destinations come with it even when the hosts list does not name them
    # (sidecar.go collectImportedServices: "Infer more possible destinations from virtual services"),
    # as clusters only: the routes of a port are built from that egress listener's own services
    # (networking/core/httproute.go BuildSidecarOutboundVirtualHosts: GetEgressListenerForRDS, Services()).
    gateway_host = "istio-egressgateway.istio-system.svc.cluster.local"
    objs = [
        service("istio-system", "istio-egressgateway"),
        service_entry("default", "cnn", ["edition.cnn.com"]),
        virtual_service("default", "via-gateway", ["edition.cnn.com"], gateway_host),
        sidecar("default", "default", egress=[{"hosts": ["./*"]}]),
    ]
    s = scope(objs)
    assert s.service(gateway_host) is not None
    assert not s.visible(gateway_host, 80)
    assert "only a VirtualService destination" in (s.why_hidden(gateway_host) or "")
    assert s.visible("edition.cnn.com", 80)


def test_each_port_uses_its_own_egress_listener() -> None:
    # SIDECAR IstioEgressListener.port: hosts exposed on a listener port come from the listener with
    # the most specific port; httproute.go GetEgressListenerForRDS picks the listener with that port,
    # else the catch-all.
    objs = [
        service_entry("default", "a", ["a.example.com"], ports=(80,)),
        service_entry("team-a", "b", ["b.example.com"], ports=(80,)),
        virtual_service("team-a", "b-routes", ["b.example.com"], "b.example.com"),
        sidecar(
            "default",
            "default",
            egress=[
                {"port": {"number": 80, "protocol": "HTTP", "name": "h"}, "hosts": ["./*"]},
                {"hosts": ["team-a/*"]},
            ],
        ),
    ]
    s = scope(objs)
    assert s.visible("a.example.com", 80)
    assert not s.visible("b.example.com", 80)
    assert s.virtual_services_for("b.example.com", port=80) == []
    assert [v["metadata"]["name"] for v in s.virtual_services_for("b.example.com")] == ["b-routes"]


# -- outbound traffic policy ------------------------------------------------------------------------


def test_sidecar_outbound_policy_overrides_the_mesh() -> None:
    # SIDECAR outboundTrafficPolicy: configuration for the outbound traffic policy; it overrides the
    # mesh-wide setting for the workloads it applies to (sidecar.go initSidecarScopeInternalIndexes).
    mesh = {"outboundTrafficPolicy": {"mode": "ALLOW_ANY"}}
    objs = [sidecar("default", "default", outboundTrafficPolicy={"mode": "REGISTRY_ONLY"})]
    s = scope(objs, mesh=mesh)
    assert s.outbound_policy == "REGISTRY_ONLY"
    assert any("REGISTRY_ONLY (from Sidecar default/default)" in line for line in s.describe())
    assert scope([], mesh=mesh).outbound_policy == "ALLOW_ANY"


def test_gateways_ignore_the_sidecar_resource() -> None:
    # SIDECAR NOTE 3: a Sidecar is not applicable to gateways.
    objs = [
        service_entry("default", "ext", ["api.example.com"]),
        sidecar(
            "istio-system", "default", egress=[{"hosts": ["./*"]}], outboundTrafficPolicy={"mode": "REGISTRY_ONLY"}
        ),
    ]
    gw = scope(objs, pod("istio-system", istio="egressgateway"), {"outboundTrafficPolicy": {"mode": "ALLOW_ANY"}}, True)
    assert gw.visible("api.example.com")
    assert gw.outbound_policy == "ALLOW_ANY"


def test_unmodelled_egress_proxy_is_refused() -> None:
    # SIDECAR OutboundTrafficPolicy.egressProxy is not modelled offline: refused by name.
    objs = [sidecar("default", "default", outboundTrafficPolicy={"mode": "ALLOW_ANY", "egressProxy": {"host": "x"}})]
    with pytest.raises(ScopeError, match="egressProxy"):
        scope(objs)


# -- registry precedence for one hostname -----------------------------------------------------------

SHARED = "backend.team-a.svc.cluster.local"


def test_private_service_elsewhere_does_not_hide_the_clients_service_entry() -> None:
    # The bug: a Service in another namespace with exportTo "." must not hide the client's own
    # ServiceEntry. ANNOTATIONS exportTo "." = reachable within its namespace only, so for a client
    # in default the ServiceEntry is the only candidate (push_context.go servicesExportedToNamespace).
    objs = [
        service("team-a", "backend", T0, export_to="."),
        service_entry("default", "mine", [SHARED], T1),
    ]
    svc = scope(objs).service(SHARED)
    assert svc is not None and svc.source == "ServiceEntry default/mine"
    assert scope(objs, pod("team-a")).service(SHARED).source == "Service team-a/backend"


def test_the_proxys_own_namespace_wins_over_a_visible_kubernetes_service() -> None:
    # sidecar.go selectServices: "If the same hostname is imported from multiple namespaces, pick the one
    # in the configNamespace", and a Kubernetes Service must not preempt that "same namespace wins" rule.
    objs = [service("team-a", "backend", T0), service_entry("default", "mine", [SHARED], T1)]
    s = scope(objs)
    assert s.service(SHARED).source == "ServiceEntry default/mine"
    assert f"{SHARED}: ServiceEntry default/mine used, not Service team-a/backend (the proxy's own namespace wins)" in (
        s.describe()
    )


def test_a_kubernetes_service_wins_over_a_service_entry_from_a_third_namespace() -> None:
    # sidecar.go selectServices: when neither is in the proxy's namespace, prefer the Kubernetes Service
    # over a ServiceEntry for the same hostname (no "domain squatting" by an older ServiceEntry).
    objs = [service_entry("team-b", "squat", [SHARED], T0), service("team-a", "backend", T1)]
    assert scope(objs, pod("team-c")).service(SHARED).source == "Service team-a/backend"


def test_between_service_entries_elsewhere_the_oldest_wins() -> None:
    # push_context.go SortServicesByCreationTime + sidecar.go selectServices: the first one seen wins
    # when neither namespace is the proxy's; services are seen oldest first.
    objs = [
        service_entry("team-b", "newer", ["api.example.com"], T2),
        service_entry("team-a", "older", ["api.example.com"], T1),
    ]
    assert scope(objs, pod("team-c")).service("api.example.com").source == "ServiceEntry team-a/older"


def test_gateway_keeps_the_oldest_but_prefers_kubernetes() -> None:
    # Gateways take every exported service, oldest first, a Kubernetes Service replacing a
    # ServiceEntry (sidecar.go DefaultSidecarScopeForGateway / appendSidecarServices).
    objs = [service_entry("default", "mine", [SHARED], T0), service("team-a", "backend", T1)]
    gw = scope(objs, pod("istio-system", istio="egressgateway"), gateway=True)
    assert gw.service(SHARED).source == "Service team-a/backend"
    assert any("replaces ServiceEntry default/mine" in line for line in gw.describe())


def test_two_service_entries_in_one_namespace_merge_ports_only_when_alike() -> None:
    # sidecar.go appendSidecarServices / canMergeServices: same namespace, resolution, registry, labels
    # and exportTo merge their ports; otherwise the older entry wins. ServiceEntries get canonical
    # service labels from their name unless an app label names them (serviceentry/conversion.go).
    older = service_entry("default", "web", ["api.example.com"], T0, ports=(80,))
    newer = service_entry("default", "tls", ["api.example.com"], T1, ports=(443,))
    s = scope([older, newer])
    assert [p.number for p in s.service("api.example.com").ports] == [80]
    for se in (older, newer):
        se["metadata"]["labels"] = {"app": "api"}
    assert sorted(p.number for p in scope([older, newer]).service("api.example.com").ports) == [80, 443]


def test_registry_build_records_export_to_and_creation() -> None:
    # ANNOTATIONS networking.istio.io/exportTo is a comma separated list; SE exportTo is a list.
    entries = build(
        [service("team-a", "backend", T1, export_to=". , team-b")], [service_entry("d", "e", ["x.io"], T0, ["*"])]
    )
    assert entries[0].export_to == (".", "team-b") and entries[0].created == T1 and entries[0].is_kubernetes
    assert entries[1].export_to == ("*",) and entries[1].name == "x.io" and not entries[1].is_kubernetes


def test_describe_says_which_sidecar_applied_and_why_a_host_is_hidden() -> None:
    # SIDECAR NOTE 2 and SE exportTo as above: the explanation names the rule that applied.
    objs = [
        *mixed_registry(),
        service_entry("team-a", "private", ["private.example.com"], export_to=["."]),
        sidecar("istio-system", "default", egress=[{"hosts": ["./*"]}]),
    ]
    s = scope(objs, pod("team-b"))
    lines = s.describe("private.example.com")
    assert lines[0].startswith("Sidecar: istio-system/default (team-b has none")
    assert lines[-1].startswith("private.example.com: ServiceEntry team-a/private is not exported to team-b")
    assert "private.example.com" in s.hidden_hosts() and "httpbin.org" in s.hidden_hosts()
