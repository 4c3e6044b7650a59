"""Objects driven through the library's real DynamicClient code, down to the HTTP request it would send.

Only discovery and the transport are replaced, so these check the requests the API server would get:
method, path, query (fieldManager, force), Content-Type and body, and how a 404 comes back.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from kubernetes import client as k8s
from kubernetes.client import rest
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.resource import Resource

from labkit.kube.apply import Objects
from labkit.manifests import Ref


class Transport:
    """Replaces ApiClient.call_api: records each request, answers from a queue (default: echo the body)."""

    def __init__(self) -> None:
        self.requests: list[SimpleNamespace] = []
        self.answers: list[tuple[int, dict]] = []

    def __call__(self, method, url, header_params=None, body=None, post_params=None, _request_timeout=None):
        parts = urlsplit(url)
        sent = json.loads(body) if isinstance(body, (str, bytes)) else body
        self.requests.append(
            SimpleNamespace(
                method=method,
                path=parts.path,
                query=parse_qs(parts.query),
                headers=header_params or {},
                body=sent,
            )
        )
        status, payload = self.answers.pop(0) if self.answers else (200, sent)
        raw = SimpleNamespace(
            status=status,
            reason="OK" if status < 300 else "Not Found",
            data=json.dumps(payload).encode(),
            headers={"content-type": "application/json"},
        )
        return rest.RESTResponse(raw)


@pytest.fixture
def wired():
    api_client = k8s.ApiClient(k8s.Configuration(host="https://lab.test:6443"))
    transport = Transport()
    api_client.call_api = transport
    dyn = DynamicClient.__new__(DynamicClient)  # skip discovery, which would call the server
    dyn.client = api_client
    dyn.configuration = api_client.configuration
    kinds = {
        ("networking.istio.io/v1", "ServiceEntry"): Resource(
            prefix="apis",
            group="networking.istio.io",
            api_version="v1",
            kind="ServiceEntry",
            namespaced=True,
            name="serviceentries",
            client=dyn,
        ),
        ("v1", "Namespace"): Resource(
            prefix="api",
            group="",
            api_version="v1",
            kind="Namespace",
            namespaced=False,
            name="namespaces",
            client=dyn,
        ),
    }
    dyn._DynamicClient__discoverer = SimpleNamespace(get=lambda api_version, kind: kinds[(api_version, kind)])
    return Objects(dyn), transport


SE = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "ServiceEntry",
    "metadata": {"name": "httpbin", "namespace": "lab"},
    "spec": {"hosts": ["httpbin.org"]},
}


def test_server_side_apply_request(wired):
    objects, transport = wired
    stored = objects.apply([SE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab"}}])
    ns_req, se_req = transport.requests
    assert (ns_req.method, ns_req.path) == ("PATCH", "/api/v1/namespaces/lab")
    assert (se_req.method, se_req.path) == (
        "PATCH",
        "/apis/networking.istio.io/v1/namespaces/lab/serviceentries/httpbin",
    )
    for req in transport.requests:
        assert req.query == {"fieldManager": ["labkit"], "force": ["true"]}
        assert req.headers["Content-Type"] == "application/apply-patch+yaml"
    assert se_req.body == SE
    assert stored[0]["spec"] == {"hosts": ["httpbin.org"]}


def test_merge_patch_request(wired):
    objects, transport = wired
    transport.answers.append((200, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab"}}))
    objects.patch(Ref("v1", "Namespace", None, "lab"), {"metadata": {"labels": {"istio-injection": "enabled"}}})
    (req,) = transport.requests
    assert (req.method, req.path) == ("PATCH", "/api/v1/namespaces/lab")
    assert req.headers["Content-Type"] == "application/merge-patch+json"
    assert req.body == {"metadata": {"labels": {"istio-injection": "enabled"}}}


def test_merge_patch_sends_null_to_remove_a_key(wired):
    # Lab.cleanup removes the labels it added with a null; it must reach the server as JSON null.
    objects, transport = wired
    transport.answers.append((200, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab"}}))
    objects.patch(Ref("v1", "Namespace", None, "lab"), {"metadata": {"labels": {"istio": None, "team": "mesh"}}})
    (req,) = transport.requests
    assert req.body == {"metadata": {"labels": {"istio": None, "team": "mesh"}}}


def test_delete_404_is_false(wired):
    objects, transport = wired
    transport.answers.append((404, {"kind": "Status", "reason": "NotFound", "code": 404}))
    assert objects.delete(Ref("networking.istio.io/v1", "ServiceEntry", "lab", "httpbin")) is False
    (req,) = transport.requests
    assert (req.method, req.path) == (
        "DELETE",
        "/apis/networking.istio.io/v1/namespaces/lab/serviceentries/httpbin",
    )


def test_list_request_carries_the_selector(wired):
    objects, transport = wired
    transport.answers.append(
        (
            200,
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "ServiceEntryList",
                "items": [{"metadata": {"name": "httpbin"}}],
            },
        )
    )
    items = objects.list_objects("networking.istio.io/v1", "ServiceEntry", "lab", "app.kubernetes.io/managed-by=labkit")
    (req,) = transport.requests
    assert (req.method, req.path) == ("GET", "/apis/networking.istio.io/v1/namespaces/lab/serviceentries")
    assert req.query == {"labelSelector": ["app.kubernetes.io/managed-by=labkit"]}
    assert items == [{"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": "httpbin"}}]
