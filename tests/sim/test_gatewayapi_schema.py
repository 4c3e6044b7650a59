"""labkit's Gateway API models (labkit.schema.gatewayapi) against the Gateway API CRDs Istio tests with
(../shared/istio/gateway-api-crd.yaml, Gateway API v1.6): the same documents pass and fail both, and
every model field has the CRD's name and type."""

from __future__ import annotations

import copy
import typing
from pathlib import Path
from typing import Any

import crd_validator as crd
import pytest
from schema.conftest import require_or_skip
from schema.test_crd import _crd_fields, _model_fields, _unwrap, _walk
from schema.test_istio import edit
from test_gatewayapi import (
    CNN_HTTP_GATEWAY,
    CNN_TLS_GATEWAY,
    DIRECT_CNN,
    DIRECT_CNN_TLS,
    FORWARD_CNN,
    FORWARD_CNN_TLS,
    FORWARD_WIKIPEDIA,
    HTTPBIN_ROUTE,
    WIKIPEDIA_GATEWAY,
)
from test_gatewayapi_mtls import FORWARD_ROUTE, GATEWAY, REFERENCE_GRANT

from labkit.paths import gateway_api_crds
from labkit.schema import gatewayapi, problems

#: The istio.io manifests (see test_gatewayapi.py for where each comes from).
PAGE_DOCS = [
    CNN_HTTP_GATEWAY,
    CNN_TLS_GATEWAY,
    WIKIPEDIA_GATEWAY,
    HTTPBIN_ROUTE,
    DIRECT_CNN,
    FORWARD_CNN,
    DIRECT_CNN_TLS,
    FORWARD_CNN_TLS,
    FORWARD_WIKIPEDIA,
    *(
        {**copy.deepcopy(d), "metadata": {"namespace": "default", **d["metadata"]}}
        for d in (GATEWAY, FORWARD_ROUTE, REFERENCE_GRANT)
    ),
]


@pytest.fixture(scope="module")
def crd_file() -> Path:
    path = gateway_api_crds()
    require_or_skip(path is not None, "no Gateway API CRD file (../shared/istio/ or LABKIT_GATEWAY_API_CRDS)")
    assert path is not None
    return path


def crd_found(doc: dict[str, Any], crd_file: Path) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in crd.problems(doc, "document 1", crd_file)]


def spec_schema(crd_file: Path, kind: str, version: str) -> dict[str, Any]:
    schema = crd.load_crds(crd_file).openapi_schema(gatewayapi.GROUP, kind, version)
    assert schema is not None, f"{kind} {version} is not in the CRD file"
    return dict(schema["properties"]["spec"])


def _models() -> list[tuple[str, str, type]]:
    """(kind, version, model) for every served version."""
    return [
        (kind, api_version.rpartition("/")[2], gatewayapi.model_for(api_version, kind))
        for kind, versions in gatewayapi.API_VERSIONS.items()
        for api_version in versions
    ]


def _free_form(annotation: Any, path: str = "spec") -> set[str]:
    """Paths the model keeps as free-form mappings (the CRD alone describes what is inside)."""
    tp = _unwrap(annotation)
    origin = typing.get_origin(tp)
    out: set[str] = set()
    if origin is dict and typing.get_args(tp)[1] is Any:
        return {path}
    if isinstance(tp, type) and hasattr(tp, "model_fields"):
        for name, field in tp.model_fields.items():
            out |= _free_form(field.annotation, f"{path}.{field.alias or name}")
    elif origin is list:
        out |= _free_form(typing.get_args(tp)[0], f"{path}[]")
    return out


@pytest.mark.parametrize("doc", PAGE_DOCS, ids=lambda d: f"{d['kind']}-{d['metadata']['name']}")
def test_the_istio_io_manifests_pass_the_crd_and_the_models(crd_file: Path, doc: dict[str, Any]) -> None:
    assert crd_found(doc, crd_file) == []
    assert problems(doc, 1) == []
    if doc["kind"] in ("Gateway", "HTTPRoute"):  # the pages apply v1beta1 too: the same schema
        older = {**copy.deepcopy(doc), "apiVersion": f"{gatewayapi.GROUP}/v1beta1"}
        assert crd_found(older, crd_file) == [] and problems(older, 1) == []


@pytest.mark.parametrize(("kind", "version", "model"), _models())
def test_every_model_field_exists_in_the_crd_with_the_same_type(
    crd_file: Path, kind: str, version: str, model: type
) -> None:
    annotation = model.model_fields["spec"].annotation
    free = _free_form(annotation)
    disagreements: list[tuple[str, str]] = []
    _walk(annotation, spec_schema(crd_file, kind, version), "spec", disagreements)
    assert [d for d in disagreements if d[0] not in free] == []


@pytest.mark.parametrize(("kind", "version", "model"), _models())
def test_the_models_cover_every_crd_field(crd_file: Path, kind: str, version: str, model: type) -> None:
    annotation = model.model_fields["spec"].annotation
    free = _free_form(annotation)
    modelled = set(_model_fields(annotation, "spec"))
    missing = [
        f
        for f in _crd_fields(spec_schema(crd_file, kind, version), "spec")
        if f not in modelled and not any(f.startswith(p) for p in free)
    ]
    assert missing == []


PROBES = [
    (CNN_HTTP_GATEWAY, "spec.listeners[0].port", 0),
    (CNN_HTTP_GATEWAY, "spec.listeners[0].protocol", ...),
    (CNN_HTTP_GATEWAY, "spec.listeners[0].allowedRoutes.namespaces.from", "same"),
    (CNN_HTTP_GATEWAY, "spec.listeners[0].hostnme", "edition.cnn.com"),
    (CNN_TLS_GATEWAY, "spec.listeners[0].tls.mode", "passthrough"),
    (HTTPBIN_ROUTE, "spec.rules[0].timeouts.request", "3 seconds"),
    (HTTPBIN_ROUTE, "spec.rules[0].backendRefs[0].port", "80"),
    (HTTPBIN_ROUTE, "spec.parentRefs[0].name", ...),
    (FORWARD_CNN_TLS, "spec.rules[0].backendRefs", []),
]


@pytest.mark.parametrize(("doc", "where", "value"), PROBES, ids=[f"{d['kind']}-{w}" for d, w, _ in PROBES])
def test_models_and_crd_reject_the_same_field(crd_file: Path, doc: dict[str, Any], where: str, value: Any) -> None:
    bad = edit(doc, where, value)
    by_model = {p.path for p in problems(bad, 1)}
    by_crd = {path for path, _ in crd_found(bad, crd_file)}
    assert by_model, "the models accepted it"
    assert by_crd, "the CRD accepted it"
    assert by_model == by_crd


def test_a_version_the_crd_does_not_serve_is_refused() -> None:
    doc = {**copy.deepcopy(HTTPBIN_ROUTE), "apiVersion": f"{gatewayapi.GROUP}/v1alpha2"}
    [problem] = problems(doc, 1)
    assert problem.path == "apiVersion" and "gateway.networking.k8s.io/v1" in problem.message
