"""The kinds istio.io's egress tasks create with kubectl, beyond Istio's own: RBAC, the Gateway API kinds,
and what a kind the server does not serve gets. Run with the real kubectl against ``labkit serve``."""

from __future__ import annotations

import json

import pytest
import yaml

from labkit import schema
from labkit.serve import ApiServer

from .conftest import SERVICE_ENTRY, Http
from .test_serve_kubectl import Kubectl, kubectl  # noqa: F401

GATEWAY_API = "gateway.networking.k8s.io"
RBAC = """
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: default}
rules:
- {apiGroups: [""], resources: [pods], verbs: [get, list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read-pods, namespace: default}
subjects:
- {kind: ServiceAccount, name: sleep, namespace: default}
- {kind: User, name: jane, apiGroup: rbac.authorization.k8s.io}
roleRef: {kind: Role, name: pod-reader, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: gateway-reader}
rules:
- {apiGroups: [gateway.networking.k8s.io], resources: [gateways], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: read-gateways}
subjects:
- {kind: Group, name: devs, apiGroup: rbac.authorization.k8s.io}
roleRef: {kind: ClusterRole, name: gateway-reader, apiGroup: rbac.authorization.k8s.io}
"""


def test_rbac_kinds_are_stored_listed_with_kubectls_columns_and_deleted(kubectl: Kubectl) -> None:  # noqa: F811
    applied = kubectl("apply", "-f", "-", stdin=RBAC)
    assert applied.returncode == 0, applied.stderr
    # kubectl apply names each object by resource.group/name (kubectl apply's "created" line).
    for made in (
        "role.rbac.authorization.k8s.io/pod-reader",
        "rolebinding.rbac.authorization.k8s.io/read-pods",
        "clusterrole.rbac.authorization.k8s.io/gateway-reader",
        "clusterrolebinding.rbac.authorization.k8s.io/read-gateways",
    ):
        assert f"{made} created" in applied.stdout
    # The practice cluster does not enforce RBAC, and says so on each write: kubectl prints a server's
    # Warning header (RFC 7234 warn-code 299) as "Warning: ..." (client-go's warning handler).
    assert applied.stderr.count("Warning: labkit serve stores") == 4, applied.stderr
    assert "RBAC is not enforced on API requests" in applied.stderr
    # Roles have no printer of their own (pkg/printers/internalversion/printers.go registers none), so the
    # API server's default table applies: NAME and CREATED AT, an RFC 3339 time (apiserver defaultTableConvertor).
    roles = kubectl("get", "roles").stdout.splitlines()
    assert roles[0].split() == ["NAME", "CREATED", "AT"]
    name, created = roles[1].split()
    assert name == "pod-reader" and created.endswith("Z") and "T" in created
    assert kubectl("get", "clusterrole", "gateway-reader").stdout.splitlines()[0].split() == ["NAME", "CREATED", "AT"]
    # printers.go printRoleBinding: NAME, ROLE as Kind/name, AGE; -o wide adds USERS, GROUPS and
    # SERVICEACCOUNTS (rbac SubjectsStrings: a service account as namespace/name).
    wide = kubectl("get", "rolebinding", "read-pods", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    cells = wide[1].split()
    assert cells[:2] == ["read-pods", "Role/pod-reader"] and cells[3:] == ["jane", "default/sleep"]
    narrow = kubectl("get", "clusterrolebinding", "read-gateways").stdout.splitlines()
    assert narrow[0].split() == ["NAME", "ROLE", "AGE"]
    assert narrow[1].split()[:2] == ["read-gateways", "ClusterRole/gateway-reader"]
    # A binding's roleRef cannot change (kubernetes pkg/apis/rbac/validation ValidateRoleBindingUpdate).
    moved = kubectl("apply", "-f", "-", stdin=RBAC.replace("name: pod-reader, apiGroup", "name: other, apiGroup"))
    assert moved.returncode == 1
    assert 'The RoleBinding "read-pods" is invalid: roleRef: Invalid value: ' in moved.stderr
    assert ": cannot change roleRef" in moved.stderr
    deleted = kubectl("delete", "-f", "-", stdin=RBAC)
    assert deleted.returncode == 0, deleted.stderr
    assert 'role.rbac.authorization.k8s.io "pod-reader" deleted' in deleted.stdout
    assert kubectl("get", "roles,rolebindings", "-o", "name").stdout == ""


def test_gateway_api_crds_are_installed_from_the_start(kubectl: Kubectl) -> None:  # noqa: F811
    # istio.io's Gateway API tasks start with `kubectl get crd gateways.gateway.networking.k8s.io || <install>`
    # (boilerplates/gateway-api-install-crds.md): on this cluster the CRDs are there, so the check passes.
    found = kubectl("get", "crd", "gateways.gateway.networking.k8s.io")
    assert found.returncode == 0, found.stderr
    # `kubectl wait --for condition=established` reads the condition the CRD controller sets once the kind
    # is served (apiextensions-apiserver establishing controller).
    tlsroutes = "crd/tlsroutes.gateway.networking.k8s.io"
    waited = kubectl("wait", "--for", "condition=established", "--timeout=10s", tlsroutes)
    assert waited.returncode == 0, waited.stderr
    listed = kubectl("api-resources", "--api-group=gateway.networking.k8s.io", "-o", "name").stdout.split()
    # The kinds istio.io's egress tasks create: Gateway, HTTPRoute, TLSRoute (egress-gateway snips.sh).
    assert {"gateways.gateway.networking.k8s.io", "httproutes.gateway.networking.k8s.io"} <= set(listed)
    assert "tlsroutes.gateway.networking.k8s.io" in listed


def test_a_gateway_api_kind_the_simulator_refuses_is_a_422_and_nothing_is_stored(kubectl: Kubectl) -> None:  # noqa: F811
    route = """
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {name: dns}
spec:
  parentRefs: [{name: egress}]
  rules: [{backendRefs: [{name: dns, port: 53}]}]
"""
    applied = kubectl("apply", "-f", "-", stdin=route)
    # API conventions: 422 Unprocessable Entity when a create cannot be completed because of its data;
    # kubectl reports it as "Error from server (Invalid)" or "The <Kind> <name> is invalid".
    assert applied.returncode == 1
    assert "is invalid" in applied.stderr and "UDPRoute" in applied.stderr, applied.stderr
    # The deprecated version gets the API server's warning header (CRD versioning docs, "Version
    # deprecation"; without a deprecationWarning the default names the newest served version to use instead,
    # apiextensions-apiserver defaultDeprecationWarning).
    warning = (
        "Warning: gateway.networking.k8s.io/v1alpha2 UDPRoute is deprecated; use gateway.networking.k8s.io/v1 UDPRoute"
    )
    assert warning in applied.stderr
    assert kubectl("get", "udproutes", "-o", "name").stdout == ""


TLS_ROUTE_WITHOUT_HOSTNAMES = """
apiVersion: gateway.networking.k8s.io/{version}
kind: TLSRoute
metadata: {{name: forward-cnn}}
spec:
  parentRefs: [{{name: cnn-egress-gateway}}]
  rules: [{{backendRefs: [{{kind: Hostname, group: networking.istio.io, name: edition.cnn.com, port: 443}}]}}]
"""


def test_a_custom_resource_is_checked_against_the_version_it_was_sent_in(kubectl: Kubectl) -> None:  # noqa: F811
    # Each CRD version has its own schema, and the API server validates an object against the schema of the
    # version it was sent in (Kubernetes docs, "Versions in CustomResourceDefinitions"). The Gateway API
    # bundle's TLSRoute v1 requires spec.hostnames; v1alpha2, as istio.io's egress-gateway task applies it,
    # does not (gateway-api-crd.yaml, tlsroutes openAPIV3Schema per version).
    alpha = kubectl("apply", "-f", "-", stdin=TLS_ROUTE_WITHOUT_HOSTNAMES.format(version="v1alpha2"))
    assert alpha.returncode == 0, alpha.stderr
    assert "tlsroute.gateway.networking.k8s.io/forward-cnn created" in alpha.stdout
    kubectl("delete", "tlsroute", "forward-cnn")
    v1 = kubectl("apply", "-f", "-", stdin=TLS_ROUTE_WITHOUT_HOSTNAMES.format(version="v1"))
    assert v1.returncode == 1 and "hostnames" in v1.stderr, v1.stderr


def test_a_kind_that_is_not_served_fails_alone_and_the_rest_of_the_file_is_applied(kubectl: Kubectl) -> None:  # noqa: F811
    widget = {"apiVersion": "widgets.example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    applied = kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all([SERVICE_ENTRY, widget]))
    # kubectl apply (pkg/cmd/apply/apply.go Run) collects the builder's mapping errors, applies every object
    # it could map, then exits 1 with the errors; cli-runtime's resource mapper words the error.
    assert applied.returncode == 1
    assert "serviceentry.networking.istio.io/baidu created" in applied.stdout
    assert 'resource mapping not found for name: "w"' in applied.stderr
    assert 'no matches for kind "Widget" in version "widgets.example.com/v1"' in applied.stderr
    assert "ensure CRDs are installed first" in applied.stderr
    assert kubectl("get", "se", "baidu", "-o", "name").stdout.strip() == "serviceentry.networking.istio.io/baidu"


def test_the_server_answers_not_found_for_a_group_it_does_not_serve(http: Http) -> None:
    # Without kubectl's client-side check the write reaches the server, which has no such path: 404
    # NotFound (API conventions, HTTP status codes: "the requested resource does not exist").
    body = {"apiVersion": "widgets.example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    reply = http("POST", "/apis/widgets.example.com/v1/namespaces/default/widgets", body)
    assert (reply.status, reply.json()["reason"]) == (404, "NotFound")


def test_a_bare_gateway_means_the_gateway_api_one_and_gw_the_istio_one(kubectl: Kubectl, server: ApiServer) -> None:  # noqa: F811
    istio = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "istio-egressgateway"},
        "spec": {
            "selector": {"istio": "egressgateway"},
            "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["edition.cnn.com"]}],
        },
    }
    assert kubectl("apply", "-f", "-", stdin=yaml.safe_dump(istio)).returncode == 0
    # With both installed, `kubectl get gateway` lists the Gateway API's kind; Istio's needs its short
    # name `gw` or its full name (istio/istio#44354 and #28188, answered by an Istio maintainer).
    assert kubectl("get", "gateway", "-o", "name").stdout == ""
    assert kubectl("get", "gw", "-o", "name").stdout.strip() == "gateway.networking.istio.io/istio-egressgateway"
    full = kubectl("get", "gateways.networking.istio.io", "-o", "name").stdout.strip()
    assert full == "gateway.networking.istio.io/istio-egressgateway"


EGRESS_GATEWAY = """
apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata:
  name: httpbin-egress
  annotations: {networking.istio.io/service-type: ClusterIP}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http, hostname: httpbin.org, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata:
  name: forward-httpbin
spec:
  parentRefs: [{name: httpbin-egress}]
  hostnames: [httpbin.org]
  rules:
  - backendRefs: [{kind: Hostname, group: networking.istio.io, name: httpbin.org, port: 80}]
"""


def test_gateway_api_objects_the_simulator_accepts_are_stored_in_it_listed_and_deleted(
    kubectl: Kubectl,  # noqa: F811
    server: ApiServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Until the simulator models these kinds it refuses them; here its checks are told to accept them, to
    # see what the server does with an accepted Gateway API object: the same as with an Istio one.
    checks = schema.problems
    monkeypatch.setattr(
        schema, "problems", lambda doc, i: [] if doc["apiVersion"].startswith(GATEWAY_API) else checks(doc, i)
    )
    applied = kubectl("apply", "-f", "-", stdin=EGRESS_GATEWAY)
    assert applied.returncode == 0, applied.stderr
    assert "gateway.gateway.networking.k8s.io/httpbin-egress created" in applied.stdout
    assert "httproute.gateway.networking.k8s.io/forward-httpbin created" in applied.stdout
    # Stored in the simulator, at the group's preferred version (discovery's preferredVersion, v1).
    stored = server.sim.list_objects(f"{GATEWAY_API}/v1", "HTTPRoute", "default")
    assert [o["metadata"]["name"] for o in stored] == ["forward-httpbin"]
    assert stored[0]["apiVersion"] == f"{GATEWAY_API}/v1"
    # The CRDs' printer columns (the bundle's additionalPrinterColumns): Gateway CLASS, ADDRESS,
    # PROGRAMMED; HTTPRoute HOSTNAMES, a list printed as JSON (client-go jsonpath PrintResults).
    gateways = kubectl("get", "gtw").stdout.splitlines()
    assert gateways[0].split() == ["NAME", "CLASS", "ADDRESS", "PROGRAMMED", "AGE"]
    assert gateways[1].split()[:2] == ["httpbin-egress", "istio"]
    routes = kubectl("get", "httproute").stdout.splitlines()
    assert routes[0].split() == ["NAME", "HOSTNAMES", "AGE"]
    assert routes[1].split()[:2] == ["forward-httpbin", '["httpbin.org"]']
    # Applying the same file again changes nothing (kubectl apply: "unchanged" for an empty patch).
    again = kubectl("apply", "-f", "-", stdin=EGRESS_GATEWAY)
    assert "httproute.gateway.networking.k8s.io/forward-httpbin unchanged" in again.stdout
    # istio.io's clean-up deletes them by short name and kind (egress-gateway snips, cleanup_http_gateway_2).
    assert kubectl("delete", "gtw", "httpbin-egress").returncode == 0
    assert server.sim.list_objects(f"{GATEWAY_API}/v1", "Gateway", "default") == []
    # Deleting a CRD deletes the objects of its kind (Kubernetes docs, "Delete a CustomResourceDefinition").
    assert kubectl("delete", "crd", f"httproutes.{GATEWAY_API}").returncode == 0
    assert server.sim.list_objects(f"{GATEWAY_API}/v1", "HTTPRoute", "default") == []


def test_kubectl_create_role_and_rolebinding_are_read_from_protobuf(kubectl: Kubectl) -> None:  # noqa: F811
    # kubectl create role / rolebinding send protobuf (typed clients); the fields are those of the flags
    # (kubectl create role --help: --verb, --resource; create rolebinding: --role, --serviceaccount, --user).
    made = kubectl("create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
    assert made.returncode == 0 and "role.rbac.authorization.k8s.io/pod-reader created" in made.stdout, made.stderr
    bound = kubectl("create", "rolebinding", "rb", "--role=pod-reader", "--serviceaccount=default:sleep", "--user=jane")
    assert bound.returncode == 0, bound.stderr
    role = json.loads(kubectl("get", "role", "pod-reader", "-o", "json").stdout)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]
    binding = json.loads(kubectl("get", "rolebinding", "rb", "-o", "json").stdout)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"}
    subjects = {(s["kind"], s["name"], s.get("namespace")) for s in binding["subjects"]}
    assert subjects == {("ServiceAccount", "sleep", "default"), ("User", "jane", None)}
    selector = "rbac.example.com/aggregate=true"
    aggregated = kubectl("create", "clusterrole", "monitoring", f"--aggregation-rule={selector}")
    assert aggregated.returncode == 0, aggregated.stderr
    rule = json.loads(kubectl("get", "clusterrole", "monitoring", "-o", "json").stdout)["aggregationRule"]
    assert rule == {"clusterRoleSelectors": [{"matchLabels": {"rbac.example.com/aggregate": "true"}}]}


def test_a_groups_versions_are_listed_in_kubernetes_version_order_preferred_first(http: Http) -> None:
    group = http("GET", f"/apis/{GATEWAY_API}").json()
    # apimachinery CompareKubeAwareVersionStrings: GA before beta before alpha, higher numbers first; the
    # first is the preferred version (API concepts: the group's preferredVersion).
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1", "v1alpha3", "v1alpha2"]
    assert group["preferredVersion"]["version"] == "v1"
    # TLSRoute is served at v1alpha2 (istio.io's egress task applies it there); Gateway is not.
    listed = {r["name"] for r in http("GET", f"/apis/{GATEWAY_API}/v1alpha2").json()["resources"]}
    assert "tlsroutes" in listed and "gateways" not in listed


def test_applying_the_bundle_over_the_installed_crds_configures_them_then_changes_nothing(
    kubectl: Kubectl,  # noqa: F811
) -> None:
    from .test_serve_crds import bundle_path

    applied = kubectl("apply", "-f", str(bundle_path()))
    # kubectl apply prints "configured" when its patch changed the object, "created" for a new one; the
    # HTTPRoute CRD is over the annotation limit on any cluster (kubernetes-sigs/gateway-api#4156).
    assert f"customresourcedefinition.apiextensions.k8s.io/gateways.{GATEWAY_API} configured" in applied.stdout
    assert "customresourcedefinition.apiextensions.k8s.io/xmeshes.gateway.networking.x-k8s.io created" in (
        applied.stdout
    )
    assert f'The CustomResourceDefinition "httproutes.{GATEWAY_API}" is invalid' in applied.stderr
    again = kubectl("apply", "-f", str(bundle_path()))
    assert f"customresourcedefinition.apiextensions.k8s.io/gateways.{GATEWAY_API} unchanged" in again.stdout
    # Server-side apply (Gateway API's install guide for the experimental channel) takes all of it.
    server_side = kubectl("apply", "--server-side", "-f", str(bundle_path()))
    assert server_side.returncode == 0, server_side.stderr
    assert f"customresourcedefinition.apiextensions.k8s.io/httproutes.{GATEWAY_API} serverside-applied" in (
        server_side.stdout
    )
