"""The scenarios both backends run: the checks of labs 01-03 and the misconfigurations Istio's
documentation and troubleshooting pages describe. Each scenario sets a mesh up the way the lab notebook
does (with the lab's own manifests) and sends one request.

``expect`` holds the few outcomes Istio's or curl's documentation states outright, with the source; the
rest of each observation is compared between the backends (``test_differential.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from observe import Proxy, Request

from labkit import manifests
from labkit.lab import Lab
from labkit.paths import lab_file

SIDECAR = Proxy("sidecar", "default", "app=sleep")
GATEWAY = Proxy("gateway", "istio-system", "istio=egressgateway")
GW = {"host": "edition.cnn.com", "istio_namespace": "istio-system", "gateway_label": "egressgateway"}
CNN = "edition.cnn.com"


@dataclass
class Scenario:
    name: str
    setup: Callable[[Lab], None]
    request: Request
    expect: dict[str, str] = field(default_factory=dict)


def nothing(lab: Lab) -> None:
    """A fresh mesh: ALLOW_ANY, no ServiceEntry."""


def registry_only(lab: Lab) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")


def httpbin_entry(lab: Lab) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.apply(lab_file("01-external-access", "serviceentry-http.yaml"), name="httpbin-ext", host="httpbin.org")


def google_entry(lab: Lab) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.apply(lab_file("01-external-access", "serviceentry-https.yaml"), name="https-ext", host="www.google.com")


def httpbin_timeout(lab: Lab) -> None:
    httpbin_entry(lab)
    lab.apply(
        lab_file("01-external-access", "virtualservice-timeout.yaml"),
        name="httpbin-ext",
        host="httpbin.org",
        timeout="3s",
    )


def bypass(lab: Lab) -> None:
    """Lab 01's second client: its sidecar skips every address outside the cluster's ranges."""
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.deploy_client(
        name="sleep-direct",
        pod_annotations={"traffic.sidecar.istio.io/includeOutboundIPRanges": "10.244.0.0/16,10.96.0.0/16"},
    )


def cnn_entry(lab: Lab) -> None:
    lab.apply(lab_file("02-tls-origination", "serviceentry.yaml"), host=CNN)


def cnn_origination(lab: Lab) -> None:
    lab.apply(lab_file("02-tls-origination", "tls-origination.yaml"), host=CNN)


def cnn_origination_subset(lab: Lab) -> None:
    lab.apply(lab_file("02-tls-origination", "tls-origination-subset.yaml"), host=CNN)


def cnn_subset_without_rule(lab: Lab) -> None:
    docs = manifests.load(lab_file("02-tls-origination", "tls-origination-subset.yaml"), {"host": CNN})
    lab.apply([d for d in docs if d["kind"] != "DestinationRule"])


def _lab03(lab: Lab, *files: str) -> None:
    for f in files:
        lab.apply(lab_file("03-egress-gateway", f), **GW)


def gateway_http(lab: Lab) -> None:
    _lab03(
        lab, "serviceentry-http.yaml", "gateway-http.yaml", "destinationrule-gateway.yaml", "virtualservice-http.yaml"
    )


def gateway_http_mesh_only(lab: Lab) -> None:
    _lab03(
        lab,
        "serviceentry-http.yaml",
        "gateway-http.yaml",
        "destinationrule-gateway.yaml",
        "virtualservice-http-mesh-only.yaml",
    )


def gateway_tls(lab: Lab) -> None:
    _lab03(lab, "serviceentry-tls.yaml", "gateway-tls.yaml", "destinationrule-gateway.yaml", "virtualservice-tls.yaml")


def google_double_tls(lab: Lab) -> None:
    """TLS origination for a port the application already speaks TLS on (Istio's "Double TLS" pitfall)."""
    google_entry(lab)
    lab.apply(_dr("www.google.com", {"tls": {"mode": "SIMPLE"}}))


def cnn_wrong_san(lab: Lab) -> None:
    """TLS origination that verifies a name the server's certificate does not carry."""
    cnn_origination(lab)
    lab.apply(
        _dr(
            CNN,
            {
                "portLevelSettings": [
                    {"port": {"number": 80}, "tls": {"mode": "SIMPLE", "subjectAltNames": ["wrong.example.com"]}}
                ]
            },
            name="edition-cnn-com",
        )
    )


def _dr(host: str, policy: dict, name: str = "originate") -> str:
    import yaml

    return yaml.safe_dump(
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "DestinationRule",
            "metadata": {"name": name},
            "spec": {"host": host, "trafficPolicy": policy},
        }
    )


def _get(url: str, *args: str, logs: tuple[Proxy, ...] = (SIDECAR,), client: str = "sleep") -> Request:
    return Request(url, ("-sS", *args), client=client, logs=logs)


