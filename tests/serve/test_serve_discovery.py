"""Discovery as clients read it: /version, /api, /apis, the resource lists, OpenAPI, and the dynamic client."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s
from kubernetes.dynamic import DynamicClient

from labkit.schema import K8S_VERSION
from labkit.serve import resources

AGGREGATED = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)


def test_version_is_the_kubernetes_release_labkit_validates_against(api: k8s.ApiClient) -> None:
    info = k8s.VersionApi(api).get_code()
    assert info.git_version == f"v{K8S_VERSION}"
    assert (info.major, info.minor) == tuple(K8S_VERSION.split(".")[:2])


def test_core_discovery_lists_pods_with_their_exec_and_log_subresources(http) -> None:
    listing = http("GET", "/api/v1").json()
    by_name = {r["name"]: r for r in listing["resources"]}
    assert listing["groupVersion"] == "v1"
    assert by_name["pods"]["shortNames"] == ["po"] and by_name["pods"]["namespaced"] is True
    assert by_name["pods/exec"]["kind"] == "PodExecOptions" and "create" in by_name["pods/exec"]["verbs"]
    assert by_name["pods/log"]["verbs"] == ["get"]
    assert by_name["namespaces"]["namespaced"] is False
    assert http("GET", "/api").json()["versions"] == ["v1"]


def test_istio_group_is_served_at_three_versions_with_v1_preferred(http) -> None:
    groups = {g["name"]: g for g in http("GET", "/apis").json()["groups"]}
    istio = groups["networking.istio.io"]
    assert [v["version"] for v in istio["versions"]] == ["v1", "v1beta1", "v1alpha3"]
    assert istio["preferredVersion"]["version"] == "v1"
    for version in ("v1", "v1beta1", "v1alpha3"):
        listed = {r["name"]: r for r in http("GET", f"/apis/networking.istio.io/{version}").json()["resources"]}
        assert listed["serviceentries"]["singularName"] == "serviceentry"
        assert set(listed) == {"serviceentries", "virtualservices", "destinationrules", "gateways", "sidecars"}


def test_aggregated_discovery_lists_every_group_version_and_kind_in_one_document(http) -> None:
    # Kubernetes API concepts, "Aggregated discovery" (GA in 1.30): /api and /apis answer an
    # APIGroupDiscoveryList (apidiscovery.k8s.io/v2) when the Accept header asks for one, with that media type.
    reply = http("GET", "/apis", headers={"Accept": AGGREGATED})
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    document = reply.json()
    assert (document["kind"], document["apiVersion"]) == ("APIGroupDiscoveryList", "apidiscovery.k8s.io/v2")
    istio = next(g for g in document["items"] if g["metadata"]["name"] == "networking.istio.io")
    # Versions preferred first; each resource names its kind and scope (apidiscovery v2 APIResourceDiscovery).
    assert [v["version"] for v in istio["versions"]] == ["v1", "v1beta1", "v1alpha3"]
    entries = {r["resource"]: r for r in istio["versions"][0]["resources"]}
    assert entries["serviceentries"]["responseKind"] == {
        "group": "networking.istio.io",
        "version": "v1",
        "kind": "ServiceEntry",
    }
    assert entries["serviceentries"]["scope"] == "Namespaced" and entries["serviceentries"]["shortNames"] == ["se"]
    core = http("GET", "/api", headers={"Accept": AGGREGATED}).json()
    pods = next(r for r in core["items"][0]["versions"][0]["resources"] if r["resource"] == "pods")
    assert {s["subresource"] for s in pods["subresources"]} == {"exec", "log"}
    # A client that does not ask for it gets the legacy APIGroupList, as from servers before 1.26.
    assert http("GET", "/apis").json()["kind"] == "APIGroupList"


@pytest.mark.parametrize("resource", resources.RESOURCES, ids=lambda r: f"{r.kind}")
def test_the_dynamic_client_finds_every_served_kind_at_every_version(api: k8s.ApiClient, resource) -> None:
    dynamic = DynamicClient(api)
    for version in resource.versions:
        found = dynamic.resources.get(api_version=resource.api_version(version), kind=resource.kind)
        assert (found.name, found.namespaced) == (resource.plural, resource.namespaced)


def test_openapi_v3_tells_kubectl_that_the_server_validates_fields(http) -> None:
    root = http("GET", "/openapi/v3").json()["paths"]
    assert {"api/v1", "apis/apps/v1", "apis/networking.istio.io/v1beta1"} <= set(root)
    doc = http("GET", root["apis/networking.istio.io/v1"]["serverRelativeURL"]).json()
    item = doc["paths"]["/apis/networking.istio.io/v1/namespaces/{namespace}/serviceentries/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "networking.istio.io",
        "version": "v1",
        "kind": "ServiceEntry",
    }
    assert {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}} in patch["parameters"]


def test_old_kubectl_gets_an_empty_protobuf_openapi_v2(http) -> None:
    reply = http("GET", "/openapi/v2", headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"})
    # An empty protobuf message is a valid, empty document; Go cannot parse "@" in a media type.
    assert (reply.status, reply.text, reply.headers["content-type"]) == (200, "", "application/octet-stream")


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/apis/example.com/v1/widgets"), ("POST", "/api"), ("POST", "/apis")]
)
def test_unknown_paths_answer_a_not_found_status(http, method: str, path: str) -> None:
    reply = http(method, path)
    assert reply.status == 404
    assert reply.json()["kind"] == "Status" and reply.json()["reason"] == "NotFound"
