"""The scripts pass shellcheck, and the CI workflow is valid and does what the README promises."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from script_sandbox import ROOT

SCRIPTS = sorted((ROOT / "scripts").glob("*.sh"))
WORKFLOW = ROOT / ".github" / "workflows" / "labs-on-kind.yml"


def _tool(name: str) -> str:
    """A console script installed beside this Python (requirements.txt), else one on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: pip install -r requirements.txt")
    return found


def _script_default(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)", (ROOT / "scripts" / "cluster-up.sh").read_text(), re.MULTILINE)
    assert match, name
    return match.group(1)


def test_there_are_scripts() -> None:
    assert {p.name for p in SCRIPTS} >= {"cluster-up.sh", "cluster-down.sh"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck_clean(script: Path) -> None:
    result = subprocess.run([_tool("shellcheck"), "--severity=style", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_strict_mode_and_executable(script: Path) -> None:
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines[:5]
    assert os.access(script, os.X_OK)


def test_shellcheck_really_checks(tmp_path: Path) -> None:
    # Guards the test above: a classic mistake (unquoted variable) is reported.
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/tmp\n")
    result = subprocess.run([_tool("shellcheck"), str(bad)], capture_output=True, text=True)
    assert result.returncode != 0 and "SC2086" in result.stdout


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    # The schema ships inside check-jsonschema: this works offline.
    return subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )


def test_workflow_matches_the_github_workflow_schema() -> None:
    result = _validate(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps: not-a-list\n")
    assert _validate(broken).returncode != 0


def _workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def _runs(job: dict[str, Any]) -> list[str]:
    return [step.get("run", "") for step in job["steps"]]


def test_workflow_runs_on_push_and_pull_request_and_tests_first() -> None:
    wf = _workflow()
    assert set(wf["on"]) == {"push", "pull_request"}
    assert any(".ci/run" in run for run in _runs(wf["jobs"]["test"]))
    assert "make test" in (ROOT / ".ci" / "run").read_text()  # what .ci/run ends with
    assert wf["env"]["PINNED_ISTIO"] == _script_default("DEFAULT_ISTIO_VERSION")
    # The CRDs the tests validate Gateway API manifests against are the ones the kind path installs.
    assert wf["env"]["GATEWAY_API_VERSION"] == _script_default("GATEWAY_API_VERSION")
    assert any("LABKIT_GATEWAY_API_CRDS" in run for run in _runs(wf["jobs"]["test"]))


def test_labs_job_covers_the_pinned_istio_and_the_two_minors_before_it() -> None:
    # Istio supports a minor until 6 weeks after the N+2 minor is out (istio.io, "Supported Releases"),
    # so the matrix is the pinned release and the two minors before it, newest first, one patch each.
    job = _workflow()["jobs"]["labs"]
    versions = job["strategy"]["matrix"]["istio"]
    assert versions[0] == _script_default("DEFAULT_ISTIO_VERSION")
    minors = [tuple(map(int, v.split(".")[:2])) for v in versions]
    major, minor = minors[0]
    assert minors == [(major, minor), (major, minor - 1), (major, minor - 2)]
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", v) for v in versions)  # exact patches: never "latest"
    assert job["env"]["ISTIO_VERSION"] == "${{ matrix.istio }}"


def test_labs_job_steps_in_order_with_reports_and_cleanup_always() -> None:
    steps = _workflow()["jobs"]["labs"]["steps"]

    def index(predicate: Any) -> int:
        return next(i for i, step in enumerate(steps) if predicate(step))

    kind = index(lambda s: "kind-action" in s.get("uses", ""))
    up = index(lambda s: "scripts/cluster-up.sh" in s.get("run", ""))
    labs = index(lambda s: "make labs BACKEND=kube" in s.get("run", ""))
    summary = index(lambda s: "$GITHUB_STEP_SUMMARY" in s.get("run", ""))
    upload = index(lambda s: "upload-artifact" in s.get("uses", ""))
    down = index(lambda s: "scripts/cluster-down.sh" in s.get("run", ""))
    assert kind < up < labs < min(summary, upload, down)
    assert steps[kind]["with"]["version"] == _script_default("KIND_RECOMMENDED")
    assert steps[kind]["with"]["install_only"] is True
    assert "--install-istioctl" in steps[up]["run"]
    assert 'OUT="$OUT"' in steps[labs]["run"]
    assert "summary.md" in steps[summary]["run"]
    assert steps[upload]["with"]["path"] == "${{ env.OUT }}"
    for i in (summary, upload, down):
        assert steps[i]["if"] == "always()", steps[i]


def test_every_action_is_pinned_to_a_commit() -> None:
    uses = re.findall(r"uses:\s*(\S+)(.*)", WORKFLOW.read_text())
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.search(r"# v\d+\.\d+\.\d+", comment), f"{action}: say which version the commit is"
