"""Strategic merge patch and JSON patch."""

from __future__ import annotations

import pytest

from labkit.serve.patches import json_patch, strategic_merge
from labkit.serve.status import ApiError

POD_SPEC = {
    "containers": [{"name": "a", "image": "x", "env": [{"name": "A", "value": "1"}]}, {"name": "b", "image": "y"}]
}


def test_keyed_lists_merge_element_by_element() -> None:
    merged = strategic_merge(POD_SPEC, {"containers": [{"name": "a", "env": [{"name": "B", "value": "2"}]}]})
    assert [c["name"] for c in merged["containers"]] == ["a", "b"]
    assert merged["containers"][0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert merged["containers"][0]["image"] == "x"


def test_patch_directives_delete_replace_and_ordering_hints() -> None:
    patch = {
        "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
        "containers": [{"name": "b", "$patch": "delete"}],
    }
    assert [c["name"] for c in strategic_merge(POD_SPEC, patch)["containers"]] == ["a"]
    replaced = strategic_merge({"m": {"a": 1, "b": 2}}, {"m": {"$patch": "replace", "c": 3}})
    assert replaced == {"m": {"c": 3}}
    retained = strategic_merge({"a": 1, "b": 2, "c": 3}, {"$retainKeys": ["a", "c"], "c": 4})
    assert retained == {"a": 1, "c": 4}
    pruned = strategic_merge({"finalizers": ["x", "y"]}, {"$deleteFromPrimitiveList/finalizers": ["x"]})
    assert pruned == {"finalizers": ["y"]}


def test_null_deletes_and_unkeyed_lists_replace() -> None:
    assert strategic_merge({"a": 1, "args": [1, 2]}, {"a": None, "args": [3]}) == {"args": [3]}


def test_json_patch_operations() -> None:
    doc = {"spec": {"hosts": ["a"], "x": 1}}
    ops = [
        {"op": "add", "path": "/spec/hosts/-", "value": "b"},
        {"op": "replace", "path": "/spec/x", "value": 2},
        {"op": "copy", "from": "/spec/x", "path": "/spec/y"},
        {"op": "move", "from": "/spec/y", "path": "/spec/z"},
        {"op": "remove", "path": "/spec/hosts/0"},
        {"op": "test", "path": "/spec/z", "value": 2},
    ]
    assert json_patch(doc, ops) == {"spec": {"hosts": ["b"], "x": 2, "z": 2}}
    assert doc == {"spec": {"hosts": ["a"], "x": 1}}  # the input is left alone


def test_a_failed_json_patch_test_or_missing_path_is_invalid() -> None:
    with pytest.raises(ApiError) as failed:
        json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
    assert failed.value.code == 422
    with pytest.raises(ApiError) as missing:
        json_patch({"a": 1}, [{"op": "remove", "path": "/b"}])
    assert missing.value.code == 422
