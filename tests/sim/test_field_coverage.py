"""The field coverage table (lib/labkit/sim/coverage.yaml) and the refusal it drives.

The table must list every spec field of the five Istio kinds as the published CRDs define them, each
with the evidence its category needs; a document setting a field the simulator does not model is
refused by path on ``sim`` and through ``labkit serve``, and nothing of the apply is stored.
"""

from __future__ import annotations

import ast
import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from crd_validator import load_crds

# labkit serve and the real kubectl, as tests/serve starts and runs them
from serve.conftest import kubeconfig, server  # noqa: F401
from serve.test_serve_kubectl import Kubectl, kubectl  # noqa: F401

from labkit import ManifestError, manifests
from labkit.manifests import Ref
from labkit.paths import LABS, ROOT, istio_crds, world_file
from labkit.serve import ApiServer
from labkit.sim import SimBackend, coverage

TABLE = coverage.load_table()
SCRIPT = ROOT / "scripts" / "update-field-coverage.py"

#: Values for the placeholders in labs/*/*.yaml (the values the labs' notebooks pass).
LAB_PARAMS = {
    "name": "sleep",
    "host": "edition.cnn.com",
    "istio_namespace": "istio-system",
    "gateway_label": "egressgateway",
    "nginx_host": "my-nginx.mesh-external.svc.cluster.local",
    "credential": "client-credential",
    "timeout": "3s",
    "domain": "wikipedia.org",
    "server_host": "www.wikipedia.org",
    "proxy_host": "my-company-proxy.com",
    "proxy_ip": "10.244.0.13",
    "proxy_port": 3128,
    "external_host": "httpbin.org",
    "entry_name": "httpbin-org",
    "service_namespace": "default",
    "address": "203.0.113.50",
}

SERVICE_ENTRY: dict[str, Any] = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "ServiceEntry",
    "metadata": {"name": "httpbin-ext", "namespace": "default"},
    "spec": {
        "hosts": ["httpbin.org"],
        "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}],
        "resolution": "DNS",
    },
}
MIRRORING_VS: dict[str, Any] = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "httpbin-mirror", "namespace": "default"},
    "spec": {
        "hosts": ["httpbin.org"],
        "http": [{"route": [{"destination": {"host": "httpbin.org"}}], "mirror": {"host": "httpbin.org"}}],
    },
}
MIRROR_REFUSAL = (
    "not modelled by the offline simulator: spec.http[0].mirror; run this on a kind cluster (scripts/cluster-up.sh)"
)


def crds():
    path = istio_crds()
    if path is None:
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail("the Istio CRD file (../shared/istio/crd-all.gen.yaml) is missing")
        pytest.skip("no Istio CRD file beside the checkout")
    return load_crds(path)


# --------------------------------------------------------------------------- the table


@pytest.mark.parametrize("kind", coverage.KINDS)
def test_the_table_lists_every_spec_field_of_the_crd_and_nothing_else(kind: str) -> None:
    schema = crds().openapi_schema("networking.istio.io", kind, coverage.VERSION)
    assert schema is not None
    in_crd = set(coverage.schema_paths(schema["properties"]["spec"]))
    in_table = set(TABLE.fields[kind])
    assert sorted(in_crd - in_table) == [], f"new in the CRD: run {SCRIPT.name}"
    assert sorted(in_table - in_crd) == [], f"gone from the CRD: run {SCRIPT.name}"


def test_schema_paths_marks_lists_and_maps_of_objects() -> None:
    schema = crds().openapi_schema("networking.istio.io", "VirtualService", coverage.VERSION)
    assert schema is not None
    paths = coverage.schema_paths(schema["properties"]["spec"])
    for path in (
        "spec.http[].fault.abort.httpStatus",
        "spec.http[].match[].headers{}.exact",
        "spec.http[].mirror",
        "spec.hosts",
        "spec.tls[].match[].sniHosts",
    ):
        assert path in paths


