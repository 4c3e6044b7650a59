"""Object CRUD over the wire: Status errors, selectors, resourceVersion, patches, server-side apply."""

from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from .conftest import SERVICE_ENTRY, sleep_manifests

SE_PATH = "/apis/networking.istio.io/v1/namespaces/default/serviceentries"
APPLY = "application/apply-patch+yaml"


def apply(http, path: str, doc: dict[str, Any], manager: str = "labkit", force: bool = False):
    query = f"?fieldManager={manager}" + ("&force=true" if force else "")
    return http("PATCH", path + query, doc, content_type=APPLY)


def test_create_get_delete_and_the_status_of_each_failure(http) -> None:
    created = http("POST", SE_PATH, SERVICE_ENTRY)
    assert created.status == 201
    assert created.json()["metadata"]["uid"] and created.json()["metadata"]["resourceVersion"]
    again = http("POST", SE_PATH, SERVICE_ENTRY).json()
    assert (again["code"], again["reason"]) == (409, "AlreadyExists")
    assert again["message"] == 'serviceentries.networking.istio.io "baidu" already exists'
    assert http("GET", f"{SE_PATH}/baidu").json()["spec"]["hosts"] == ["www.baidu.com"]
    assert http("DELETE", f"{SE_PATH}/baidu").status == 200
    gone = http("GET", f"{SE_PATH}/baidu").json()
    assert (gone["code"], gone["reason"], gone["details"]) == (
        404,
        "NotFound",
        {"name": "baidu", "group": "networking.istio.io", "kind": "serviceentries"},
    )


def test_an_object_in_a_missing_namespace_is_refused_with_the_namespace_not_found(http) -> None:
    doc = copy.deepcopy(SERVICE_ENTRY)
    doc["metadata"]["namespace"] = "nowhere"
    reply = http("POST", "/apis/networking.istio.io/v1/namespaces/nowhere/serviceentries", doc).json()
    assert (reply["code"], reply["message"]) == (404, 'namespaces "nowhere" not found')


def test_invalid_objects_are_rejected_with_field_causes_from_the_strict_checks(http) -> None:
    doc = copy.deepcopy(SERVICE_ENTRY)
    del doc["spec"]["hosts"]
    doc["spec"]["resolution"] = "SOMETIMES"
    reply = http("POST", SE_PATH, doc).json()
    assert (reply["code"], reply["reason"]) == (422, "Invalid")
    assert reply["message"].startswith('ServiceEntry.networking.istio.io "baidu" is invalid: [')
    causes = {c["field"]: c for c in reply["details"]["causes"]}
    assert causes["spec.hosts"]["reason"] == "FieldValueRequired"
    assert causes["spec.resolution"]["reason"] == "FieldValueInvalid"
    assert http("GET", f"{SE_PATH}/baidu").status == 404  # nothing was stored


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=sleep", ["sleep"]),
        ("app==sleep", ["sleep"]),
        ("app!=sleep", ["other"]),
        ("app in (sleep,other)", ["other", "sleep"]),
        ("app notin (sleep)", ["other"]),
        ("tier", ["other"]),
        ("!tier", ["sleep"]),
        ("app=sleep,tier", []),
    ],
)
def test_label_selectors_equality_and_set_based(api: k8s.ApiClient, selector: str, expected: list[str]) -> None:
    core = k8s.CoreV1Api(api)
    for name, labels in (("sleep", {"app": "sleep"}), ("other", {"app": "other", "tier": "x"})):
        core.create_namespaced_config_map("default", {"metadata": {"name": name, "labels": labels}})
    found = core.list_namespaced_config_map("default", label_selector=selector).items
    assert sorted(cm.metadata.name for cm in found) == expected


def test_a_malformed_selector_is_a_bad_request(http) -> None:
    reply = http("GET", "/api/v1/namespaces/default/pods?labelSelector=app%20in%20sleep").json()
    assert (reply["code"], reply["reason"]) == (400, "BadRequest")


def test_field_selector_on_metadata_name(api: k8s.ApiClient) -> None:
    names = [ns.metadata.name for ns in k8s.CoreV1Api(api).list_namespace(field_selector="metadata.name=default").items]
    assert names == ["default"]


