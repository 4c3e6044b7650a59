"""Mutual TLS origination at a Gateway API egress gateway, as istio.io's task does it.

Source: istio/istio.io content/en/docs/tasks/traffic-management/egress/egress-gateway-tls-origination/
index.md, "Configure mutual TLS origination for egress traffic", Gateway API tab (snips.sh
snip_configure_mutual_tls_origination_for_egress_traffic_2/4/6/8/11/13/14). There the sidecar side is
still a VirtualService (an HTTPRoute cannot send the client's port 80 to the gateway's 443); the gateway
side is an HTTPRoute to the Service my-nginx in namespace mesh-external, allowed by a ReferenceGrant; the
gateway reads the client certificate from the Secret client-credential in its own namespace, which its
service account may read through the Role and RoleBinding nginx-egressgateway-istio-sds.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from test_gateway_tls_origination import nginx

from labkit import certs
from labkit.lab import Lab

NGINX = "my-nginx.mesh-external.svc.cluster.local"
GW = "gateway.networking.k8s.io/v1"
NET = "networking.istio.io/v1"
GATEWAY_PODS = {"namespace": "default", "selector": "gateway.networking.k8s.io/gateway-name=nginx-egressgateway"}

GATEWAY = {
    "apiVersion": GW,
    "kind": "Gateway",
    "metadata": {"name": "nginx-egressgateway", "annotations": {"networking.istio.io/service-type": "ClusterIP"}},
    "spec": {
        "gatewayClassName": "istio",
        "listeners": [
            {
                "name": "https",
                "hostname": NGINX,
                "port": 443,
                "protocol": "HTTPS",
                "tls": {"mode": "Terminate", "options": {"gateway.istio.io/tls-terminate-mode": "ISTIO_MUTUAL"}},
                "allowedRoutes": {"namespaces": {"from": "Same"}},
            }
        ],
    },
}
ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "Role",
    "metadata": {"name": "nginx-egressgateway-istio-sds"},
    "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "watch", "list"]}],
}
ROLE_BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "nginx-egressgateway-istio-sds"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "nginx-egressgateway-istio-sds"},
    "subjects": [{"kind": "ServiceAccount", "name": "nginx-egressgateway-istio"}],
}
GATEWAY_DR = {
    "apiVersion": NET,
    "kind": "DestinationRule",
    "metadata": {"name": "egressgateway-for-nginx"},
    "spec": {
        "host": "nginx-egressgateway-istio.default.svc.cluster.local",
        "trafficPolicy": {
            "loadBalancer": {"simple": "ROUND_ROBIN"},
            "portLevelSettings": [{"port": {"number": 443}, "tls": {"mode": "ISTIO_MUTUAL", "sni": NGINX}}],
        },
    },
}
DIRECT_VS = {
    "apiVersion": NET,
    "kind": "VirtualService",
    "metadata": {"name": "direct-nginx-to-egress-gateway"},
    "spec": {
        "hosts": [NGINX],
        "gateways": ["mesh"],
        "http": [
            {
                "match": [{"port": 80}],
                "route": [
                    {
                        "destination": {
                            "host": "nginx-egressgateway-istio.default.svc.cluster.local",
                            "port": {"number": 443},
                        }
                    }
                ],
            }
        ],
    },
}
FORWARD_ROUTE = {
    "apiVersion": GW,
    "kind": "HTTPRoute",
    "metadata": {"name": "forward-nginx-from-egress-gateway"},
    "spec": {
        "parentRefs": [{"name": "nginx-egressgateway"}],
        "hostnames": [NGINX],
        "rules": [{"backendRefs": [{"name": "my-nginx", "namespace": "mesh-external", "port": 443}]}],
    },
}
REFERENCE_GRANT = {
    "apiVersion": "gateway.networking.k8s.io/v1beta1",
    "kind": "ReferenceGrant",
    "metadata": {"name": "my-nginx-reference-grant", "namespace": "mesh-external"},
    "spec": {
        "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "default"}],
        "to": [{"group": "", "kind": "Service", "name": "my-nginx"}],
    },
}
ORIGINATE_MTLS_DR = {
    "apiVersion": NET,
    "kind": "DestinationRule",
    "metadata": {"name": "originate-mtls-for-nginx"},
    "spec": {
        "host": NGINX,
        "trafficPolicy": {
            "loadBalancer": {"simple": "ROUND_ROBIN"},
            "portLevelSettings": [
                {
                    "port": {"number": 443},
                    "tls": {"mode": "MUTUAL", "credentialName": "client-credential", "sni": NGINX},
                }
            ],
        },
    },
}


@pytest.fixture
def pki(tmp_path: Path) -> certs.LabPki:
    return certs.generate_lab_pki(tmp_path / "pki")


def set_up(lab: Lab, pki: certs.LabPki, *leave_out: dict[str, Any]) -> None:
    nginx(lab, pki)
    secret = certs.secret_manifest(
        "client-credential", "default", cert=pki.client_cert, key=pki.client_key, ca=pki.ca_cert
    )
    docs = [GATEWAY, ROLE, ROLE_BINDING, GATEWAY_DR, DIRECT_VS, FORWARD_ROUTE, REFERENCE_GRANT, ORIGINATE_MTLS_DR]
    lab.apply([secret] + [copy.deepcopy(d) for d in docs if d not in leave_out])
    lab.driver.sleep(2)


def test_mutual_tls_origination_through_the_deployed_gateway(lab: Lab, pki: certs.LabPki) -> None:
    # snip_..._11_out: curl -sS http://my-nginx.mesh-external.svc.cluster.local shows nginx's welcome page;
    # snip_..._14: the gateway's log line has "GET / HTTP/1.1" 200, outbound|443||my-nginx.mesh-external...,
    # and the route default.forward-nginx-from-egress-gateway.0.
    set_up(lab, pki)
    r = lab.curl(f"http://{NGINX}", "-sS")
    assert r.status == 200 and "Welcome to nginx!" in r.body
    lines = [line for line in lab.logs(**GATEWAY_PODS) if f"outbound|443||{NGINX}" in line]
    assert lines and '"GET / HTTP/1.1" 200' in lines[-1]
    assert lines[-1].endswith(" default.forward-nginx-from-egress-gateway.0")
    assert "Secret default/client-credential (SDS)" in str(r.explain())


def test_without_the_reference_grant_the_gateway_answers_500(lab: Lab, pki: certs.LabPki) -> None:
    # Gateway API (HTTPRoute rules[].backendRefs, in the CRD's description): a backend in another namespace
    # needs a ReferenceGrant there; when every backend of a rule is invalid, matching traffic receives a 500.
    # The route reports ResolvedRefs False, reason RefNotPermitted (Gateway API RouteConditionReason).
    set_up(lab, pki, REFERENCE_GRANT)
    assert lab.curl(f"http://{NGINX}", "-sS").status == 500
    route = lab.get("HTTPRoute", "forward-nginx-from-egress-gateway", "default", api_version=GW)
    assert route is not None
    conditions = {c["type"]: c for c in route["status"]["parents"][0]["conditions"]}
    assert conditions["ResolvedRefs"]["status"] == "False"
    assert conditions["ResolvedRefs"]["reason"] == "RefNotPermitted"


def test_without_the_role_the_gateway_gets_no_client_certificate(lab: Lab, pki: certs.LabPki) -> None:
    # The task adds Role and RoleBinding nginx-egressgateway-istio-sds so that the gateway's service account
    # may read Secrets in its namespace (snip_..._4); without them istiod serves no client-credential, nginx
    # (ssl_verify_client on) refuses the handshake without a client certificate, and Envoy answers 503 when
    # the upstream connection fails (Envoy access log docs: UF, upstream connection failure).
    set_up(lab, pki, ROLE_BINDING)
    r = lab.curl(f"http://{NGINX}", "-sS")
    assert r.status == 503
    assert "may not list Secrets" in str(r.explain())
