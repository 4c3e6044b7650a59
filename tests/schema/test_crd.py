"""The CRD validator, and the models checked field by field against the published Istio CRDs."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import crd_validator as crd
import pytest
from pydantic import BaseModel

from labkit.schema import istio, problems

from .test_istio import GOOD, edit, se, vs

VERSIONS = ("v1", "v1beta1", "v1alpha3")
KINDS = sorted(istio.MODELS)


def crd_found(doc: dict[str, Any], crd_file: Path) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in crd.problems(doc, "document 1", crd_file)]


def spec_schema(crd_file: Path, kind: str, version: str = "v1") -> dict[str, Any]:
    schema = crd.load_crds(crd_file).openapi_schema(istio.GROUP, kind, version)
    assert schema is not None, f"{kind} {version} is not in the CRD file"
    return schema["properties"]["spec"]


# --------------------------------------------------------------------------- the validator itself


def test_crds_are_loaded_once(crd_file: Path) -> None:
    first = crd.load_crds(crd_file)
    assert crd.load_crds(str(crd_file)) is first
    assert set(KINDS) <= set(first.kinds(istio.GROUP))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_good_service_entry_passes(crd_file: Path, version: str) -> None:
    doc = se()
    doc["apiVersion"] = f"{istio.GROUP}/{version}"
    assert crd_found(doc, crd_file) == []


@pytest.mark.parametrize("kind", KINDS)
def test_every_good_example_passes(crd_file: Path, kind: str) -> None:
    assert crd_found(GOOD[kind](), crd_file) == []


@pytest.mark.parametrize(
    ("kind", "where", "value", "path", "message"),
    [
        ("ServiceEntry", "spec.ports[0].protocl", "TLS", "spec.ports[0].protocl", "unknown field"),
        (
            "ServiceEntry",
            "spec.resolution",
            "dns",
            "spec.resolution",
            "must be one of NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS; got 'dns'",
        ),
        ("ServiceEntry", "spec.hosts", ..., "spec.hosts", "required field missing"),
        ("ServiceEntry", "metadata.name", ..., "metadata.name", "required field missing"),
        ("ServiceEntry", "metadata.labelz", {}, "metadata.labelz", "unknown field"),
        (
            "ServiceEntry",
            "spec.ports[0].number",
            "443",
            "spec.ports[0].number",
            "expected an integer, got the string '443'; remove the quotes",
        ),
        ("ServiceEntry", "spec.ports[0].number", 0, "spec.ports[0].number", "port must be between 1-65535"),
        ("ServiceEntry", "spec.ports[1].name", "tls", "spec.ports", "duplicate entry with name='tls'"),
        ("ServiceEntry", "spec.hosts[0]", "*", "spec.hosts[0]", "hostname cannot be wildcard"),
        (
            "VirtualService",
            "spec.http[0].timeout",
            "0s",
            "spec.http[0].timeout",
            "must be a valid duration greater than 1ms",
        ),
        (
            "VirtualService",
            "spec.http[0].match[0].uri",
            {"exact": "/a", "regex": "/"},
            "spec.http[0].match[0].uri",
            "set only one of exact, prefix, regex (found exact, regex)",
        ),
        (
            "DestinationRule",
            "spec.subsets[0].trafficPolicy.tls.mode",
            "mutual",
            "spec.subsets[0].trafficPolicy.tls.mode",
            "must be one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL; got 'mutual'",
        ),
        (
            "Gateway",
            "spec.servers[0].tls.mode",
            "PASS_THROUGH",
            "spec.servers[0].tls.mode",
            "must be one of PASSTHROUGH, SIMPLE, MUTUAL, AUTO_PASSTHROUGH, ISTIO_MUTUAL, OPTIONAL_MUTUAL; "
            "got 'PASS_THROUGH'",
        ),
        (
            "Sidecar",
            "spec.outboundTrafficPolicy.mode",
            "REGISTRY-ONLY",
            "spec.outboundTrafficPolicy.mode",
            "must be one of REGISTRY_ONLY, ALLOW_ANY; got 'REGISTRY-ONLY'",
        ),
    ],
)
def test_the_crd_rejects(crd_file: Path, kind: str, where: str, value: Any, path: str, message: str) -> None:
    assert crd_found(edit(GOOD[kind](), where, value), crd_file) == [(path, message)]


def test_the_sni_hosts_typo_fails_both_ways_at_the_same_path(crd_file: Path) -> None:
    doc = edit(vs(), "spec.tls[0].match[0].sniHosts[0]", {"nginx.example.comm": None})
    [(path, message)] = crd_found(doc, crd_file)
    assert path == "spec.tls[0].match[0].sniHosts[0]"
    assert message.startswith("expected a string, got a mapping")
    assert [p.path for p in problems(doc, 1)] == [path]


def test_null_fields_are_pruned_like_the_api_server_does(crd_file: Path) -> None:
    doc = se()
    doc["spec"]["endpoints"] = None
    doc["metadata"]["labels"] = None
    assert crd_found(doc, crd_file) == []


def test_unknown_kind_and_unserved_version(crd_file: Path) -> None:
    doc = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualServce", "metadata": {"name": "a"}}
    [(path, message)] = crd_found(doc, crd_file)
    assert path == "kind" and "no CRD for VirtualServce" in message
    doc = {"apiVersion": "networking.istio.io/v2", "kind": "VirtualService", "metadata": {"name": "a"}}
    [(path, message)] = crd_found(doc, crd_file)
    assert path == "apiVersion" and "networking.istio.io/v1" in message
    assert crd.knows(crd_file, "networking.istio.io/v1beta1", "Sidecar")
    assert not crd.knows(crd_file, "networking.istio.io/v2", "Sidecar")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("version", VERSIONS)
def test_every_cel_rule_of_these_kinds_is_evaluated(crd_file: Path, kind: str, version: str) -> None:
    assert crd.unknown_rules(crd_file, istio.GROUP, kind, version) == []


@pytest.mark.parametrize("kind", KINDS)
def test_the_schema_is_the_same_in_every_served_version(crd_file: Path, kind: str) -> None:
    # The models accept all three apiVersions, which is right only while their schemas are identical.
    assert spec_schema(crd_file, kind, "v1beta1") == spec_schema(crd_file, kind, "v1")
    assert spec_schema(crd_file, kind, "v1alpha3") == spec_schema(crd_file, kind, "v1")


# --------------------------------------------------------------------------- models vs. the CRD, field by field

_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated[...]`` and ``X | None`` down to the type that carries the shape."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            assert len(args) == 1, f"unexpected union {annotation}"
            annotation = args[0]
        else:
            return annotation


def _walk(annotation: Any, schema: dict[str, Any], path: str, out: list[tuple[str, str]]) -> None:
    """Record (path, what is wrong) wherever the model's shape disagrees with the CRD schema."""
    tp = _unwrap(annotation)
    origin = typing.get_origin(tp)
    declared = schema.get("type")
    if tp is Any:
        return
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if declared != "object" or "properties" not in schema:
            out.append((path, f"model but CRD says {declared}"))
            return
        for name, field in tp.model_fields.items():
            key = field.alias or name
            child = schema["properties"].get(key)
            if child is None:
                out.append((f"{path}.{key}", "not in the CRD"))
                continue
            _walk(field.annotation, child, f"{path}.{key}", out)
        required_by_crd = set(schema.get("required") or [])
        required_by_model = {(f.alias or n) for n, f in tp.model_fields.items() if f.is_required()}
        for key in sorted(required_by_crd - required_by_model):
            out.append((f"{path}.{key}", "required by the CRD but optional in the model"))
    elif origin is list:
        if declared != "array":
            out.append((path, f"list but CRD says {declared}"))
            return
        _walk(typing.get_args(tp)[0], schema.get("items") or {}, f"{path}[]", out)
    elif origin is dict:
        values = schema.get("additionalProperties")
        if declared != "object" or not isinstance(values, dict):
            out.append((path, f"map but CRD says {declared}"))
            return
        _walk(typing.get_args(tp)[1], values, f"{path}{{}}", out)
    elif origin is Literal:
        if declared != "string" or "enum" not in schema:
            out.append((path, f"enum but CRD says {declared} without enum"))
            return
        for value in typing.get_args(tp):
            if value not in schema["enum"]:
                out.append((path, f"{value!r} is not in the CRD enum"))
        for value in schema["enum"]:
            if value not in typing.get_args(tp):
                out.append((path, f"CRD enum value {value!r} is missing from the model"))
    elif tp in _SCALARS:
        if declared != _SCALARS[tp]:
            out.append((path, f"{_SCALARS[tp]} but CRD says {declared}"))
    else:
        out.append((path, f"unhandled annotation {tp!r}"))


