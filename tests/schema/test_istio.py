"""The networking.istio.io models: good documents pass, each kind of mistake is named at its exact path."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from labkit.schema import istio, problems


def se() -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": "nginx", "namespace": "lab"},
        "spec": {
            "hosts": ["nginx.example.com"],
            "ports": [
                {"number": 443, "name": "tls", "protocol": "TLS"},
                {"number": 80, "name": "http", "protocol": "HTTP"},
            ],
            "resolution": "DNS",
            "location": "MESH_EXTERNAL",
        },
    }


def vs() -> dict[str, Any]:
    return yaml.safe_load(
        """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: direct-nginx
spec:
  hosts: [nginx.example.com]
  gateways: [mesh, istio-egressgateway]
  tls:
  - match:
    - gateways: [mesh]
      port: 443
      sniHosts:
      - nginx.example.com
    route:
    - destination:
        host: istio-egressgateway.istio-system.svc.cluster.local
        subset: nginx
        port: {number: 443}
  tcp:
  - match: [{destinationSubnets: [10.0.0.0/8], port: 9000}]
    route: [{destination: {host: tcp.example.com}}]
  http:
  - name: to-egress
    match:
    - uri: {prefix: /status}
      headers: {x-user: {exact: alice}}
      sourceLabels: {app: sleep}
      ignoreUriCase: true
    route:
    - destination: {host: httpbin.org, port: {number: 80}}
      weight: 80
      headers: {request: {set: {x-lab: "1"}}}
    - destination: {host: httpbin.org, subset: v2}
      weight: 20
    timeout: 3s
    retries: {attempts: 3, perTryTimeout: 500ms, retryOn: "5xx,connect-failure"}
    fault:
      delay: {fixedDelay: 1m30s, percentage: {value: 50}}
      abort: {httpStatus: 503, percentage: {value: 10.5}}
    mirror: {host: mirror.example.com}
    mirrorPercentage: {value: 100}
    corsPolicy: {allowOrigins: [{exact: "https://a.example"}], allowMethods: [GET], maxAge: 24h}
  - redirect: {uri: /new, authority: other.example.com, redirectCode: 301}
  - rewrite: {uri: /}
    route: [{destination: {host: httpbin.org}}]
"""
    )


def dr() -> dict[str, Any]:
    return yaml.safe_load(
        """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: egressgateway-for-nginx
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  exportTo: ["."]
  trafficPolicy:
    loadBalancer:
      consistentHash: {httpHeaderName: x-user, ringHash: {minimumRingSize: 1024}}
    connectionPool:
      tcp: {maxConnections: 100, connectTimeout: 30ms, tcpKeepalive: {time: 7200s, interval: 75s, probes: 9}}
      http: {http1MaxPendingRequests: 10, maxRequestsPerConnection: 1, h2UpgradePolicy: UPGRADE}
    outlierDetection: {consecutive5xxErrors: 7, interval: 5m, baseEjectionTime: 15m}
    portLevelSettings:
    - port: {number: 443}
      tls: {mode: ISTIO_MUTUAL, sni: nginx.example.com}
  subsets:
  - name: nginx
    labels: {version: v1}
    trafficPolicy:
      loadBalancer: {simple: ROUND_ROBIN}
      tls:
        mode: SIMPLE
        sni: nginx.example.com
        credentialName: client-credential
        subjectAltNames: [nginx.example.com]
        insecureSkipVerify: false
"""
    )


def gw() -> dict[str, Any]:
    return yaml.safe_load(
        """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: istio-egressgateway
spec:
  selector:
    istio: egressgateway
  servers:
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: [nginx.example.com]
    tls: {mode: PASSTHROUGH}
  - port: {number: 80, name: https-port-for-tls-origination, protocol: HTTPS}
    hosts: ["*.example.com"]
    tls: {mode: ISTIO_MUTUAL, minProtocolVersion: TLSV1_2, credentialName: gw-cert}
"""
    )


def sidecar() -> dict[str, Any]:
    return yaml.safe_load(
        """
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: lab
spec:
  workloadSelector: {labels: {app: sleep}}
  egress:
  - hosts: ["./*", "istio-system/*"]
  - port: {number: 3306, protocol: MYSQL, name: mysql}
    bind: 127.0.0.1
    captureMode: NONE
    hosts: ["*/mysql.example.com"]
  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
    egressProxy: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 80}}
