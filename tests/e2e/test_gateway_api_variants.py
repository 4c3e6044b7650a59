"""The Gateway API variants of labs 01, 03, 05 and 06 (``-p api=gateway-api``), end to end.

Each variant runs on the simulator and, with ``--backend kube``, against ``labkit serve``. Its checks
must be the Istio variant's checks one for one (same titles, same expectations): istio.io's Gateway API
tabs of these tasks expect the same status codes and gateway log lines as its Istio API tabs
(egress-control, egress-gateway, egress-gateway-tls-origination and wildcard-egress-hosts, and the doc
tests ``gtwapi_test.sh`` / ``gtwapi_tls_test.sh`` beside them).

Until labkit models the Gateway API kinds, labkit refuses them by name and these runs are skipped with
that reason; the variants' manifests are still checked against the published CRDs in tests/schema.
"""

from __future__ import annotations

import json
import re
from http.client import HTTPSConnection
from pathlib import Path

import crd_validator as crd
import nbformat
import pytest
import yaml

from labkit import cli, paths, schema
from labkit.serve import ApiServer

VARIANT_LABS = ["01-external-access", "03-egress-gateway", "05-egress-gateway-tls-origination", "06-wildcard-hosts"]
GATEWAY_API = "gateway.networking.k8s.io"
#: Seconds one cell may take (the same bound as the serve runs of the Istio variants).
CELL_TIMEOUT = "300"


def labkit_models_the_gateway_api() -> str:
    """Empty when labkit validates and applies Gateway API routes; else labkit's refusal, as the skip reason."""
    route = {
        "apiVersion": f"{GATEWAY_API}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "probe"},
        "spec": {"parentRefs": [{"name": "probe"}]},
    }
    refused = [str(p) for p in schema.problems(route, 1) if "can't validate" in p.message]
    return f"labkit does not model the Gateway API yet: {refused[0]}" if refused else ""


def served_kinds(server: ApiServer, group_version: str) -> set[str]:
    """The kinds ``labkit serve`` lists under ``/apis/<group_version>`` (API discovery, as kubectl reads it)."""
    conn = HTTPSConnection("127.0.0.1", server.port, timeout=30, context=server.client_context())
    try:
        conn.request("GET", f"/apis/{group_version}", headers={"Authorization": f"Bearer {server.token}"})
        reply = conn.getresponse()
        body = reply.read()
    finally:
        conn.close()
    return {r["kind"] for r in json.loads(body)["resources"]} if reply.status == 200 else set()


def serve_serves_the_gateway_api(server: ApiServer) -> bool:
    # The kinds the variants apply, at the versions their manifests use.
    return {"Gateway", "HTTPRoute"} <= served_kinds(server, f"{GATEWAY_API}/v1") and "TLSRoute" in served_kinds(
        server, f"{GATEWAY_API}/v1alpha2"
    )


def validate_applied_gateway_api(path: Path) -> None:
    """The variant really applied Gateway API objects, and each passes the published Gateway API CRDs."""
    crd_file = paths.gateway_api_crds()
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    gateway_docs = [d for d in docs if d["apiVersion"].startswith(f"{GATEWAY_API}/")]
    assert gateway_docs, "the Gateway API variant applied no Gateway API object"
    if crd_file is None:
        return  # tests/schema checks the manifests against the CRDs, and says when the file is missing
    found = [p for i, doc in enumerate(gateway_docs, 1) for p in crd.problems(doc, f"document {i}", crd_file)]
    assert found == []


def run(lab: str, backend: str, out: Path, api: str) -> tuple[int, list[dict]]:
    argv = ["run", lab, "--backend", backend, "--out", str(out), "-q", "--timeout", CELL_TIMEOUT, "-p", f"api={api}"]
    code = cli.main(argv)
    record = out / f"{lab}.checks.json"
    return code, json.loads(record.read_text()) if record.is_file() else []


#: The preflight for the shared egress gateway (``lab.require_egress_gateway``): the Gateway API variants
#: deploy gateways of their own, as istio.io's Gateway API tabs do, so they have no such check.
SHARED_GATEWAY_PREFLIGHT = "the egress gateway is ready"


#: The cluster of the gateway's Service in a sidecar's access log: Istio names a cluster
#: outbound|<port>|<subset>|<host>. The Istio variants route to a subset of the shared istio-egressgateway,
#: the Gateway API variants to the Service <gateway>-istio that Istio deploys beside the Gateway.
GATEWAY_CLUSTER = re.compile(
    r"outbound\|(\d+)\|[^|]*\|(?:istio-egressgateway\.istio-system|[a-z0-9-]+-istio\.default)\.svc\.cluster\.local"
)