def test_update_needs_the_current_resource_version(api: k8s.ApiClient) -> None:
    core = k8s.CoreV1Api(api)
    cm = core.create_namespaced_config_map("default", {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    stale = cm.metadata.resource_version
    cm.data = {"a": "2"}
    updated = core.replace_namespaced_config_map("cfg", "default", cm)
    assert int(updated.metadata.resource_version) > int(stale)
    cm.metadata.resource_version = stale
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("cfg", "default", cm)
    body = json.loads(conflict.value.body)
    assert (conflict.value.status, body["reason"]) == (409, "Conflict")
    assert "the object has been modified" in body["message"]
    cm.metadata.resource_version = None
    with pytest.raises(ApiException) as missing:
        core.replace_namespaced_config_map("cfg", "default", cm)
    assert missing.value.status == 422
    assert core.read_namespaced_config_map("cfg", "default").data == {"a": "2"}


def test_merge_patch_null_deletes_and_strategic_merge_keeps_other_list_elements(http) -> None:
    for doc in sleep_manifests():
        apply(http, _path(doc), doc)
    deploy = "/apis/apps/v1/namespaces/default/deployments/sleep"
    extra = {"spec": {"template": {"spec": {"containers": [{"name": "helper", "image": "busybox"}]}}}}
    patched = http("PATCH", deploy, extra, content_type="application/strategic-merge-patch+json").json()
    assert [c["name"] for c in patched["spec"]["template"]["spec"]["containers"]] == ["sleep", "helper"]
    merged = http("PATCH", deploy, extra, content_type="application/merge-patch+json").json()
    assert [c["name"] for c in merged["spec"]["template"]["spec"]["containers"]] == ["helper"]  # lists replace
    unlabel = http(
        "PATCH", deploy, {"metadata": {"labels": {"app": None}}}, content_type="application/merge-patch+json"
    )
    assert "app" not in unlabel.json()["metadata"]["labels"]


def test_strategic_merge_is_refused_for_istio_kinds_and_json_patch_works(http) -> None:
    http("POST", SE_PATH, SERVICE_ENTRY)
    smp = http("PATCH", f"{SE_PATH}/baidu", {"spec": {}}, content_type="application/strategic-merge-patch+json")
    assert (smp.status, smp.json()["reason"]) == (415, "UnsupportedMediaType")
    ops = [{"op": "add", "path": "/spec/hosts/-", "value": "baidu.com"}]
    patched = http("PATCH", f"{SE_PATH}/baidu", ops, content_type="application/json-patch+json").json()
    assert patched["spec"]["hosts"] == ["www.baidu.com", "baidu.com"]


def test_server_side_apply_owns_its_fields_and_drops_the_ones_it_no_longer_sets(http) -> None:
    doc = copy.deepcopy(SERVICE_ENTRY)
    doc["metadata"]["labels"] = {"a": "1", "b": "2"}
    first = apply(http, f"{SE_PATH}/baidu", doc)
    assert first.status == 201
    entry = first.json()["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"]) == ("labkit", "Apply")
    assert entry["fieldsV1"]["f:metadata"]["f:labels"] == {"f:a": {}, "f:b": {}}
    del doc["metadata"]["labels"]["b"]
    second = apply(http, f"{SE_PATH}/baidu", doc)
    assert second.status == 200
    assert second.json()["metadata"]["labels"] == {"a": "1"}


def test_apply_conflicts_with_another_manager_unless_forced(http) -> None:
    apply(http, f"{SE_PATH}/baidu", SERVICE_ENTRY, manager="kubectl")
    doc = copy.deepcopy(SERVICE_ENTRY)
    doc["spec"]["resolution"] = "NONE"
    refused = apply(http, f"{SE_PATH}/baidu", doc).json()
    assert (refused["code"], refused["reason"]) == (409, "Conflict")
    assert refused["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "kubectl"', "field": ".spec.resolution"}
    ]
    forced = apply(http, f"{SE_PATH}/baidu", doc, force=True).json()
    assert forced["spec"]["resolution"] == "NONE"
    owners = {e["manager"]: e["fieldsV1"]["f:spec"] for e in forced["metadata"]["managedFields"]}
    assert "f:resolution" not in owners["kubectl"] and "f:resolution" in owners["labkit"]


def test_a_field_two_appliers_share_survives_when_one_drops_it(http) -> None:
    apply(http, f"{SE_PATH}/baidu", SERVICE_ENTRY, manager="one")
    apply(http, f"{SE_PATH}/baidu", SERVICE_ENTRY, manager="two")  # same values: shared, no conflict
    slim = copy.deepcopy(SERVICE_ENTRY)
    del slim["spec"]["location"]
    result = apply(http, f"{SE_PATH}/baidu", slim, manager="one").json()
    assert result["spec"]["location"] == "MESH_EXTERNAL"


def test_apply_needs_a_field_manager(http) -> None:
    reply = http("PATCH", f"{SE_PATH}/baidu", SERVICE_ENTRY, content_type=APPLY)
    assert reply.status == 400


def test_deployments_get_pods_at_once_with_a_sidecar_where_injection_applies(http, api: k8s.ApiClient) -> None:
    http("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "plain"}})
    for namespace in ("default", "plain"):
        for doc in sleep_manifests(namespace=namespace):
            assert apply(http, _path(doc), doc).status == 201
    core = k8s.CoreV1Api(api)
    injected = core.list_namespaced_pod("default", label_selector="app=sleep").items
    plain = core.list_namespaced_pod("plain", label_selector="app=sleep").items
    assert [c.name for c in injected[0].spec.containers] == ["sleep", "istio-proxy"]
    assert [c.name for c in plain[0].spec.containers] == ["sleep"]
    # Typed models need what the kubelet reports: restart counts, image IDs, owners with uids.
    status = injected[0].status.container_statuses
    assert all(s.restart_count == 0 and s.image_id and s.ready for s in status)
    deploy = k8s.AppsV1Api(api).read_namespaced_deployment("sleep", "default")
    assert injected[0].metadata.owner_references[0].uid == deploy.metadata.uid


def test_a_template_change_bumps_the_generation_and_rolls_the_pods(http, api: k8s.ApiClient) -> None:
    for doc in sleep_manifests():
        apply(http, _path(doc), doc)
    apps, core = k8s.AppsV1Api(api), k8s.CoreV1Api(api)
    before = core.list_namespaced_pod("default", label_selector="app=sleep").items[0].metadata.name
    stamp = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "now"}}}}}
    apps.patch_namespaced_deployment("sleep", "default", stamp)
    deploy = apps.read_namespaced_deployment("sleep", "default")
    assert deploy.metadata.generation == 2 and deploy.status.observed_generation == 2
    after = core.list_namespaced_pod("default", label_selector="app=sleep").items
    assert [p.metadata.name for p in after] != [before] and len(after) == 1
    apps.patch_namespaced_deployment("sleep", "default", {"metadata": {"labels": {"x": "y"}}})
    assert apps.read_namespaced_deployment("sleep", "default").metadata.generation == 2  # metadata only