def test_the_other_istio_kinds_are_refused_as_whole_kinds() -> None:
    loaded = crds()
    expected = {
        f"{group}/{kind}"
        for group in coverage.ISTIO_GROUPS
        for kind in loaded.kinds(group)
        if not (group == "networking.istio.io" and kind in coverage.KINDS)
    }
    assert {k for k in TABLE.refused_kinds if k.split("/")[0] in coverage.ISTIO_GROUPS} == expected
    assert "security.istio.io/AuthorizationPolicy" in expected and "networking.istio.io/EnvoyFilter" in expected


def test_the_generator_finds_nothing_to_change() -> None:
    crds()  # skips without the CRD file
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_generator_keeps_classifications_and_adds_new_fields_as_not_modelled(tmp_path: Path) -> None:
    crds()
    text = coverage.TABLE_FILE.read_text()
    dropped = "    spec.http[].corsPolicy.maxAge:"
    assert dropped in text
    table = tmp_path / "coverage.yaml"
    table.write_text("".join(line for line in text.splitlines(keepends=True) if not line.startswith(dropped)))
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--table", str(table)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "new, not-modelled: VirtualService spec.http[].corsPolicy.maxAge" in result.stdout
    # Every other entry kept its classification, and the missing one came back as not-modelled.
    assert table.read_text() == text


def _test_functions() -> dict[str, set[str]]:
    """test file (relative to the repo) -> names of the test functions it defines."""
    out = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        tree = ast.parse(path.read_text())
        out[path.relative_to(ROOT).as_posix()] = {
            node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        }
    return out


def test_every_entry_has_one_category_and_the_evidence_it_needs() -> None:
    tests = _test_functions()
    wrong = []
    for kind, entries in TABLE.fields.items():
        for path, entry in entries.items():
            where = f"{kind} {path}"
            if entry.status not in coverage.STATUSES:
                wrong.append(f"{where}: unknown status {entry.status!r}")
            elif entry.status == coverage.MODELLED:
                file, _, function = entry.test.partition("::")
                if function not in tests.get(file, set()):
                    wrong.append(f"{where}: no test {entry.test!r}")
            elif entry.status == coverage.NO_EFFECT_OFFLINE and not entry.reason.strip():
                wrong.append(f"{where}: no-effect-offline needs a reason")
            if entry.status != coverage.MODELLED and entry.test:
                wrong.append(f"{where}: only modelled fields name a test")
            if entry.status != coverage.NO_EFFECT_OFFLINE and entry.reason:
                wrong.append(f"{where}: only no-effect-offline fields give a reason")
    assert wrong == []


def test_a_field_is_never_more_modelled_than_its_parent_allows() -> None:
    """Setting a field sets its parent too, so a parent refused would hide a child accepted."""
    rank = {coverage.NOT_MODELLED: 0, coverage.NO_EFFECT_OFFLINE: 1, coverage.MODELLED: 2}
    wrong = []
    for kind, entries in TABLE.fields.items():
        for path, entry in entries.items():
            parent = path.rpartition(".")[0].removesuffix("{}").removesuffix("[]")
            if parent in entries and rank[entries[parent].status] < rank[entry.status]:
                wrong.append(f"{kind} {path} is {entry.status} under {entries[parent].status} {parent}")
    assert wrong == []


# --------------------------------------------------------------------------- refusal on sim


def _stored(sim: SimBackend) -> dict:
    return copy.deepcopy(sim.mesh.store._objects)


def test_a_not_modelled_field_is_refused_by_path_on_sim_and_nothing_is_stored() -> None:
    sim = SimBackend()
    before = _stored(sim)
    with pytest.raises(ManifestError) as err:
        sim.apply([copy.deepcopy(SERVICE_ENTRY), copy.deepcopy(MIRRORING_VS)])
    message = str(err.value)
    assert "document 2 (VirtualService default/httpbin-mirror)" in message
    assert MIRROR_REFUSAL in message
    assert [p.path for p in err.value.problems] == ["spec.http[0].mirror"]
    assert _stored(sim) == before, "the valid first document was not stored either"
    assert sim.get(Ref.of(SERVICE_ENTRY)) is None


