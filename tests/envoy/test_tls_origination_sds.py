"""TLS origination by the sidecar, with the CA delivered as a file-watched SDS secret.

Istio's egress TLS origination task (https://istio.io/latest/docs/tasks/traffic-management/egress/
egress-tls-origination/): once the sidecar originates TLS for edition.cnn.com, a plain
``curl http://edition.cnn.com/politics`` gets 200 in one request instead of the 301 to HTTPS. The
cluster is hand-written in the shape istiod gives a DNS ServiceEntry with a SIMPLE DestinationRule
(``outbound|80||edition.cnn.com``, STRICT_DNS, an UpstreamTlsContext with the SNI).
"""

from __future__ import annotations

import base64
from typing import Any

import minimal_xds

from labkit.envoy import DataPlane, Pod

HOST = "edition.cnn.com"
CLUSTER = f"outbound|80||{HOST}"
SECRET = "file-root:/etc/ssl/certs/ca-certificates.crt"


def tls_cluster(pod: Pod) -> dict[str, Any]:
    assert pod.proxy is not None
    return {
        "name": CLUSTER,
        "type": "STRICT_DNS",
        "connect_timeout": "10s",
        "dns_lookup_family": "V4_ONLY",
        "load_assignment": {
            "cluster_name": CLUSTER,
            "endpoints": [
                {"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": HOST, "port_value": 443}}}}]}
            ],
        },
        "transport_socket": {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "sni": HOST,
                "common_tls_context": {
                    "validation_context_sds_secret_config": {
                        "name": SECRET,
                        "sds_config": pod.proxy.xds.sds_source(SECRET),
                    }
                },
            },
        },
    }


def configure(pod: Pod, ca_pem: bytes) -> None:
    assert pod.proxy is not None
    xds = pod.proxy.xds
    routes = minimal_xds.routes("REGISTRY_ONLY")
    routes[0]["virtual_hosts"].insert(
        0,
        {
            "name": f"{HOST}:80",
            "domains": [HOST, f"{HOST}:80"],
            "routes": [{"name": "default", "match": {"prefix": "/"}, "route": {"cluster": CLUSTER}}],
        },
    )
    secret = {"name": SECRET, "validation_context": {"trusted_ca": {"inline_bytes": _b64(ca_pem)}}}
    version = xds.apply(
        secrets=[secret],
        clusters=[*minimal_xds.clusters(), tls_cluster(pod)],
        routes=routes,
        listeners=minimal_xds.listeners(xds, "REGISTRY_ONLY"),
    )
    pod.proxy.wait_applied(version, ("listeners", "clusters", "routes", "secrets"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_sidecar_originates_tls_with_a_file_watched_sds_secret(plane: DataPlane) -> None:
    pod = plane.add_pod("sleep")
    configure(pod, plane.ca_pem)
    r = pod.curl("-sS", "-o", "/dev/null", "-w", "%{http_code}", f"http://{HOST}/politics", timeout=30)
    # egress-tls-origination: 200 OK on the first request, no 301 to https.
    assert (r.returncode, r.stdout) == (0, "200"), r.stderr
    assert pod.proxy is not None
    line = pod.proxy.wait_access_log(f"{CLUSTER} ")
    assert '"GET /politics HTTP/1.1" 200' in line and '"203.0.113.30:443"' in line, line


def test_a_wrong_ca_in_the_secret_fails_the_upstream_handshake(plane: DataPlane) -> None:
    from labkit.certs import generate_other_ca_client

    other = generate_other_ca_client(plane.run.path / "other")
    pod = plane.add_pod("sleep")
    configure(pod, other.ca_cert.read_bytes())
    r = pod.curl("-sS", "-o", "/dev/null", "-w", "%{http_code}", f"http://{HOST}/politics", timeout=30)
    # Envoy docs, UpstreamTlsContext validation: a server certificate that does not chain to the trusted CA
    # fails the handshake, and the router answers 503 with response flag UF (upstream connection failure).
    assert (r.returncode, r.stdout) == (0, "503"), r.stderr
    assert pod.proxy is not None
    assert " UF " in pod.proxy.wait_access_log(f"{CLUSTER} ")