def test_deleting_a_namespace_removes_what_is_in_it(http, api: k8s.ApiClient) -> None:
    http("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scratch"}})
    for doc in sleep_manifests(namespace="scratch"):
        apply(http, _path(doc), doc)
    core = k8s.CoreV1Api(api)
    assert core.list_namespaced_pod("scratch").items
    core.delete_namespace("scratch")
    assert core.list_namespaced_pod("scratch").items == []
    assert "scratch" not in [ns.metadata.name for ns in core.list_namespace().items]


def test_namespaces_get_their_name_label_and_an_active_phase(api: k8s.ApiClient) -> None:
    core = k8s.CoreV1Api(api)
    created = core.create_namespace({"metadata": {"name": "lab"}})
    assert created.metadata.labels == {"kubernetes.io/metadata.name": "lab"}
    assert created.status.phase == "Active"


def test_dry_run_validates_without_storing(http) -> None:
    reply = http("POST", SE_PATH + "?dryRun=All", SERVICE_ENTRY)
    assert reply.status == 201 and reply.json()["spec"]["hosts"] == ["www.baidu.com"]
    assert http("GET", f"{SE_PATH}/baidu").status == 404


def test_lists_leave_kind_off_built_in_items_but_not_off_custom_resources(http) -> None:
    http("POST", SE_PATH, SERVICE_ENTRY)
    pods = http("GET", "/api/v1/namespaces/istio-system/pods").json()
    entries = http("GET", SE_PATH).json()
    assert pods["kind"] == "PodList" and "kind" not in pods["items"][0]
    assert entries["kind"] == "ServiceEntryList" and entries["items"][0]["kind"] == "ServiceEntry"
    assert int(pods["metadata"]["resourceVersion"]) >= int(entries["items"][0]["metadata"]["resourceVersion"])


