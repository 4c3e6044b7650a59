"""validate(): every document is checked, and one ManifestError lists every problem."""

from __future__ import annotations

import pytest

from labkit.errors import ManifestError, Problem
from labkit.manifests import load
from labkit.schema import ISTIO_KINDS, problems, validate

from .conftest import require_or_skip

MANIFEST = """
apiVersion: v1
kind: Namespace
metadata: {name: lab}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: nginx}
spec:
  hosts: [nginx.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
  location: MESH_EXTERNAL
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: direct-nginx
spec:
  hosts: [nginx.example.com]
  tls:
  - match:
    - port: 443
      sniHosts:
       - nginx.example.comm:
    route:
    - destination: {host: nginx.example.com, port: {number: 443}}
"""


def test_valid_documents_pass() -> None:
    docs = load(MANIFEST.replace("nginx.example.comm:", "nginx.example.com"))
    assert len(docs) == 3
    assert validate(docs) is None
    assert validate([]) is None


def test_the_sni_hosts_typo_is_reported_as_the_lab_sees_it() -> None:
    with pytest.raises(ManifestError) as caught:
        validate(load(MANIFEST), "direct-nginx.yaml")
    error = caught.value
    assert [str(p).split(": ", 1)[0] for p in error.problems] == [
        "document 3 (VirtualService/direct-nginx) at spec.tls[0].match[0].sniHosts[0]"
    ]
    assert "invalid manifest direct-nginx.yaml:" in str(error)
    assert "nothing was changed" in str(error)


def test_problems_from_every_document_are_collected() -> None:
    docs = load(MANIFEST)
    docs[0]["metadata"]["nmae"] = "typo"
    docs[1]["spec"]["resolution"] = "dns"
    with pytest.raises(ManifestError) as caught:
        validate(docs)
    assert [(p.document, p.path) for p in caught.value.problems] == [
        ("document 1 (Namespace/lab)", "metadata.nmae"),
        ("document 2 (ServiceEntry/nginx)", "spec.resolution"),
        ("document 3 (VirtualService/direct-nginx)", "spec.tls[0].match[0].sniHosts[0]"),
    ]


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"kind": "ConfigMap", "metadata": {"name": "a"}}, [("apiVersion", "required field missing")]),
        ({"apiVersion": "v1", "metadata": {"name": "a"}}, [("kind", "required field missing")]),
        ({"apiVersion": "v1", "kind": "ConfigMap"}, [("metadata", "required field missing")]),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, [("metadata.name", "required field missing")]),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": "settings"},
            [("metadata", "expected a mapping, got the string 'settings'")],
        ),
        (
            {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar", "metadata": ["x"]},
            [("metadata", "expected a mapping, got a list ['x']")],
        ),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": 7}},
            [("metadata.name", "expected a string, got the number 7; put it in quotes")],
        ),
        (
            {"apiVersion": 1, "kind": "ConfigMap", "metadata": {"name": "a"}},
            [("apiVersion", "expected a string, got the number 1; put it in quotes")],
        ),
        ({"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "gw"}, "spec": {}}, []),
    ],
)
def test_document_basics(doc: dict, expected: list[tuple[str, str]]) -> None:
    assert [(p.path, p.message) for p in problems(doc, 4)] == expected


def test_a_document_that_is_not_a_mapping() -> None:
    assert problems(["a"], 2) == [Problem("document 2", "", "is not a mapping (got list)")]  # type: ignore[arg-type]


def test_missing_name_on_an_istio_kind_is_reported_once() -> None:
    doc = {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar", "metadata": {"namespace": "lab"}}
    assert problems(doc, 1) == [Problem("document 1 (Sidecar/?)", "metadata.name", "required field missing")]


@pytest.mark.parametrize(
    ("api_version", "kind", "path", "fragment"),
    [
        ("networking.istio.io/v1", "VirtualServce", "kind", "did you mean VirtualService?"),
        ("networking.istio.io/v1", "serviceentry", "kind", "did you mean ServiceEntry?"),
        ("networking.istio.io/v1", "Frobnicator", "kind", "labkit validates ServiceEntry"),
        (
            "networking.istio.io/v1alpha3",
            "EnvoyFilter",
            "kind",
            "labkit can't validate networking.istio.io EnvoyFilter",
        ),
        (
            "security.istio.io/v1",
            "AuthorizationPolicy",
            "",
            "labkit can't validate security.istio.io/v1 AuthorizationPolicy",
        ),
        ("cert-manager.io/v1", "Certificate", "", "labkit can't validate cert-manager.io/v1 Certificate"),
        ("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition", "", "not a Kubernetes"),
        ("networking.k8s.io/v1", "VirtualService", "apiVersion", "use apiVersion: networking.istio.io/v1"),
    ],
)
def test_kinds_labkit_cannot_check_are_refused(api_version: str, kind: str, path: str, fragment: str) -> None:
    [problem] = problems({"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}, 1)
    assert problem.path == path
    assert fragment in problem.message


def test_every_istio_kind_is_listed() -> None:
    assert ISTIO_KINDS == ("ServiceEntry", "VirtualService", "DestinationRule", "Gateway", "Sidecar")


def test_labels_with_dots_are_quoted_in_paths() -> None:
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "labels": {"app.kubernetes.io/name": 1}}}
    [problem] = problems(doc, 1)
    assert problem.path == 'metadata.labels["app.kubernetes.io/name"]'


def test_require_or_skip_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    require_or_skip(True, "present")  # a met condition does nothing
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="reference missing"):
        require_or_skip(False, "reference missing")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="reference missing"):
        require_or_skip(False, "reference missing")
