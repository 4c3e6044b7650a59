"""CustomResourceDefinitions on a practice cluster that starts without the Gateway API: applying the
Gateway API CRD bundle (``../shared/istio/gateway-api-crd.yaml``, read in place) installs its kinds,
and deleting a CRD removes its kind. With the real kubectl, as ``test_serve_kubectl`` runs it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from labkit import paths
from labkit.serve import ApiServer, crds, gatewayapi, tables

from .conftest import Http
from .test_serve_kubectl import Kubectl, kubectl  # noqa: F401

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
#: The API server's limit on an object's annotations, keys and values together (apimachinery
#: TotalAnnotationSizeLimitB); kubectl's client-side apply stores the whole object in one of them.
ANNOTATIONS_LIMIT = 256 * 1024
WIDGETS = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


@pytest.fixture
def server() -> Iterator[ApiServer]:
    """A cluster without the Gateway API CRDs, as one from scripts/cluster-up.sh before anyone installs them."""
    with ApiServer(gateway_api=False) as running:
        yield running


def bundle_path() -> Path:
    path = paths.gateway_api_crds()
    if path is None:
        where = "../shared/istio/gateway-api-crd.yaml or LABKIT_GATEWAY_API_CRDS"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"the Gateway API CRD bundle is missing ({where}); under CI=true it is required")
        pytest.skip(f"the Gateway API CRD bundle is missing ({where})")
    return path


@pytest.fixture(scope="module")
def bundle() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(bundle_path().read_text()) if d]


def defined(bundle: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in bundle if d["kind"] == "CustomResourceDefinition"]


def test_before_the_crds_are_applied_the_kinds_are_not_served(kubectl: Kubectl) -> None:  # noqa: F811
    # istio.io's check before installing the CRDs (boilerplates/gateway-api-install-crds.md) fails here.
    found = kubectl("get", "crd", "gateways.gateway.networking.k8s.io")
    assert found.returncode == 1
    # API conventions, NotFound: 'resource.group "name" not found'.
    assert 'customresourcedefinitions.apiextensions.k8s.io "gateways.gateway.networking.k8s.io" not found' in (
        found.stderr
    )
    route = {"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "HTTPRoute", "metadata": {"name": "r"}}
    applied = kubectl("apply", "-f", "-", stdin=yaml.safe_dump(route))
    # cli-runtime's resource mapper, when discovery lists no such kind.
    assert applied.returncode == 1
    assert 'no matches for kind "HTTPRoute" in version "gateway.networking.k8s.io/v1beta1"' in applied.stderr
    assert "ensure CRDs are installed first" in applied.stderr


def test_client_side_apply_of_the_bundle_fails_only_for_crds_too_large_for_the_annotation(
    kubectl: Kubectl,  # noqa: F811
    bundle: list[dict[str, Any]],
) -> None:
    applied = kubectl("apply", "-f", str(bundle_path()))
    # Client-side apply keeps the whole object in the last-applied-configuration annotation; the API server
    # refuses annotations over 256 KiB. kubernetes-sigs/gateway-api#4156: the experimental HTTPRoute CRD is
    # over it ("metadata.annotations: Too long: may not be more than 262144 bytes"); the rest is applied.
    too_large = {d["metadata"]["name"] for d in bundle if len(json.dumps(d, separators=(",", ":"))) > ANNOTATIONS_LIMIT}
    assert "httproutes.gateway.networking.k8s.io" in too_large
    assert applied.returncode == 1
    for doc in bundle:
        name, kind = doc["metadata"]["name"], doc["kind"].lower()
        group = doc["apiVersion"].split("/")[0]
        if name in too_large:
            assert f'The {doc["kind"]} "{name}" is invalid: metadata.annotations: Too long: may not be more than ' in (
                applied.stderr
            )
        else:
            assert f"{kind}.{group}/{name} created" in applied.stdout
    # Applying the same file again changes nothing (kubectl apply prints "unchanged" for an empty patch).
    again = kubectl("apply", "-f", str(bundle_path()))
    for doc in bundle:
        if doc["metadata"]["name"] not in too_large:
            assert f"{doc['kind'].lower()}.{doc['apiVersion'].split('/')[0]}/{doc['metadata']['name']} unchanged" in (
                again.stdout
            )


def test_server_side_apply_of_the_bundle_installs_every_kind_in_it(
    kubectl: Kubectl,  # noqa: F811
    http: Http,
    bundle: list[dict[str, Any]],
) -> None:
    # Gateway API's install guide applies the experimental channel with --server-side (no annotation).
    applied = kubectl("apply", "--server-side", "-f", str(bundle_path()))
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.count("serverside-applied") == len(bundle)
    # The bundle's ValidatingAdmissionPolicy and its binding are stored, not run: each write says so in a
    # Warning header, which kubectl prints as "Warning: ..." (client-go's warning handler).
    assert applied.stderr.count("admission policies are not run") == 2, applied.stderr
    listed = set(kubectl("api-resources", "-o", "name").stdout.split())
    groups = {g["name"]: g for g in http("GET", "/apis").json()["groups"]}
    for crd in defined(bundle):
        spec = crd["spec"]
        assert f"{spec['names']['plural']}.{spec['group']}" in listed
        served = {v["name"] for v in spec["versions"] if v["served"]}
        # Discovery (/apis and /apis/{group}/{version}) lists the kind at each version the CRD marks
        # served (Kubernetes docs, "Versions in CustomResourceDefinitions": served enables the version).
        assert served <= {v["version"] for v in groups[spec["group"]]["versions"]}
        for version in served:
            resources = http("GET", f"/apis/{spec['group']}/{version}").json()["resources"]
            entry = next(r for r in resources if r["name"] == spec["names"]["plural"])
            assert entry["kind"] == spec["names"]["kind"]
            assert entry["namespaced"] is (spec["scope"] == "Namespaced")
            assert entry.get("shortNames", []) == spec["names"].get("shortNames", [])
    # printers.go printValidatingAdmissionPolicy: NAME, VALIDATIONS (how many), PARAMKIND (<unset>), AGE.
    policies = kubectl("get", "validatingadmissionpolicies").stdout.splitlines()
    assert policies[0].split() == ["NAME", "VALIDATIONS", "PARAMKIND", "AGE"]
    policy = next(d for d in bundle if d["kind"] == "ValidatingAdmissionPolicy")
    assert policies[1].split()[:3] == [policy["metadata"]["name"], str(len(policy["spec"]["validations"])), "<unset>"]
    binding = next(d for d in bundle if d["kind"] == "ValidatingAdmissionPolicyBinding")
    bindings = kubectl("get", "validatingadmissionpolicybindings").stdout.splitlines()
    # printValidatingAdmissionPolicyBinding: NAME, POLICYNAME, PARAMREF (<unset>), AGE.
    assert bindings[0].split() == ["NAME", "POLICYNAME", "PARAMREF", "AGE"]
    assert bindings[1].split()[:3] == [binding["metadata"]["name"], binding["spec"]["policyName"], "<unset>"]


def test_a_custom_kinds_table_has_its_crds_printer_columns(
    kubectl: Kubectl,  # noqa: F811
    http: Http,
    bundle: list[dict[str, Any]],
) -> None:
    gateways = next(d for d in defined(bundle) if d["spec"]["names"]["kind"] == "Gateway")
    assert kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(gateways)).returncode == 0
    reply = http("GET", "/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways", headers={"Accept": TABLE})
    # apiextensions-apiserver's table: NAME, then the served version's additionalPrinterColumns in order.
    v1 = next(v for v in gateways["spec"]["versions"] if v["name"] == "v1")
    expected = ["Name", *(c["name"] for c in v1["additionalPrinterColumns"])]
    assert [c["name"] for c in reply.json()["columnDefinitions"]] == expected


def test_printer_columns_read_their_jsonpath(bundle: list[dict[str, Any]]) -> None:
    gateways = next(d for d in defined(bundle) if d["spec"]["names"]["kind"] == "Gateway")
    resource = crds.resource_of(gateways)
    assert resource is not None
    gateway = {
        "metadata": {"name": "cnn-egress-gateway", "creationTimestamp": "2020-01-01T00:00:00Z"},
        "spec": {"gatewayClassName": "istio"},
        "status": {
            "addresses": [{"value": "10.96.0.10"}, {"value": "10.96.0.11"}],
            "conditions": [{"type": "Accepted", "status": "True"}, {"type": "Programmed", "status": "False"}],
        },
    }
    cells = tables.table(resource, [gateway], "None", "1")["rows"][0]["cells"]
    # The Gateway CRD's columns: class, the first address only (tableconvertor prints the first JSONPath
    # result), the Programmed condition's status, and the age (a date column prints as an age).
    assert cells[:4] == ["cnn-egress-gateway", "istio", "10.96.0.10", "False"]
    assert cells[4].endswith("d")
    routes = next(d for d in defined(bundle) if d["spec"]["names"]["kind"] == "HTTPRoute")
    resource = crds.resource_of(routes)
    assert resource is not None
    route = {"metadata": {"name": "r"}, "spec": {"hostnames": ["edition.cnn.com"]}}
    # A list in a string column prints as JSON (k8s.io/client-go/util/jsonpath PrintResults).
    assert tables.table(resource, [route], "None", "1")["rows"][0]["cells"][1] == '["edition.cnn.com"]'
    route = {"metadata": {"name": "r"}, "spec": {}}
    # No result: a null cell (tableconvertor appends nil), which kubectl leaves blank.
    assert tables.table(resource, [route], "None", "1")["rows"][0]["cells"][1] is None


def test_a_crd_adds_its_kind_and_deleting_it_removes_the_kind_and_its_objects(
    kubectl: Kubectl,  # noqa: F811
    http: Http,
) -> None:
    applied = kubectl("apply", "-f", "-", stdin=yaml.safe_dump(WIDGETS))
    assert applied.returncode == 0 and "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created" in (
        applied.stdout
    )
    assert "widgets.example.com" in kubectl("api-resources", "-o", "name").stdout.split()
    # ... in the aggregated document kubectl reads (apidiscovery.k8s.io/v2) as in the legacy group list.
    aggregated = http("GET", "/apis", headers={"Accept": AGGREGATED}).json()
    example = next(g for g in aggregated["items"] if g["metadata"]["name"] == "example.com")
    assert [r["resource"] for r in example["versions"][0]["resources"]] == ["widgets"]
    assert "example.com" in {g["name"] for g in http("GET", "/apis").json()["groups"]}
    # The new kind's collection answers a list of its listKind (API conventions: <Kind>List).
    listing = http("GET", "/apis/example.com/v1/namespaces/default/widgets").json()
    assert (listing["kind"], listing["items"]) == ("WidgetList", [])
    # API conventions: NotFound names the resource as plural.group and the name.
    missing = http("DELETE", "/apis/example.com/v1/namespaces/default/widgets/w")
    assert (missing.status, missing.json()["message"]) == (404, 'widgets.example.com "w" not found')
    # What a Widget may hold is not something labkit can check: the write is refused by name, as a 422,
    # and never stored half-checked (the project's rule: right, or refused by name).
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    refused = http("POST", "/apis/example.com/v1/namespaces/default/widgets", widget)
    assert (refused.status, refused.json()["reason"]) == (422, "Invalid")
    assert "Widget" in refused.json()["message"]
    deleted = kubectl("delete", "crd", "widgets.example.com")
    assert deleted.returncode == 0, deleted.stderr
    assert "widgets.example.com" not in kubectl("api-resources", "-o", "name").stdout.split()
    aggregated = http("GET", "/apis", headers={"Accept": AGGREGATED}).json()
    assert "example.com" not in {g["metadata"]["name"] for g in aggregated["items"]}
    gone = kubectl("get", "widgets")
    # kubectl's message for a resource name discovery does not list.
    assert gone.returncode == 1 and 'the server doesn\'t have a resource type "widgets"' in gone.stderr


def test_annotations_over_256_kib_in_total_are_refused_for_any_kind(http: Http) -> None:
    big = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big", "namespace": "default"}}
    big["metadata"]["annotations"] = {"a": "x" * (ANNOTATIONS_LIMIT - 2), "b": "y"}  # keys count: one byte over
    reply = http("POST", "/api/v1/namespaces/default/configmaps", big)
    # apimachinery ValidateAnnotationsSize: field.TooLong on metadata.annotations (CauseType FieldValueTooLong).
    assert (reply.status, reply.json()["reason"]) == (422, "Invalid")
    cause = reply.json()["details"]["causes"][0]
    assert (cause["field"], cause["reason"]) == ("metadata.annotations", "FieldValueTooLong")
    big["metadata"]["annotations"] = {"a": "x" * (ANNOTATIONS_LIMIT - 3), "b": "y"}  # exactly at the limit
    assert http("POST", "/api/v1/namespaces/default/configmaps", big).status == 201


def test_a_crd_whose_name_is_not_plural_dot_group_is_invalid(http: Http) -> None:
    wrong = {**WIDGETS, "metadata": {"name": "gadgets.example.com"}}
    reply = http("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", wrong)
    # apiextensions validation: metadata.name must be spec.names.plural+"."+spec.group.
    assert (reply.status, reply.json()["reason"]) == (422, "Invalid")
    assert reply.json()["details"]["causes"][0]["field"] == "metadata.name"
    assert 'must be spec.names.plural+"."+spec.group' in reply.json()["message"]


def test_the_crds_served_from_the_start_match_the_bundle(bundle: list[dict[str, Any]]) -> None:
    # What a cluster with the bundle installed serves, kind by kind: versions, scope, names, printer columns.
    published = {d["metadata"]["name"]: d for d in defined(bundle) if d["spec"]["group"] == gatewayapi.GROUP}
    seeded = {d["metadata"]["name"]: d for d in gatewayapi.crds()}
    assert set(seeded) == set(published)
    for name, crd in seeded.items():
        ours, theirs = crds.resource_of(crd), crds.resource_of(published[name])
        assert ours is not None and theirs is not None
        assert (ours.versions, ours.namespaced, ours.short_names, ours.categories, ours.printer_columns) == (
            theirs.versions,
            theirs.namespaced,
            theirs.short_names,
            theirs.categories,
            theirs.printer_columns,
        ), name
        assert {v for v, _ in ours.deprecated} == {v for v, _ in theirs.deprecated}, name
        storage = [v["name"] for v in crd["spec"]["versions"] if v["storage"]]
        assert storage == [v["name"] for v in published[name]["spec"]["versions"] if v["storage"]], name