# The checks below exercise the mechanism on a small table of their own, so they keep their meaning
# while the real table's classifications change as the simulator models more.
M = {"status": coverage.MODELLED, "test": "t"}
N = {"status": coverage.NOT_MODELLED}
SMALL = {
    "VirtualService": {
        "spec.hosts": {**M, "pattern": "[^*]+"},
        "spec.http": M,
        "spec.http[].fault": N,
        "spec.http[].fault.abort": N,
        "spec.http[].fault.abort.httpStatus": N,
        "spec.http[].match": M,
        "spec.http[].match[].headers": M,
        "spec.http[].match[].headers{}.exact": M,
        "spec.http[].match[].headers{}.regex": N,
        "spec.http[].match[].uri": N,
        "spec.http[].match[].uri.prefix": N,
        "spec.http[].mirror": N,
        "spec.http[].mirror.host": N,
        "spec.http[].route": {**M, "max_items": 1},
        "spec.http[].route[].destination": M,
        "spec.http[].route[].destination.host": M,
        "spec.http[].route[].weight": M,
    },
    "ServiceEntry": {"spec.location": {**M, "values": ["MESH_EXTERNAL"]}},
}


def small_table() -> coverage.Table:
    return coverage.Table(
        {kind: {path: coverage.Entry(**entry) for path, entry in paths.items()} for kind, paths in SMALL.items()}, ()
    )


def test_every_refused_field_of_a_document_is_named_with_its_indexes() -> None:
    vs = copy.deepcopy(MIRRORING_VS)
    vs["spec"]["http"].insert(
        0,
        {
            "match": [
                {"uri": {"prefix": "/a"}},
                {"headers": {"end-user": {"exact": "jason"}, "x-build": {"regex": "[0-9]+"}}},
            ],
            "fault": {"abort": {"httpStatus": 418}},
            "route": [{"destination": {"host": "httpbin.org"}}],
        },
    )
    found = [(p.path, p.message) for p in coverage.problems(vs, 1, small_table())]
    # A refused field's own fields are not listed again (fault, not fault.abort.httpStatus); map keys are
    # quoted, so a header name is never read as a field name.
    assert [path for path, _ in found] == [
        "spec.http[0].match[0].uri",
        'spec.http[0].match[1].headers["x-build"].regex',
        "spec.http[0].fault",
        "spec.http[1].mirror",
    ]
    assert found[-1][1] == MIRROR_REFUSAL.replace("http[0]", "http[1]")


def test_a_value_outside_what_is_modelled_is_refused_with_the_value() -> None:
    se = copy.deepcopy(SERVICE_ENTRY)
    se["spec"] = {"location": "MESH_INTERNAL"}
    [problem] = coverage.problems(se, 1, small_table())
    assert problem.path == "spec.location"
    assert "not modelled by the offline simulator: spec.location 'MESH_INTERNAL' (only MESH_EXTERNAL is)" in str(
        problem
    )
    se["spec"] = {"location": "MESH_EXTERNAL"}
    assert coverage.problems(se, 1, small_table()) == []


def test_a_string_outside_the_modelled_pattern_is_refused_with_its_index() -> None:
    vs = {**MIRRORING_VS, "spec": {"hosts": ["en.wikipedia.org", "*.wikipedia.org"]}}
    [problem] = coverage.problems(vs, 1, small_table())
    assert problem.path == "spec.hosts"
    assert "not modelled by the offline simulator: spec.hosts[1] '*.wikipedia.org'" in problem.message