"""
    )


GOOD = {"ServiceEntry": se, "VirtualService": vs, "DestinationRule": dr, "Gateway": gw, "Sidecar": sidecar}


def found(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in problems(doc, 1)]


def edit(doc: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """Copy of ``doc`` with the value at ``a.b[0].c`` replaced (``...`` deletes it)."""
    doc = copy.deepcopy(doc)
    parts: list[Any] = []
    for piece in dotted.replace("]", "").split("."):
        name, *indexes = piece.split("[")
        parts.append(name)
        parts.extend(int(i) for i in indexes)
    target = doc
    for part in parts[:-1]:
        target = target[part]
    if value is ...:
        del target[parts[-1]]
    else:
        target[parts[-1]] = value
    return doc


def test_the_models_are_the_five_kinds() -> None:
    assert set(istio.MODELS) == set(GOOD)


@pytest.mark.parametrize("kind", sorted(GOOD))
@pytest.mark.parametrize("api_version", istio.API_VERSIONS)
def test_good_documents_pass(kind: str, api_version: str) -> None:
    doc = GOOD[kind]()
    doc["apiVersion"] = api_version
    assert found(doc) == []


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_unserved_api_version_is_named(kind: str) -> None:
    doc = edit(GOOD[kind](), "apiVersion", "networking.istio.io/v2")
    [(path, message)] = found(doc)
    assert path == "apiVersion"
    assert "networking.istio.io/v1" in message and "v2" in message


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_missing_name(kind: str) -> None:
    doc = edit(GOOD[kind](), "metadata.name", ...)
    assert found(doc) == [("metadata.name", "required field missing")]


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_unknown_top_level_field(kind: str) -> None:
    doc = GOOD[kind]()
    doc["sepc"] = {}
    assert ("sepc", "unknown field") in found(doc)


def test_sni_hosts_typo_is_named_exactly() -> None:
    text = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: direct-nginx
spec:
  hosts: [nginx.example.com]
  tls:
  - match:
    - port: 443
      sniHosts:
       - nginx.example.comm:
    route:
    - destination: {host: nginx.example.com, port: {number: 443}}
"""
    [(path, message)] = found(yaml.safe_load(text))
    assert path == "spec.tls[0].match[0].sniHosts[0]"
    assert message.startswith("expected a string, got a mapping {'nginx.example.comm': None}")
    assert "remove it" in message


