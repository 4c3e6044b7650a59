"""Managed fields and server-side apply, as pure functions."""

from __future__ import annotations

import copy

from labkit.serve import fields

DEPLOY = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "sleep", "namespace": "default", "labels": {"app": "sleep"}, "uid": "u"},
    "spec": {"template": {"spec": {"containers": [{"name": "sleep", "image": "curl", "args": ["a", "b"]}]}}},
    "status": {"replicas": 1},
}


def test_field_sets_key_built_in_lists_by_their_merge_key_and_skip_identity_and_status() -> None:
    paths = fields.field_set(DEPLOY)
    element = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"sleep"}')
    assert (*element, ".") in paths
    assert (*element, "f:args") in paths  # a list of strings stays atomic
    assert ("f:metadata", "f:labels", "f:app") in paths
    assert not {p for p in paths if p[0] in ("f:status", "f:apiVersion", "f:kind")}
    assert ("f:metadata", "f:uid") not in paths and ("f:metadata", "f:name") not in paths


def test_custom_resources_keep_their_lists_atomic() -> None:
    entry = {"spec": {"ports": [{"number": 80, "name": "http"}]}}
    assert fields.field_set(entry, associative=False) == {("f:spec", "f:ports")}
    assert ("f:spec", "f:ports", 'k:{"port":80}', ".") in fields.field_set({"spec": {"ports": [{"port": 80}]}})


def test_fields_v1_round_trips() -> None:
    paths = fields.field_set(DEPLOY)
    tree = fields.to_fields_v1(paths)
    assert tree["f:metadata"] == {"f:labels": {"f:app": {}}}
    assert fields.from_fields_v1(tree) == paths


def test_conflicts_name_the_field_and_force_takes_it_over() -> None:
    live, conflicts = fields.server_side_apply(None, DEPLOY, "kubectl", force=False, api_version="apps/v1", now="t")
    assert conflicts == []
    changed = copy.deepcopy(DEPLOY)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox"
    kept, conflicts = fields.server_side_apply(live, changed, "labkit", force=False, api_version="apps/v1", now="t")
    assert conflicts == [("kubectl", '.spec.template.spec.containers[name="sleep"].image')]
    assert kept["spec"]["template"]["spec"]["containers"][0]["image"] == "curl"
    taken, _ = fields.server_side_apply(live, changed, "labkit", force=True, api_version="apps/v1", now="t")
    assert taken["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox"
    owners = {e["manager"]: fields.from_fields_v1(e["fieldsV1"]) for e in taken["metadata"]["managedFields"]}
    image = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"sleep"}', "f:image")
    assert image in owners["labkit"] and image not in owners["kubectl"]


def test_a_container_the_applier_drops_goes_but_one_another_manager_added_stays() -> None:
    two = copy.deepcopy(DEPLOY)
    two["spec"]["template"]["spec"]["containers"].append({"name": "helper", "image": "busybox"})
    applied, _ = fields.server_side_apply(None, two, "labkit", force=True, api_version="apps/v1", now="t")
    edited = copy.deepcopy(applied)
    edited["spec"]["template"]["spec"]["containers"].append({"name": "debug", "image": "busybox"})
    fields.record_update(applied, edited, "kubectl-edit", api_version="apps/v1", now="t")
    again, _ = fields.server_side_apply(edited, DEPLOY, "labkit", force=True, api_version="apps/v1", now="t")
    assert [c["name"] for c in again["spec"]["template"]["spec"]["containers"]] == ["sleep", "debug"]


def test_an_update_gives_its_manager_what_it_changed_and_frees_what_it_removed() -> None:
    old, _ = fields.server_side_apply(None, DEPLOY, "labkit", force=True, api_version="apps/v1", now="t")
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"app": "sleep", "team": "x"}
    fields.record_update(old, new, "kubectl-label", api_version="apps/v1", now="t")
    owners = {e["manager"]: fields.from_fields_v1(e["fieldsV1"]) for e in new["metadata"]["managedFields"]}
    assert owners["kubectl-label"] == {("f:metadata", "f:labels", "f:team")}
    assert ("f:metadata", "f:labels", "f:app") in owners["labkit"]


def test_dotted_paths_read_like_the_api_servers() -> None:
    assert fields.dotted(("f:spec", "f:containers", 'k:{"name":"a"}', "f:image")) == '.spec.containers[name="a"].image'