SCENARIOS = [
    # istio.io egress-control task, "Envoy passthrough to external services": ALLOW_ANY lets both out.
    Scenario("01-allow-any-http", nothing, _get("http://httpbin.org/headers"), {"status": "200"}),
    Scenario("01-allow-any-https", nothing, _get("https://www.google.com", "-I"), {"status": "200"}),
    # Same task, REGISTRY_ONLY: "HTTP requests ... return 502"; HTTPS fails in the handshake (curl exit
    # 35, "SSL connect error", curl's man page EXIT CODES).
    Scenario("01-registry-only-http", registry_only, _get("http://httpbin.org/headers"), {"status": "502"}),
    Scenario(
        "01-registry-only-https",
        registry_only,
        _get("https://www.google.com", "-I"),
        {"exit_code": "35", "status": "None"},
    ),
    # Same task, "Access an external HTTP service": 200 and X-Envoy-Decorator-Operation echoed.
    Scenario(
        "01-service-entry-http",
        httpbin_entry,
        _get("http://httpbin.org/headers"),
        {"status": "200", "echo.x-envoy-decorator-operation": "httpbin.org:80/*"},
    ),
    Scenario("01-service-entry-https", google_entry, _get("https://www.google.com", "-I"), {"status": "200"}),
    # Same task, "Manage traffic to external services": /delay/5 with a 3 s timeout gives 504.
    Scenario(
        "01-timeout", httpbin_timeout, _get("http://httpbin.org/delay/5"), {"status": "504", "log.sidecar.flags": "UT"}
    ),
    # Same task, "Direct access to external services": the excluded ranges never reach the sidecar.
    Scenario(
        "01-bypass-ip-ranges",
        bypass,
        _get(
            "http://httpbin.org/headers", client="sleep-direct", logs=(Proxy("sidecar", "default", "app=sleep-direct"),)
        ),
        {"status": "200", "log.sidecar.lines": "0"},
    ),
    # istio.io egress TLS origination task: without origination, edition.cnn.com answers 301 to HTTPS.
    Scenario("02-service-entry", cnn_entry, _get(f"http://{CNN}/politics"), {"status": "301"}),
    # Same task: with origination, one request, 200.
    Scenario("02-tls-origination", cnn_origination, _get(f"http://{CNN}/politics"), {"status": "200"}),
    Scenario("02-tls-origination-subset", cnn_origination_subset, _get(f"http://{CNN}/politics"), {"status": "200"}),
    # Istio's traffic-management troubleshooting ("Route rules have no effect on ingress/egress...", and
    # the 503 NC of a route to a subset no DestinationRule defines: Envoy's NC, "no cluster found").
    Scenario(
        "02-missing-subset",
        cnn_subset_without_rule,
        _get(f"http://{CNN}/politics"),
        {"status": "503", "log.sidecar.flags": "NC"},
    ),
    # istio.io egress-gateway task: HTTP through the gateway, 301 from edition.cnn.com (plain HTTP), and
    # the gateway's log shows outbound|80||edition.cnn.com.
    Scenario(
        "03-http-through-gateway",
        gateway_http,
        _get(f"http://{CNN}/politics", logs=(SIDECAR, GATEWAY)),
        {"status": "301", "log.gateway.cluster": f"outbound|80||{CNN}"},
    ),
    Scenario(
        "03-http-mesh-only-route", gateway_http_mesh_only, _get(f"http://{CNN}/politics", logs=(SIDECAR, GATEWAY))
    ),
    # Same task, "Egress gateway for HTTPS traffic": SNI passthrough, 200, gateway log names the host.
    Scenario(
        "03-tls-through-gateway",
        gateway_tls,
        _get(f"https://{CNN}/politics", "-o", "/dev/null", logs=(SIDECAR, GATEWAY)),
        {"status": "200", "log.gateway.cluster": f"outbound|443||{CNN}"},
    ),
    # HTTPS to a port the mesh knows as plain HTTP: no TLS handshake can complete through the sidecar's
    # HTTP listener, so curl reports a TLS connect error (exit 35, "SSL connect error", curl's man page).
    Scenario("misc-https-to-http-port", httpbin_entry, _get("https://httpbin.org:80/headers"), {"exit_code": "35"}),
    # Istio's "Double TLS" pitfall (istio.io, traffic management problems): TLS originated for a port
    # the application already speaks TLS on; the server sees TLS inside TLS.
    Scenario("misc-double-tls", google_double_tls, _get("https://www.google.com", "-I")),
    # subjectAltNames the server's certificate does not carry: the sidecar's verification fails and Envoy
    # answers 503 (Envoy's router: upstream connect failure; Istio's DestinationRule docs: the SANs are
    # checked against the server's certificate).
    Scenario("misc-wrong-subject-alt-names", cnn_wrong_san, _get(f"http://{CNN}/politics"), {"status": "503"}),
]