@pytest.mark.parametrize(
    ("kind", "where", "value", "path", "message"),
    [
        # unknown fields
        ("ServiceEntry", "spec.ports[0].protocl", "TLS", "spec.ports[0].protocl", "unknown field"),
        ("VirtualService", "spec.http[0].timout", "3s", "spec.http[0].timout", "unknown field"),
        (
            "DestinationRule",
            "spec.trafficPolicy.tls",
            {"mode": "SIMPLE", "sniHost": "a"},
            "spec.trafficPolicy.tls.sniHost",
            "unknown field",
        ),
        (
            "DestinationRule",
            "spec.workloadSelector",
            {"labels": {"app": "a"}},
            "spec.workloadSelector.labels",
            "unknown field",
        ),
        ("Gateway", "spec.servers[0].port.targetport", 8443, "spec.servers[0].port.targetport", "unknown field"),
        (
            "Sidecar",
            "spec.outboundTrafficPolicy.egresProxy",
            {},
            "spec.outboundTrafficPolicy.egresProxy",
            "unknown field",
        ),
        # wrong types
        (
            "ServiceEntry",
            "spec.ports[0].number",
            "443",
            "spec.ports[0].number",
            "expected an integer, got the string '443'; remove the quotes",
        ),
        (
            "ServiceEntry",
            "spec.hosts",
            "nginx.example.com",
            "spec.hosts",
            "expected a list, got the string 'nginx.example.com'",
        ),
        (
            "VirtualService",
            "spec.http[0].timeout",
            3,
            "spec.http[0].timeout",
            'expected a duration string like "3s", got the number 3',
        ),
        (
            "VirtualService",
            "spec.http[0].match[0].headers",
            {"x-user": "alice"},
            "spec.http[0].match[0].headers.x-user",
            "expected a mapping, got the string 'alice'",
        ),
        (
            "VirtualService",
            "spec.http[0].match[0].ignoreUriCase",
            "yes",
            "spec.http[0].match[0].ignoreUriCase",
            "expected true or false, got the string 'yes'",
        ),
        (
            "DestinationRule",
            "spec.trafficPolicy.connectionPool.tcp.maxConnections",
            "100",
            "spec.trafficPolicy.connectionPool.tcp.maxConnections",
            "expected an integer, got the string '100'; remove the quotes",
        ),
        (
            "DestinationRule",
            "spec.subsets[0].labels",
            {"version": 1},
            "spec.subsets[0].labels.version",
            "expected a string, got the number 1; put it in quotes",
        ),
        (
            "Gateway",
            "spec.selector",
            {"istio": True},
            "spec.selector.istio",
            "expected a string, got the boolean true (YAML reads yes/no/true/false/on/off as booleans); "
            "put it in quotes",
        ),
        ("Sidecar", "spec.egress[0].hosts", "./*", "spec.egress[0].hosts", "expected a list, got the string './*'"),
        # bad enum values
        (
            "ServiceEntry",
            "spec.resolution",
            "dns",
            "spec.resolution",
            "must be one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS; got 'dns'",
        ),
        (
            "ServiceEntry",
            "spec.location",
            "EXTERNAL",
            "spec.location",
            "must be one of MESH_EXTERNAL, MESH_INTERNAL; got 'EXTERNAL'",
        ),
        (
            "VirtualService",
            "spec.http[1].redirect.derivePort",
            "FROM_PORT",
            "spec.http[1].redirect.derivePort",
            "must be one of FROM_PROTOCOL_DEFAULT, FROM_REQUEST_PORT; got 'FROM_PORT'",
        ),
        (
            "DestinationRule",
            "spec.subsets[0].trafficPolicy.tls.mode",
            "mutual",
            "spec.subsets[0].trafficPolicy.tls.mode",
            "must be one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL; got 'mutual'",
        ),
        (
            "DestinationRule",
            "spec.subsets[0].trafficPolicy.loadBalancer.simple",
            "ROUND-ROBIN",
            "spec.subsets[0].trafficPolicy.loadBalancer.simple",
            "must be one of UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST; "
            "got 'ROUND-ROBIN'",
        ),
        (
            "Gateway",
            "spec.servers[0].tls.mode",
            "PASS_THROUGH",
            "spec.servers[0].tls.mode",
            "must be one of PASSTHROUGH, SIMPLE, MUTUAL, AUTO_PASSTHROUGH, ISTIO_MUTUAL, OPTIONAL_MUTUAL; "
            "got 'PASS_THROUGH'",
        ),
        (
            "Gateway",
            "spec.servers[1].tls.minProtocolVersion",
            "TLSv1_2",
            "spec.servers[1].tls.minProtocolVersion",
            "must be one of TLS_AUTO, TLSV1_0, TLSV1_1, TLSV1_2, TLSV1_3; got 'TLSv1_2'",
        ),
        (
            "Sidecar",
            "spec.outboundTrafficPolicy.mode",
            "REGISTRY-ONLY",
            "spec.outboundTrafficPolicy.mode",
            "must be one of REGISTRY_ONLY, ALLOW_ANY; got 'REGISTRY-ONLY'",
        ),
        (
            "Sidecar",
            "spec.egress[1].captureMode",
            "iptables",
            "spec.egress[1].captureMode",
            "must be one of DEFAULT, IPTABLES, NONE; got 'iptables'",
        ),
        # required fields
        ("ServiceEntry", "spec.hosts", ..., "spec.hosts", "required field missing"),
        ("ServiceEntry", "spec.ports[0].name", ..., "spec.ports[0].name", "required field missing"),
        (
            "VirtualService",
            "spec.http[0].route[0].destination.host",
            ...,
            "spec.http[0].route[0].destination.host",
            "required field missing",
        ),
        ("DestinationRule", "spec.host", ..., "spec.host", "required field missing"),
        ("DestinationRule", "spec.subsets[0].name", ..., "spec.subsets[0].name", "required field missing"),
        ("Gateway", "spec.servers[0].hosts", ..., "spec.servers[0].hosts", "required field missing"),
        ("Gateway", "spec.servers[0].port.protocol", ..., "spec.servers[0].port.protocol", "required field missing"),
        ("Sidecar", "spec.egress[0].hosts", ..., "spec.egress[0].hosts", "required field missing"),
    ],
)
def test_mistakes_are_named_at_their_path(kind: str, where: str, value: Any, path: str, message: str) -> None:
    assert found(edit(GOOD[kind](), where, value)) == [(path, message)]


