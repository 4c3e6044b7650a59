"""Object CRUD through the dynamic client: server-side apply, idempotent delete, lists, merge patches."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import UnprocessibleEntityError

from labkit.errors import LabkitError
from labkit.kube.apply import Objects, apply_order
from labkit.manifests import Ref


def se(name: str, namespace: str = "lab") -> dict:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": name, "namespace": namespace, "labels": {"labkit.io/lab": "t"}},
        "spec": {"hosts": [f"{name}.example.com"], "resolution": "DNS"},
    }


NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lab"}}
CM = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "cm", "namespace": "lab"},
    "data": {"a": "1"},
}


def test_apply_is_server_side_with_labkit_as_field_manager_namespaces_first(dynamic):
    docs = [se("httpbin"), CM, NS]
    stored = Objects(dynamic).apply(docs)

    assert [c[:4] for c in dynamic.calls] == [
        ("server_side_apply", "Namespace", "lab", None),  # first, and cluster-scoped: no namespace
        ("server_side_apply", "ServiceEntry", "httpbin", "lab"),
        ("server_side_apply", "ConfigMap", "cm", "lab"),
    ]
    for call in dynamic.calls:
        assert call[4] == {"field_manager": "labkit", "force_conflicts": True, "_request_timeout": 30}
    # The stored objects come back in the order they were given.
    assert [o["kind"] for o in stored] == ["ServiceEntry", "ConfigMap", "Namespace"]
    assert stored[0]["metadata"]["resourceVersion"]


def test_apply_order_keeps_everything_else_in_place():
    docs = [{"kind": "A"}, {"kind": "Namespace"}, {"kind": "B"}, {"kind": "Namespace"}]
    assert apply_order(docs) == [1, 3, 0, 2]


def test_apply_of_an_unknown_kind_points_at_istio_crds(dynamic):
    docs = [NS, {**se("x"), "apiVersion": "networking.istio.io/v1alpha9"}]
    with pytest.raises(LabkitError) as err:
        Objects(dynamic).apply(docs)
    text = str(err.value)
    assert "document 2 (ServiceEntry/x)" in text
    assert "networking.istio.io/v1alpha9" in text
    assert "istio.io" in err.value.hint and "Already applied: Namespace/lab" in err.value.hint


def test_apply_reports_the_servers_reason_for_a_rejection(dynamic):
    body = '{"kind":"Status","message":"ServiceEntry.networking.istio.io \\"bad\\" is invalid: spec.hosts: Required"}'
    dynamic.reject["bad"] = UnprocessibleEntityError(ApiException(status=422, reason="Unprocessable", body=body))
    with pytest.raises(LabkitError) as err:
        Objects(dynamic).apply([se("good"), se("bad"), se("never")])
    assert "spec.hosts: Required" in str(err.value)
    assert "Already applied: ServiceEntry/lab/good" in err.value.hint
    assert ("networking.istio.io/v1", "ServiceEntry", "lab", "never") not in dynamic.objects


def test_delete_returns_false_when_already_gone(dynamic):
    objects = Objects(dynamic)
    objects.apply([se("httpbin")])
    ref = Ref("networking.istio.io/v1", "ServiceEntry", "lab", "httpbin")
    assert objects.delete(ref) is True
    assert objects.delete(ref) is False  # 404: idempotent
    assert [c[0] for c in dynamic.calls].count("delete") == 2


def test_delete_of_a_kind_the_cluster_does_not_serve_is_false(dynamic):
    assert Objects(dynamic).delete(Ref("example.com/v1", "Widget", "lab", "w")) is False


def test_delete_raises_on_other_errors(dynamic):
    class Forbidding:
        namespaced = True

        def delete(self, **kwargs):
            raise ApiException(status=403, reason="Forbidden")

    objects = Objects(dynamic)
    objects.resource = lambda api_version, kind: Forbidding()
    with pytest.raises(LabkitError, match="403 Forbidden"):
        objects.delete(Ref("v1", "ConfigMap", "lab", "cm"))


def test_get_returns_the_object_or_none(dynamic):
    objects = Objects(dynamic)
    objects.apply([CM])
    assert objects.get(Ref("v1", "ConfigMap", "lab", "cm"))["data"] == {"a": "1"}
    assert objects.get(Ref("v1", "ConfigMap", "lab", "other")) is None


def test_list_passes_the_label_selector_and_completes_items(dynamic):
    objects = Objects(dynamic)
    objects.apply([se("a"), se("b", namespace="other")])
    items = objects.list_objects("networking.istio.io/v1", "ServiceEntry", "lab", "labkit.io/lab=t")
    assert [i["metadata"]["name"] for i in items] == ["a"]
    assert items[0]["apiVersion"] == "networking.istio.io/v1" and items[0]["kind"] == "ServiceEntry"
    assert dynamic.calls[-1][4]["label_selector"] == "labkit.io/lab=t"


def test_list_of_an_unknown_kind_is_empty(dynamic):
    assert Objects(dynamic).list_objects("example.com/v1", "Widget") == []


def test_patch_is_a_json_merge_patch(dynamic):
    objects = Objects(dynamic)
    objects.apply([CM])
    out = objects.patch(Ref("v1", "ConfigMap", "lab", "cm"), {"data": {"b": "2"}})
    assert out["data"] == {"a": "1", "b": "2"}
    verb, kind, name, namespace, kwargs = dynamic.calls[-1]
    assert (verb, kind, name, namespace) == ("patch", "ConfigMap", "cm", "lab")
    assert kwargs["content_type"] == "application/merge-patch+json"


def test_patch_of_a_missing_object_says_to_apply_it(dynamic):
    with pytest.raises(LabkitError) as err:
        Objects(dynamic).patch(Ref("v1", "ConfigMap", "lab", "nope"), {"data": {}})
    assert "Apply the object first" in err.value.hint


def test_the_dynamic_client_is_built_lazily(dynamic):
    built = []

    def factory():
        built.append(1)
        return dynamic

    objects = Objects(factory)
    assert built == []
    objects.get(Ref("v1", "ConfigMap", "lab", "cm"))
    objects.get(Ref("v1", "ConfigMap", "lab", "cm"))
    assert built == [1]
