"""The scenarios both backends run: the checks of labs 01-03 and the misconfigurations Istio's
documentation and troubleshooting pages describe. Each scenario sets a mesh up the way the lab notebook
does (with the lab's own manifests) and sends one request.

``expect`` holds the few outcomes Istio's or curl's documentation states outright, with the source; the
rest of each observation is compared between the backends (``test_differential.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from labkit import certs, manifests, nginxconf
from labkit.lab import Lab
from labkit.paths import lab_file

from .observe import Proxy, Request

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


# -- lab 04: a second namespace, NetworkPolicy, the DestinationRule's namespace

EGRESS_NS = "test-egress"
EGRESS_SIDECAR = Proxy("sidecar", EGRESS_NS, "app=sleep")
TLS_URL = f"https://{CNN}/politics"


def _test_namespace(lab: Lab, *, injected: bool, policy: bool, rule: bool = False) -> None:
    gateway_tls(lab)
    lab.apply(lab_file("common", "namespace.yaml"), name=EGRESS_NS)
    if injected:
        lab.label_namespace(EGRESS_NS, {"istio-injection": "enabled"})
    lab.deploy_client(namespace=EGRESS_NS)
    if policy:
        lab.label_namespace("istio-system", {"istio": "system"})
        lab.label_namespace("kube-system", {"kube-system": "true"})
        lab.apply(lab_file("04-network-policy", "networkpolicy.yaml"), namespace=EGRESS_NS)
    if rule:
        lab.apply(lab_file("03-egress-gateway", "destinationrule-gateway.yaml"), namespace=EGRESS_NS, **GW)


def unmeshed_client(lab: Lab) -> None:
    _test_namespace(lab, injected=False, policy=False)


def unmeshed_client_under_policy(lab: Lab) -> None:
    _test_namespace(lab, injected=False, policy=True)


def meshed_client_without_rule(lab: Lab) -> None:
    _test_namespace(lab, injected=True, policy=True)


def meshed_client_with_rule(lab: Lab) -> None:
    _test_namespace(lab, injected=True, policy=True, rule=True)


# -- lab 05: TLS origination at the gateway, mutual TLS to nginx

LAB05 = "05-egress-gateway-tls-origination"
NGINX = "my-nginx.mesh-external.svc.cluster.local"
LAB05_PARAMS = {**GW, "nginx_host": NGINX, "credential": "client-credential"}
PKI: list[certs.LabPki] = []


def lab_pki() -> certs.LabPki:
    if not PKI:
        PKI.append(certs.generate_lab_pki(certs.new_run_dir()))
    return PKI[0]


def gateway_simple_origination(lab: Lab) -> None:
    lab.apply(lab_file(LAB05, "tls-origination-cnn.yaml"), **LAB05_PARAMS)


def nginx_server(lab: Lab) -> None:
    pki = lab_pki()
    lab.apply(lab_file("common", "namespace.yaml"), name="mesh-external")
    lab.apply(
        [
            certs.secret_manifest("nginx-server-certs", "mesh-external", cert=pki.server_cert, key=pki.server_key),
            certs.secret_manifest("nginx-ca-certs", "mesh-external", ca=pki.ca_cert),
            nginxconf.configmap(server_name=NGINX),
        ],
        namespace="mesh-external",
    )
    lab.apply(lab_file(LAB05, "nginx.yaml"), namespace="mesh-external")
    lab.apply(
        certs.secret_manifest("nginx-client-certs", "default", cert=pki.client_cert, key=pki.client_key, ca=pki.ca_cert)
    )
    lab.deploy_client(name="sleep-with-certs", secret_mounts={"nginx-client-certs": "/etc/nginx-client-certs"})


def nginx_mutual_origination(lab: Lab, *, credential: bool = True) -> None:
    nginx_server(lab)
    pki = lab_pki()
    if credential:
        lab.apply(
            certs.secret_manifest(
                "client-credential", "istio-system", cert=pki.client_cert, key=pki.client_key, ca=pki.ca_cert
            )
        )
    lab.apply(lab_file(LAB05, "mtls-origination-nginx.yaml"), **LAB05_PARAMS)
    lab.apply(lab_file(LAB05, "destinationrule-mtls-nginx.yaml"), namespace="istio-system", **LAB05_PARAMS)


def nginx_mutual_origination_without_credential(lab: Lab) -> None:
    nginx_mutual_origination(lab, credential=False)


# -- lab 06: wildcard hosts

WIKI = {"name": "wikipedia", "domain": "wikipedia.org", "server_host": "www.wikipedia.org", **GW}
EN = "https://en.wikipedia.org/wiki/Main_Page"


def _lab06(lab: Lab, *files: str, **more: str) -> None:
    for f in files:
        lab.apply(lab_file("06-wildcard-hosts", f), **{**WIKI, **more})


def wildcard_entry(lab: Lab) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")
    _lab06(lab, "serviceentry-wildcard.yaml")


def wildcard_through_gateway(lab: Lab) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")
    _lab06(lab, "gateway.yaml", "destinationrule-gateway.yaml", "virtualservice.yaml", "serviceentry-server.yaml")


def wider_wildcard(lab: Lab) -> None:
    wildcard_through_gateway(lab)
    _lab06(lab, "serviceentry-wildcard.yaml", "gateway.yaml", "virtualservice.yaml", domain="org", name="wider-domain")


# -- more misconfigurations and everyday cases


def httpbin_fault(lab: Lab) -> None:
    httpbin_entry(lab)
    lab.apply(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: httpbin-fault}\n"
        "spec:\n  hosts: [httpbin.org]\n  http:\n  - fault: {abort: {httpStatus: 418, percentage: {value: 100}}}\n"
        "    route:\n    - destination: {host: httpbin.org}\n"
    )


def httpbin_wrong_port_entry(lab: Lab) -> None:
    lab.set_outbound_policy("REGISTRY_ONLY")
    lab.apply(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: httpbin-8080}\n"
        "spec:\n  hosts: [httpbin.org]\n  ports: [{number: 8080, name: http, protocol: HTTP}]\n"
        "  resolution: DNS\n  location: MESH_EXTERNAL\n"
    )


def _get(
    url: str, *args: str, logs: tuple[Proxy, ...] = (SIDECAR,), client: str = "sleep", namespace: str = "default"
) -> Request:
    return Request(url, ("-sS", *args), client=client, namespace=namespace, logs=logs)


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
    # HTTPS to a port the mesh knows as plain HTTP (istio.io network-issues, "Sending HTTPS to an HTTP
    # port": curl exit 35). The page's "400 DPE" is istio/istio#16458, fixed by #17169: 0.0.0.0_80's HTTP
    # chain now matches only what the HTTP inspector finds to be HTTP, and a match-all TCP chain takes the
    # rest (#24998). The ClientHello falls through to BlackHoleCluster under REGISTRY_ONLY, which closes
    # the connection: no handshake completes, a TLS connect error (exit 35, curl's man page).
    Scenario("misc-https-to-http-port", httpbin_entry, _get("https://httpbin.org:80/headers"), {"exit_code": "35"}),
    # Istio's "Double TLS" pitfall (istio.io, traffic management problems): TLS originated for a port
    # the application already speaks TLS on; the server sees TLS inside TLS.
    Scenario("misc-double-tls", google_double_tls, _get("https://www.google.com", "-I")),
    # subjectAltNames the server's certificate does not carry: the sidecar's verification fails and Envoy
    # answers 503 (Envoy's router: upstream connect failure; Istio's DestinationRule docs: the SANs are
    # checked against the server's certificate).
    Scenario("misc-wrong-subject-alt-names", cnn_wrong_san, _get(f"http://{CNN}/politics"), {"status": "503"}),
    # istio.io egress-control task: a request within the timeout is unaffected (200).
    Scenario("01-within-timeout", httpbin_timeout, _get("http://httpbin.org/delay/1"), {"status": "200"}),
    # Lab 04 (istio.io egress-gateway task, "Apply Kubernetes network policies"): a pod without a sidecar
    # goes out directly; under the policy it times out (curl exit 28); with a sidecar but no
    # DestinationRule for the subset in its namespace the route's cluster is missing; with it, 200.
    Scenario(
        "04-unmeshed-client-direct",
        unmeshed_client,
        _get(TLS_URL, "-o", "/dev/null", namespace=EGRESS_NS),
        {"status": "200"},
    ),
    Scenario(
        "04-policy-blocks-unmeshed-client",
        unmeshed_client_under_policy,
        _get(TLS_URL, "-o", "/dev/null", "--connect-timeout", "2", namespace=EGRESS_NS),
        {"exit_code": "28", "status": "None"},
    ),
    Scenario(
        "04-meshed-client-without-rule",
        meshed_client_without_rule,
        _get(TLS_URL, "-o", "/dev/null", "--connect-timeout", "2", namespace=EGRESS_NS, logs=(EGRESS_SIDECAR,)),
        {"exit_code": "35"},
    ),
    Scenario(
        "04-meshed-client-with-rule",
        meshed_client_with_rule,
        _get(TLS_URL, "-o", "/dev/null", "--connect-timeout", "2", namespace=EGRESS_NS, logs=(EGRESS_SIDECAR, GATEWAY)),
        {"status": "200", "log.gateway.cluster": f"outbound|443||{CNN}"},
    ),
    # istio.io egress-gateway TLS origination task: plain HTTP in, TLS out of the gateway, one 200.
    Scenario(
        "05-simple-origination-at-gateway",
        gateway_simple_origination,
        _get(f"http://{CNN}/politics", "-o", "/dev/null", logs=(SIDECAR, GATEWAY)),
        {"status": "200", "log.gateway.cluster": f"outbound|443||{CNN}"},
    ),
    # Same task, "Perform mutual TLS origination": nginx requires a client certificate; with the
    # credentialName Secret the gateway presents one and nginx answers its page.
    Scenario(
        "05-mutual-origination",
        nginx_mutual_origination,
        _get(f"http://{NGINX}", logs=(SIDECAR, GATEWAY)),
        {"status": "200", "body.title": "Welcome to nginx!"},
    ),
    Scenario(
        "05-mutual-origination-without-credential",
        nginx_mutual_origination_without_credential,
        _get(f"http://{NGINX}", "-m", "10", logs=(SIDECAR, GATEWAY)),
    ),
    # Same task: curl with the client certificate straight to nginx answers 200 (curl --cert/--key/--cacert).
    Scenario(
        "05-curl-with-client-certificate",
        nginx_server,
        _get(
            f"https://{NGINX}",
            "--cacert",
            "/etc/nginx-client-certs/ca.crt",
            "--cert",
            "/etc/nginx-client-certs/tls.crt",
            "--key",
            "/etc/nginx-client-certs/tls.key",
            client="sleep-with-certs",
            logs=(Proxy("sidecar", "default", "app=sleep-with-certs"),),
        ),
        {"status": "200", "body.title": "Welcome to nginx!"},
    ),
    # istio.io wildcard-hosts task: REGISTRY_ONLY blocks the host; the wildcard ServiceEntry lets every
    # language's host through; through the gateway all go to www.wikipedia.org.
    Scenario("06-registry-only", registry_only, _get(EN), {"exit_code": "35"}),
    Scenario(
        "06-wildcard-entry",
        wildcard_entry,
        _get(EN),
        {"status": "200", "log.sidecar.cluster": "outbound|443||*.wikipedia.org"},
    ),
    Scenario(
        "06-wildcard-through-gateway",
        wildcard_through_gateway,
        _get(EN, logs=(SIDECAR, GATEWAY)),
        {"status": "200", "log.gateway.cluster": "outbound|443||www.wikipedia.org"},
    ),
    # Same task, the wider wildcard: httpbin.org is sent to www.wikipedia.org as well and fails.
    Scenario(
        "06-wider-wildcard-other-host",
        wider_wildcard,
        _get("https://httpbin.org/", logs=(SIDECAR, GATEWAY)),
        {"status": "None", "log.gateway.cluster": "outbound|443||www.wikipedia.org"},
    ),
    # VirtualService fault injection (Istio HTTPFaultInjection reference): abort 100% → that status, and
    # Envoy's access log flag FI (fault injected).
    Scenario(
        "misc-fault-abort",
        httpbin_fault,
        _get("http://httpbin.org/headers"),
        {"status": "418", "log.sidecar.flags": "FI"},
    ),
    # A ServiceEntry for another port does not register port 80: REGISTRY_ONLY still answers 502.
    Scenario(
        "misc-service-entry-other-port", httpbin_wrong_port_entry, _get("http://httpbin.org/headers"), {"status": "502"}
    ),
    # A name nothing resolves: curl exit 6, "Couldn't resolve host" (curl's man page).
    Scenario("misc-unknown-host", nothing, _get("http://no-such-host.example.invalid/"), {"exit_code": "6"}),
    # curl -L follows edition.cnn.com's 301 to HTTPS: passthrough HTTPS, 200.
    Scenario(
        "misc-follow-redirect", cnn_entry, _get(f"http://{CNN}/politics", "-L", "-o", "/dev/null"), {"status": "200"}
    ),
    # Everyday requests through the sidecar (httpbin's own endpoints: /status/<code> answers that code,
    # HEAD gets the headers only, /post echoes the body it got, /delay/<n> waits n seconds).
    Scenario("misc-status-code-passthrough", nothing, _get("http://httpbin.org/status/418"), {"status": "418"}),
    Scenario("misc-head-request", httpbin_entry, _get("http://httpbin.org/get", "-I"), {"status": "200"}),
    Scenario("misc-post-body", httpbin_entry, _get("http://httpbin.org/post", "-d", "hello=mesh"), {"status": "200"}),
    Scenario("misc-delay-without-timeout", httpbin_entry, _get("http://httpbin.org/delay/1"), {"status": "200"}),
    # REGISTRY_ONLY with an entry for httpbin.org only: another host is still blocked (502, as above).
    Scenario("01-registry-only-other-host", httpbin_entry, _get(f"http://{CNN}/politics"), {"status": "502"}),
    # Lab 02's origination config leaves port 443 as HTTPS: the application's own TLS passes through, 200.
    Scenario("02-https-alongside-origination", cnn_origination, _get(TLS_URL, "-o", "/dev/null"), {"status": "200"}),
]
