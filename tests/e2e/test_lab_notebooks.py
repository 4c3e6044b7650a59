"""The lab notebooks end to end: papermill runs them on the simulator through ``labkit run``."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import crd_validator as crd
import nbformat
import papermill
import pytest
import yaml

from labkit import cli, paths, schema

LABS = sorted(p.stem for p in paths.NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


@pytest.mark.parametrize("lab", LABS)
def test_lab_passes_on_the_simulator(lab: str, tmp_path: Path) -> None:
    code = cli.main(["run", lab, "--backend", "sim", "--out", str(tmp_path), "-q"])
    assert code == 0
    checks = json.loads((tmp_path / f"{lab}.checks.json").read_text())
    assert checks and all(c["passed"] and c["simulated"] for c in checks)
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and int(suite.get("failures", "0")) == 0
    assert len(suite.findall("testcase")) == len(checks)
    validate_applied(tmp_path / f"{lab}.applied.yaml")
    assert bare_echoes(tmp_path / f"{lab}.ipynb") == []


def bare_echoes(executed: Path) -> list[str]:
    """Cells whose value Jupyter echoed as plain text only (a stray return value such as 'ALLOW_ANY' or
    False); labkit's results render themselves as HTML too, and the notebook shows them on purpose."""
    nb = nbformat.read(executed, as_version=4)
    return [
        f"cell {i}: {out['data']['text/plain'][:60]}"
        for i, cell in enumerate(nb.cells)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "execute_result" and set(out.get("data", {})) == {"text/plain"}
    ]


def validate_applied(path: Path) -> None:
    """Every document the notebook applied passes labkit's checks and the published Istio CRD schemas."""
    crd_file = paths.istio_crds()
    if crd_file is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the Istio CRD file (../shared/istio/crd-all.gen.yaml) is missing")
        pytest.skip("no Istio CRD file beside the checkout")
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert docs, "the lab applied nothing"
    found = []
    for i, doc in enumerate(docs, 1):
        found += schema.problems(doc, i)
        if doc["apiVersion"].startswith("networking.istio.io/"):
            found += crd.problems(doc, f"document {i}", crd_file)
    assert found == []


def test_a_broken_expectation_fails_the_run_and_cleanup_still_runs(tmp_path: Path) -> None:
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = nbformat.read(paths.NOTEBOOKS / "01-external-access.ipynb", as_version=4)
    target = 'lab.verify_curl(f"https://{https_host}", "-sSI", status=200, title=f"HTTPS to {https_host} works'
    cell = next(c for c in nb.cells if target in c.source)
    cell.source = cell.source.replace(target, target.replace("status=200", "status=418"))
    nbformat.write(nb, notebooks / "01-external-access.ipynb")
    out = tmp_path / "out"
    code = cli.main(["run", "01", "--backend", "sim", "--out", str(out), "-q", "--notebooks", str(notebooks)])
    assert code == 1
    failed = [c for c in json.loads((out / "01-external-access.checks.json").read_text()) if not c["passed"]]
    assert [c["expected"] for c in failed] == ["status 418"]
    executed = nbformat.read(out / "01-external-access.ipynb", as_version=4)
    text = json.dumps([c.get("outputs", []) for c in executed.cells])
    assert "a cell failed: cleaning up" in text
    assert "restored the mesh config" in text
    root = ET.parse(out / "junit.xml").getroot()
    assert root.find(".//failure") is not None


def test_network_policy_lab_marks_the_blocking_step_not_applicable_without_enforcement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABKIT_RECORD_DIR", str(tmp_path))
    papermill.execute_notebook(
        str(paths.NOTEBOOKS / "04-network-policy.ipynb"),
        str(tmp_path / "out.ipynb"),
        parameters={"backend": "sim", "sim_enforce_network_policy": False},
        cwd=str(paths.NOTEBOOKS),
        kernel_name="python3",
        progress_bar=False,
    )
    checks = json.loads((tmp_path / "04-network-policy.checks.json").read_text())
    na = [c for c in checks if c["skipped"]]
    assert [c["title"] for c in na] == ["under the policy, the un-injected pod times out"]
    assert "does not enforce NetworkPolicy" in na[0]["actual"]
    assert all(c["passed"] for c in checks if not c["skipped"])