def expectations(checks: list[dict]) -> list[tuple[str, str]]:
    """Each check's title and expectation, with the gateway's Service cluster named alike for both variants."""
    return [
        (c["title"], GATEWAY_CLUSTER.sub(r"outbound|\1|(the egress gateway's Service)", c["expected"]))
        for c in checks
        if c["title"] != SHARED_GATEWAY_PREFLIGHT
    ]


@pytest.mark.parametrize("lab", VARIANT_LABS)
def test_the_api_parameter_is_documented_in_the_parameters_cell(lab: str) -> None:
    nb = nbformat.read(paths.NOTEBOOKS / f"{lab}.ipynb", as_version=4)
    [cell] = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert 'api = "istio"' in cell.source
    assert f"labkit run {lab[:2]} -p api=gateway-api" in cell.source


@pytest.mark.parametrize("lab", VARIANT_LABS)
def test_an_unknown_api_is_refused_before_anything_changes(lab: str, tmp_path: Path) -> None:
    code, checks = run(lab, "sim", tmp_path, "gatewayapi")
    assert code == 1 and checks == []
    executed = nbformat.read(tmp_path / f"{lab}.ipynb", as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert [e["ename"] for e in errors] == ["UnknownChoice"]
    assert "api 'gatewayapi' is not one of istio, gateway-api" in errors[0]["evalue"]


def test_the_expectations_name_the_gateway_cluster_alike() -> None:
    istio = {
        "title": "t",
        "expected": "a line containing 'outbound|80|cnn|istio-egressgateway.istio-system.svc.cluster.local'",
    }
    gateway_api = {
        "title": "t",
        "expected": "a line containing 'outbound|80||cnn-egress-gateway-istio.default.svc.cluster.local'",
    }
    other_port = {
        "title": "t",
        "expected": "a line containing 'outbound|443||cnn-egress-gateway-istio.default.svc.cluster.local'",
    }
    assert expectations([istio]) == expectations([gateway_api]) != expectations([other_port])
    # The external host's own cluster is left as it is.
    host = {"title": "t", "expected": "a line containing 'outbound|80||edition.cnn.com'"}
    assert expectations([host]) == [("t", host["expected"])]


@pytest.mark.parametrize("lab", VARIANT_LABS)
def test_the_gateway_api_variant_passes_on_the_simulator_with_the_istio_variants_checks(
    lab: str, tmp_path: Path
) -> None:
    reason = labkit_models_the_gateway_api()
    if reason:
        pytest.skip(reason)
    code, checks = run(lab, "sim", tmp_path / "gateway-api", "gateway-api")
    failed = [f"{c['title']}: {c['actual']}" for c in checks if not c["passed"]]
    assert code == 0, failed or (tmp_path / "gateway-api" / f"{lab}.ipynb")
    assert checks and not failed and all(c["simulated"] for c in checks)
    validate_applied_gateway_api(tmp_path / "gateway-api" / f"{lab}.applied.yaml")
    istio_code, istio_checks = run(lab, "sim", tmp_path / "istio", "istio")
    assert istio_code == 0
    assert expectations(checks) == expectations(istio_checks)


@pytest.mark.parametrize("lab", VARIANT_LABS)
def test_the_gateway_api_variant_passes_on_the_kube_backend_over_the_wire(
    lab: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = labkit_models_the_gateway_api()
    if reason:
        pytest.skip(reason)
    monkeypatch.delenv("LABKIT_ALLOW_CONTEXT", raising=False)
    with ApiServer() as server:
        if not serve_serves_the_gateway_api(server):
            pytest.skip(f"labkit serve does not serve the {GATEWAY_API} kinds the variants apply yet")
        monkeypatch.setenv("KUBECONFIG", str(server.write_kubeconfig(tmp_path / "kubeconfig")))
        code, checks = run(lab, "kube", tmp_path / "kube", "gateway-api")
        execs = [r for r in server.requests if "/exec?" in r.path]
    failed = [f"{c['title']}: {c['actual']}" for c in checks if not c["passed"]]
    assert code == 0, failed or (tmp_path / "kube" / f"{lab}.ipynb")
    assert checks and not failed
    assert not any(c["simulated"] or c.get("skipped") for c in checks)  # the real-cluster code path
    assert execs, "no curl went over pods/exec"
    monkeypatch.delenv("KUBECONFIG")
    sim_code, sim_checks = run(lab, "sim", tmp_path / "sim", "gateway-api")
    assert sim_code == 0
    assert expectations(checks) == expectations(sim_checks)