@pytest.mark.parametrize(
    ("kind", "where", "value", "path", "fragment"),
    [
        ("ServiceEntry", "spec.ports[0].number", 70000, "spec.ports[0].number", "must be at most 65535"),
        ("ServiceEntry", "spec.ports[0].protocol", "HTTP1", "spec.ports[0].protocol", "unknown protocol 'HTTP1'"),
        ("ServiceEntry", "spec.hosts", ["*"], "spec.hosts[0]", "wildcard"),
        ("ServiceEntry", "spec.hosts", [], "spec.hosts", "must not be empty"),
        ("ServiceEntry", "spec.addresses", ["10.0.0.0/8"], "spec", "CIDR addresses are allowed only with"),
        ("ServiceEntry", "spec.endpoints", [{"ports": {"http": 80}}], "spec.endpoints[0]", "needs an address"),
        ("ServiceEntry", "spec.ports[1].number", 443, "spec", "port numbers must be unique"),
        ("VirtualService", "spec.http[0].timeout", "3 seconds", "spec.http[0].timeout", "is not a duration"),
        (
            "VirtualService",
            "spec.http[0].retries.perTryTimeout",
            "0s",
            "spec.http[0].retries.perTryTimeout",
            "minimum is 1ms",
        ),
        (
            "VirtualService",
            "spec.http[0].match[0].uri",
            {"exact": "/a", "prefix": "/"},
            "spec.http[0].match[0].uri",
            "set only one of exact, prefix, regex (found exact, prefix)",
        ),
        (
            "VirtualService",
            "spec.http[0].fault.abort.percentage.value",
            150,
            "spec.http[0].fault.abort.percentage.value",
            "must be at most 100",
        ),
        ("VirtualService", "spec.tls[0].match[0].sniHosts", [], "spec.tls[0].match[0].sniHosts", "must not be empty"),
        (
            "DestinationRule",
            "spec.subsets[0].trafficPolicy.loadBalancer",
            {"simple": "RANDOM", "consistentHash": {"useSourceIp": True}},
            "spec.subsets[0].trafficPolicy.loadBalancer",
            "set only one of simple, consistentHash, backendUtilization",
        ),
        ("Gateway", "spec.servers[0].port.protocol", "TLS1.3", "spec.servers[0].port.protocol", "unknown protocol"),
        (
            "Gateway",
            "spec.servers[1].tls.credentialNames",
            ["a"],
            "spec.servers[1].tls",
            "set only one of credentialName, credentialNames, tlsCertificates",
        ),
        ("Sidecar", "spec.workloadSelector.labels.app", "sleep*", "spec.workloadSelector.labels.app", "wildcard"),
    ],
)
def test_rules_beyond_types(kind: str, where: str, value: Any, path: str, fragment: str) -> None:
    [(got_path, message)] = found(edit(GOOD[kind](), where, value))
    assert got_path == path
    assert fragment in message


def test_every_mistake_in_a_document_is_reported() -> None:
    doc = edit(
        edit(edit(vs(), "spec.http[0].timeout", 3), "spec.tls[0].route[0].destination.port.number", "443"),
        "spec.gateway",
        ["mesh"],
    )
    paths = [path for path, _ in found(doc)]
    assert sorted(paths) == sorted(
        ["spec.http[0].timeout", "spec.tls[0].route[0].destination.port.number", "spec.gateway"]
    )


def test_null_fields_count_as_absent_and_status_is_accepted() -> None:
    doc = se()
    doc["metadata"]["labels"] = None
    doc["spec"]["endpoints"] = None
    doc["status"] = {"conditions": []}
    assert found(doc) == []


def test_locality_from_uses_its_yaml_name() -> None:
    doc = dr()
    doc["spec"]["trafficPolicy"]["loadBalancer"] = {
        "localityLbSetting": {"enabled": True, "failover": [{"from": "us-east", "to": "us-west"}]}
    }
    assert found(doc) == []
    doc["spec"]["trafficPolicy"]["loadBalancer"]["localityLbSetting"]["failover"][0]["from_"] = "x"
    assert found(doc) == [("spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0].from_", "unknown field")]


def test_protocol_names_are_case_insensitive() -> None:
    doc = edit(se(), "spec.ports[0].protocol", "tls")
    assert found(doc) == []


def test_service_entry_resolution_rules() -> None:
    static = edit(edit(se(), "spec.resolution", "STATIC"), "spec.endpoints", [{"address": "1.2.3.4"}, {"address": "h"}])
    assert found(static) == []
    assert found(edit(static, "spec.resolution", "NONE")) == [("spec", "resolution NONE cannot have endpoints")]
    assert found(edit(static, "spec.resolution", "DNS_ROUND_ROBIN")) == [
        ("spec", "resolution DNS_ROUND_ROBIN allows at most one endpoint")
    ]
    both = edit(static, "spec.workloadSelector", {"labels": {"app": "vm"}})
    assert found(both) == [("spec", "set only one of workloadSelector, endpoints")]


def test_a_map_key_of_the_wrong_type_is_named_as_a_key() -> None:
    doc = edit(dr(), "spec.subsets[0].labels", {80: "http"})
    assert found(doc) == [('spec.subsets[0].labels["80"]', "expected a string, got the number 80; put it in quotes")]