def _crd_fields(schema: dict[str, Any], path: str) -> list[str]:
    out = [path]
    for name, child in (schema.get("properties") or {}).items():
        out.extend(_crd_fields(child, f"{path}.{name}"))
    if isinstance(schema.get("items"), dict):
        out.extend(_crd_fields(schema["items"], f"{path}[]"))
    if isinstance(schema.get("additionalProperties"), dict):
        out.extend(_crd_fields(schema["additionalProperties"], f"{path}{{}}"))
    return out


def _model_fields(annotation: Any, path: str) -> list[str]:
    tp = _unwrap(annotation)
    origin = typing.get_origin(tp)
    out = [path]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, field in tp.model_fields.items():
            out.extend(_model_fields(field.annotation, f"{path}.{field.alias or name}"))
    elif origin is list:
        out.extend(_model_fields(typing.get_args(tp)[0], f"{path}[]"))
    elif origin is dict:
        out.extend(_model_fields(typing.get_args(tp)[1], f"{path}{{}}"))
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_every_model_field_exists_in_the_crd_with_the_same_type(crd_file: Path, kind: str) -> None:
    disagreements: list[tuple[str, str]] = []
    _walk(istio.MODELS[kind].model_fields["spec"].annotation, spec_schema(crd_file, kind), "spec", disagreements)
    assert disagreements == []


