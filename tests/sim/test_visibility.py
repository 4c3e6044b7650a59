"""What a sidecar sees: the Sidecar resource, exportTo, and which entry wins a shared host name.

Sources:
- Istio Sidecar reference (istio.io/latest/docs/reference/config/networking/sidecar/): ``egress.hosts``
  "in namespace/dnsName format" limits the services the proxy can reach; ``outboundTrafficPolicy``
  set on a Sidecar applies to its workloads; a Sidecar without workloadSelector in the root namespace
  (istio-system) is the default for every namespace without its own.
- Istio ServiceEntry / VirtualService reference, ``exportTo``: "." makes the config visible only in
  its own namespace.
- istio.io egress-control: under REGISTRY_ONLY an HTTP request to a host the proxy does not know gets
  502 and HTTPS fails with curl exit 35.
- Precedence for one host name: the service in the proxy's own namespace wins, and a service that is
  not exported to the proxy's namespace is not a candidate at all (istio/istio 1.27
  pilot/pkg/model/sidecar.go, DefaultSidecarScopeForNamespace / SidecarScope service selection).
"""

from __future__ import annotations

from labkit.lab import Lab


def settle(lab: Lab) -> None:
    lab.driver.sleep(2.0)


def namespace(lab: Lab, name: str) -> None:
    lab.apply(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}")


def httpbin_entry(namespace: str, export_to: str = "'*'") -> str:
    return f"""
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: httpbin, namespace: {namespace}}}
spec:
  hosts: [httpbin.org]
  exportTo: [{export_to}]
  ports: [{{number: 80, name: http, protocol: HTTP}}]
  resolution: DNS
"""


def test_a_service_entry_exported_to_its_own_namespace_only_is_invisible_elsewhere(lab: Lab) -> None:
    namespace(lab, "other")
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.apply(httpbin_entry("other", export_to="'.'"))
    settle(lab)
    assert lab.curl("http://httpbin.org/get", "-sS").status == 502


def test_the_same_service_entry_exported_everywhere_is_visible(lab: Lab) -> None:
    namespace(lab, "other")
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.apply(httpbin_entry("other"))
    settle(lab)
    assert lab.curl("http://httpbin.org/get", "-sS").status == 200


def test_a_virtual_service_exported_to_its_own_namespace_does_not_apply_elsewhere(lab: Lab) -> None:
    namespace(lab, "other")
    lab.apply(httpbin_entry("default"))
    lab.apply(
        """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: teapot, namespace: other}
spec:
  hosts: [httpbin.org]
  exportTo: ["."]
  http: [{directResponse: {status: 418}}]
"""
    )
    settle(lab)
    assert lab.curl("http://httpbin.org/get", "-sS").status == 200


def test_sidecar_egress_hosts_limit_what_the_proxy_knows(lab: Lab) -> None:
    namespace(lab, "other")
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.apply(httpbin_entry("other"))
    lab.apply(
        """
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress: [{hosts: ["./*", "istio-system/*"]}]
"""
    )
    settle(lab)
    r = lab.curl("http://httpbin.org/get", "-sS")
    assert r.status == 502
    assert "Sidecar resource: default/default" in str(r.explain())


def test_a_sidecar_outbound_traffic_policy_overrides_the_mesh(lab: Lab) -> None:
    assert lab.outbound_policy() == "ALLOW_ANY"
    lab.apply(
        """
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
"""
    )
    settle(lab)
    assert lab.curl("https://www.baidu.com", "-sSI").exit_code == 35


def test_the_root_namespace_sidecar_is_the_default_for_other_namespaces(lab: Lab) -> None:
    lab.apply(
        """
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: istio-system}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
"""
    )
    settle(lab)
    assert lab.curl("https://www.baidu.com", "-sSI").exit_code == 35


def test_a_private_service_elsewhere_does_not_hide_the_clients_own_service_entry(lab: Lab) -> None:
    namespace(lab, "other")
    lab.apply(
        """
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: other
  annotations: {networking.istio.io/exportTo: "."}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: default}
spec:
  hosts: [api.other.svc.cluster.local]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 203.0.113.20}]
"""
    )
    settle(lab)
    # Before, the Service won the lookup and its route pointed at a cluster this proxy lacks (503 NC).
    r = lab.curl("http://api.other.svc.cluster.local/get", "-sS")
    assert r.status == 200, r.stderr
    assert "ServiceEntry default/api" in str(r.explain())
