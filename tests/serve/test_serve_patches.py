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


# -- RFC 6902 edge cases (https://www.rfc-editor.org/rfc/rfc6902)


def _fails(code: int, doc: object, *ops: dict) -> str:
    with pytest.raises(ApiError) as failure:
        json_patch(doc, list(ops))
    assert failure.value.code == code
    return failure.value.message


def test_add_past_the_end_of_a_list_fails() -> None:
    # RFC 6902 4.1: "The specified index MUST NOT be greater than the number of elements in the array."
    message = _fails(422, {"a": [1]}, {"op": "add", "path": "/a/5", "value": 9})
    assert "/a/5" in message or "outside" in message
    # the one index past the end, and "-", append (same section)
    assert json_patch({"a": [1]}, [{"op": "add", "path": "/a/1", "value": 9}]) == {"a": [1, 9]}
    assert json_patch({"a": [1]}, [{"op": "add", "path": "/a/-", "value": 9}]) == {"a": [1, 9]}


def test_replace_with_a_negative_index_fails() -> None:
    # RFC 6901 4: an array index is "0" or digits without a leading zero; "-1" is not one.
    _fails(422, {"a": [1]}, {"op": "replace", "path": "/a/-1", "value": 9})
    # RFC 6902 4.3: the target location MUST exist for replace; "-" names the element after the last.
    _fails(400, {"a": [1]}, {"op": "replace", "path": "/a/-", "value": 9})


def test_an_index_with_a_leading_zero_is_not_an_index() -> None:
    # RFC 6901 4: "01" is not a valid array index.
    _fails(422, {"a": [1, 2]}, {"op": "replace", "path": "/a/01", "value": 9})


def test_malformed_operations_are_bad_requests() -> None:
    # RFC 6902 4: every operation has "op" and "path"; add and replace need "value"; op names are fixed.
    _fails(400, {"a": 1}, {"path": "/a"})
    _fails(400, {"a": 1}, {"op": "add", "path": "/b"})
    _fails(400, {"a": 1}, {"op": "frob", "path": "/a"})
    _fails(400, {"a": 1}, "not an operation")  # type: ignore[arg-type]
    with pytest.raises(ApiError) as failure:
        json_patch({"a": 1}, {"op": "remove", "path": "/a"})
    assert failure.value.code == 400


def test_a_value_cannot_move_into_its_own_child() -> None:
    # RFC 6902 4.4: "The "from" location MUST NOT be a proper prefix of the "path" location".
    _fails(422, {"a": {"b": 1}}, {"op": "move", "from": "/a", "path": "/a/b/c"})
