"""Built-in Kubernetes kinds, checked with kubernetes-validate's strict schemas."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
import yaml

from labkit.schema import K8S_VERSION, core, problems
from labkit.schema._common import format_path

GOOD_TEXT = """
apiVersion: v1
kind: Namespace
metadata:
  name: lab
  labels: {istio-injection: enabled}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sleep, namespace: lab}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: sleep, namespace: lab, labels: {app.kubernetes.io/name: sleep}}
spec:
  replicas: 1
  selector: {matchLabels: {app: sleep}}
  template:
    metadata:
      labels: {app: sleep}
      annotations: {sidecar.istio.io/inject: "true"}
    spec:
      serviceAccountName: sleep
      containers:
      - name: sleep
        image: curlimages/curl:8.8.0
        command: [/bin/sleep, infinity]
        imagePullPolicy: IfNotPresent
        ports: [{containerPort: 80, name: http}]
        resources: {limits: {cpu: 100m, memory: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: probe, namespace: lab}
spec:
  containers: [{name: c, image: busybox, args: ["sleep", "3600"]}]
---
apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: lab}
spec:
  selector: {app: httpbin}
  ports:
  - {name: http, port: 8000, targetPort: 80}
  - {name: grpc, port: 9000, targetPort: grpc}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: strict}
---
apiVersion: v1
kind: Secret
metadata: {name: client-credential}
type: kubernetes.io/tls
stringData: {tls.crt: "x", tls.key: "y"}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-egress-to-gateway, namespace: lab}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: istio-system}}
    ports: [{protocol: TCP, port: 443}]
"""


def good(kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(d for d in yaml.safe_load_all(GOOD_TEXT) if d["kind"] == kind))


def found(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in problems(doc, 1)]


def test_pinned_version_is_bundled_by_kubernetes_validate() -> None:
    assert K8S_VERSION in kubernetes_validate.utils.all_versions()
    assert core.knows("apps/v1", "Deployment")
    assert not core.knows("apps/v1", "Gateway")
    assert not core.knows("networking.istio.io/v1", "NetworkPolicy")  # same file name, wrong group


@pytest.mark.parametrize(
    "kind",
    ["Namespace", "ServiceAccount", "Deployment", "Pod", "Service", "ConfigMap", "Secret", "NetworkPolicy"],
)
def test_good_core_documents_pass(kind: str) -> None:
    doc = good(kind)
    assert found(doc) == []
    assert core.first_error(doc) is None


@pytest.mark.parametrize(
    ("kind", "change", "path", "message"),
    [
        (
            "Deployment",
            lambda d: d["spec"]["template"]["spec"]["containers"][0].update(imagePullPolicyy="Always"),
            "spec.template.spec.containers[0].imagePullPolicyy",
            "unknown field",
        ),
        (
            "Deployment",
            lambda d: d["spec"].update(replicas="2"),
            "spec.replicas",
            "expected an integer, got the string '2'; remove the quotes",
        ),
        ("Pod", lambda d: d["metadata"].update(label={"a": "b"}), "metadata.label", "unknown field"),
        ("Pod", lambda d: d["spec"]["containers"][0].pop("name"), "spec.containers[0].name", "required field missing"),
        (
            "Service",
            lambda d: d["spec"]["ports"][0].update(targetPort={"a": 1}),
            "spec.ports[0].targetPort",
            "expected a string or an integer, got a mapping {'a': 1}",
        ),
        (
            "ConfigMap",
            lambda d: d["data"].update(replicas=3),
            "data.replicas",
            "expected a string, got the number 3; put it in quotes",
        ),
        (
            "NetworkPolicy",
            lambda d: d["spec"].update(policyTypes="Egress"),
            "spec.policyTypes",
            "expected a list, got the string 'Egress'",
        ),
        (
            "Namespace",
            lambda d: d["metadata"]["labels"].update({"istio-injection": True}),
            "metadata.labels.istio-injection",
            "expected a string, got the boolean true (YAML reads yes/no/true/false/on/off as booleans); "
            "put it in quotes",
        ),
    ],
)
def test_core_mistakes_are_named_at_their_path(kind: str, change: Any, path: str, message: str) -> None:
    doc = good(kind)
    change(doc)
    assert found(doc) == [(path, message)]
    # kubernetes-validate itself agrees the document is invalid, at (or just above) the same place
    error = core.first_error(doc)
    assert error is not None
    assert path.startswith(format_path(error.absolute_path))


def test_all_errors_are_listed_not_only_the_first() -> None:
    doc = good("Deployment")
    container = doc["spec"]["template"]["spec"]["containers"][0]
    container["imagePullPolicyy"] = "Always"
    container["ports"][0]["containerPort"] = "80"
    doc["spec"]["replicas"] = "1"
    assert sorted(path for path, _ in found(doc)) == [
        "spec.replicas",
        "spec.template.spec.containers[0].imagePullPolicyy",
        "spec.template.spec.containers[0].ports[0].containerPort",
    ]


@pytest.mark.parametrize(
    ("kind", "name", "fragment"),
    [
        ("Service", "1httpbin", "DNS-1035 label"),
        ("Namespace", "Lab_NS", "DNS label"),
        ("ConfigMap", "Settings", "DNS subdomain"),
    ],
)
def test_object_names_follow_kubernetes_rules(kind: str, name: str, fragment: str) -> None:
    doc = good(kind)
    doc["metadata"]["name"] = name
    [(path, message)] = found(doc)
    assert path == "metadata.name"
    assert fragment in message


def test_label_keys_and_values_are_checked() -> None:
    doc = good("Pod")
    doc["metadata"]["labels"] = {"app.kubernetes.io/name": "ok", "bad key": "v", "app": "has space"}
    assert [path for path, _ in found(doc)] == ['metadata.labels["bad key"]', "metadata.labels.app"]


def test_wrong_api_version_for_a_core_kind_suggests_the_right_one() -> None:
    doc = good("Deployment")
    doc["apiVersion"] = "v1"
    assert found(doc) == [("apiVersion", f"Kubernetes {K8S_VERSION} has no Deployment in v1; use apiVersion: apps/v1")]