@pytest.mark.parametrize("kind", KINDS)
def test_the_models_cover_every_crd_field(crd_file: Path, kind: str) -> None:
    # So that a field real Istio accepts is not refused offline as "unknown".
    modelled = set(_model_fields(istio.MODELS[kind].model_fields["spec"].annotation, "spec"))
    missing = [f for f in _crd_fields(spec_schema(crd_file, kind), "spec") if f not in modelled]
    assert missing == []


def test_the_cross_check_notices_a_field_the_crd_lacks(crd_file: Path) -> None:
    class Bogus(istio._Model):
        hosts: list[str]
        sniHost: str | None = None
        resolution: Literal["DNS", "MAGIC"] | None = None
        location: int | None = None

    disagreements: list[tuple[str, str]] = []
    _walk(Bogus, spec_schema(crd_file, "ServiceEntry"), "spec", disagreements)
    assert disagreements == [
        ("spec.sniHost", "not in the CRD"),
        ("spec.resolution", "'MAGIC' is not in the CRD enum"),
        ("spec.resolution", "CRD enum value 'NONE' is missing from the model"),
        ("spec.resolution", "CRD enum value 'STATIC' is missing from the model"),
        ("spec.resolution", "CRD enum value 'DNS_ROUND_ROBIN' is missing from the model"),
        ("spec.resolution", "CRD enum value 'DYNAMIC_DNS' is missing from the model"),
        ("spec.location", "integer but CRD says string"),
    ]


# --------------------------------------------------------------------------- both validators agree

DISAGREEMENT_PROBES = [
    ("ServiceEntry", "spec.ports[0].name", ...),
    ("ServiceEntry", "spec.location", "mesh_external"),
    ("ServiceEntry", "spec.exportTo", "."),
    ("VirtualService", "spec.http[0].route[0].weight", "80"),
    ("VirtualService", "spec.http[0].retries.attempts", 2.5),
    ("VirtualService", "spec.http[0].fault.delay.exponentialDelay", "1s"),
    ("VirtualService", "spec.tls[0].match[0].sniHosts", ...),
    ("VirtualService", "spec.tcp[0].match[0].sourceLabels", {"app": 1}),
    ("DestinationRule", "spec.trafficPolicy.outlierDetection.interval", "5 minutes"),
    ("DestinationRule", "spec.subsets[0].trafficPolicy.tunnel", {"targetHost": "proxy"}),
    ("DestinationRule", "spec.trafficPolicy.portLevelSettings[0].port.number", "443"),
    ("Gateway", "spec.servers[0].port", {"number": 443, "name": "tls"}),
    ("Gateway", "spec.servers[1].tls.httpsRedirect", "true"),
    ("Sidecar", "spec.egress[1].port.number", -1),
]


@pytest.mark.parametrize(("kind", "where", "value"), DISAGREEMENT_PROBES)
def test_models_and_crd_reject_the_same_field(crd_file: Path, kind: str, where: str, value: Any) -> None:
    doc = edit(GOOD[kind](), where, value)
    by_model = {p.path for p in problems(doc, 1)}
    by_crd = {path for path, _ in crd_found(doc, crd_file)}
    assert by_model, "the models accepted it"
    assert by_crd, "the CRD accepted it"
    assert by_model == by_crd