def test_an_istio_object_reads_back_at_the_version_asked_for(http) -> None:
    http("POST", SE_PATH, SERVICE_ENTRY)
    old = http("GET", "/apis/networking.istio.io/v1beta1/namespaces/default/serviceentries/baidu").json()
    assert old["apiVersion"] == "networking.istio.io/v1beta1"
    assert old["spec"] == SERVICE_ENTRY["spec"]


def _after_a_watch_begins(server, change) -> threading.Thread:
    """Run ``change`` once the server has seen a watch request (bounded wait)."""

    def later() -> None:
        for _ in range(100):
            if any("watch=" in r.path for r in server.requests):
                break
            time.sleep(0.05)
        time.sleep(0.1)
        change()

    thread = threading.Thread(target=later)
    thread.start()
    return thread


def test_watch_reports_an_addition_and_an_immediate_deletion(server, api: k8s.ApiClient) -> None:
    entries = DynamicClient(api).resources.get(api_version="networking.istio.io/v1", kind="ServiceEntry")

    def change() -> None:
        entries.create(body=SERVICE_ENTRY, namespace="default")
        entries.delete(name="baidu", namespace="default")

    events: list[tuple[str, str]] = []
    changer = _after_a_watch_begins(server, change)
    for event in entries.watch(namespace="default", timeout=5):
        events.append((event["type"], event["object"].metadata.name))
        if event["type"] == "DELETED":
            break
    changer.join(10)
    assert events == [("ADDED", "baidu"), ("DELETED", "baidu")]


def test_a_pod_watch_sees_the_pods_a_deployment_write_makes(server, http, api: k8s.ApiClient) -> None:
    pods = DynamicClient(api).resources.get(api_version="v1", kind="Pod")

    def change() -> None:
        for doc in sleep_manifests():
            apply(http, _path(doc), doc)

    changer = _after_a_watch_begins(server, change)
    seen = []
    for event in pods.watch(namespace="default", label_selector="app=sleep", timeout=5):
        seen.append((event["type"], [c.name for c in event["object"].spec.containers]))
        break
    changer.join(10)
    assert seen == [("ADDED", ["sleep", "istio-proxy"])]


def test_kubectl_style_get_receives_a_table(http) -> None:
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    table = http("GET", "/api/v1/namespaces/istio-system/pods", headers={"Accept": accept}).json()
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]][:4] == ["Name", "Ready", "Status", "Restarts"]
    row = next(r for r in table["rows"] if r["cells"][0].startswith("istio-egressgateway"))
    assert row["cells"][1:3] == ["1/1", "Running"]
    assert row["object"]["kind"] == "PartialObjectMetadata"


def test_a_wrong_token_and_no_token_are_both_refused(http) -> None:
    # https://kubernetes.io/docs/reference/access-authn-authz/authentication/ : a request that no
    # authenticator accepts (and anonymous access is off) is answered 401 Unauthorized.
    wrong = http("GET", "/api/v1/namespaces", headers={"Authorization": "Bearer guessed"})
    assert (wrong.status, wrong.json()["reason"]) == (401, "Unauthorized")
    missing = http("GET", "/api/v1/namespaces", token=False)
    assert (missing.status, missing.json()["reason"]) == (401, "Unauthorized")


def test_the_server_listens_on_loopback_only(server) -> None:
    assert server.url.startswith("https://127.0.0.1:")
    assert server._httpd.server_address[0] == "127.0.0.1"


def _path(doc: dict[str, Any]) -> str:
    """The item URL of a document, for the kinds sleep.yaml holds."""
    plural = {"ServiceAccount": "serviceaccounts", "Service": "services", "Deployment": "deployments"}[doc["kind"]]
    prefix = "/apis/apps/v1" if doc["apiVersion"] == "apps/v1" else "/api/v1"
    return f"{prefix}/namespaces/{doc['metadata']['namespace']}/{plural}/{doc['metadata']['name']}"