def test_a_list_longer_than_modelled_is_refused() -> None:
    one = [{"destination": {"host": "httpbin.org"}, "weight": 100}]
    two = [{"destination": {"host": "httpbin.org"}, "weight": 90}, {"destination": {"host": "a.org"}, "weight": 10}]
    vs = {**MIRRORING_VS, "spec": {"http": [{"route": one}, {"route": two}]}}
    [problem] = coverage.problems(vs, 1, small_table())
    assert problem.path == "spec.http[1].route"
    assert "spec.http[1].route with 2 items (only 1 is)" in problem.message


def test_a_field_missing_from_the_table_is_refused() -> None:
    vs = {**MIRRORING_VS, "spec": {"tcp": [{"route": [{"destination": {"host": "a.org"}}]}]}}
    assert [p.path for p in coverage.problems(vs, 1, small_table())] == ["spec.tcp"]


def test_a_field_without_effect_offline_is_accepted_on_sim() -> None:
    sim = SimBackend()
    rule = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "httpbin-pool", "namespace": "default"},
        "spec": {"host": "httpbin.org", "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 10}}}},
    }
    sim.apply([rule])
    assert sim.get(Ref.of(rule)) is not None


def test_an_istio_kind_the_simulator_does_not_model_is_refused_whole() -> None:
    policy = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "deny-all", "namespace": "default"},
        "spec": {},
    }
    [problem] = coverage.problems(policy, 1)
    assert problem.document == "document 1 (AuthorizationPolicy default/deny-all)"
    assert "security.istio.io AuthorizationPolicy is not modelled by the offline simulator" in problem.message
    sim = SimBackend()
    before = _stored(sim)
    with pytest.raises(ManifestError):
        sim.apply([policy])
    assert _stored(sim) == before


def test_documents_outside_the_istio_groups_are_not_this_checks_business() -> None:
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}, "spec": {"finalizers": []}}
    assert coverage.problems(namespace, 1) == []


def _lab_documents() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(LABS.glob("*/*.yaml")):
        if path.name == "lab.yaml" or path == world_file():  # data, not manifests
            continue
        out += [(f"{path.parent.name}/{path.name}", d) for d in manifests.load(path, LAB_PARAMS)]
    return out


@pytest.mark.parametrize(("source", "doc"), _lab_documents(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_lab_manifest_is_within_what_the_simulator_models(source: str, doc: dict[str, Any]) -> None:
    assert coverage.problems(doc, 1) == [], source


# --------------------------------------------------------------------------- refusal through labkit serve


def test_kubectl_apply_of_a_not_modelled_field_is_refused_as_invalid(
    kubectl: Kubectl,  # noqa: F811
    server: ApiServer,  # noqa: F811
) -> None:
    refused = kubectl("apply", "-f", "-", stdin=yaml.safe_dump(MIRRORING_VS))
    assert refused.returncode != 0
    # kubectl prints a 422 Invalid Status as for any invalid object: kind, name, field and message.
    expected = f'The VirtualService "httpbin-mirror" is invalid: spec.http[0].mirror: {MIRROR_REFUSAL}'
    assert refused.stderr.startswith(expected), refused.stderr
    assert server.sim.get(Ref.of(MIRRORING_VS)) is None
    accepted = kubectl("apply", "-f", "-", stdin=yaml.safe_dump(SERVICE_ENTRY))
    assert accepted.returncode == 0, accepted.stderr
    assert server.sim.get(Ref.of(SERVICE_ENTRY)) is not None


def test_a_patch_that_adds_a_not_modelled_field_is_refused_and_changes_nothing() -> None:
    sim = SimBackend()
    sim.apply([copy.deepcopy(SERVICE_ENTRY)])
    ref = Ref.of(SERVICE_ENTRY)
    before = sim.get(ref)
    with pytest.raises(ManifestError, match="not modelled by the offline simulator"):
        sim.patch(ref, {"spec": {"workloadSelector": {"labels": {"app": "x"}}}})
    assert sim.get(ref) == before
