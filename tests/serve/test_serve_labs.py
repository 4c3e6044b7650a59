"""Every lab notebook with ``--backend kube`` against ``labkit serve``: the real-cluster code path, end to end.

papermill runs each notebook in a kernel whose KUBECONFIG points at a server in this process, so
every apply, wait, curl (over exec) and log read goes through the ``kubernetes`` client and HTTP.
The notebooks and their expectations are the ones the simulator runs; the checks must match a
simulator run of the same lab one for one, and the lab must leave the cluster as it found it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from labkit import cli, paths
from labkit.manifests import MANAGED_BY, MANAGED_BY_VALUE
from labkit.serve import ApiServer, resources

LABS = sorted(p.stem for p in paths.NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
#: Seconds one cell may take: the slowest (retries until config propagates) needs well under a minute.
CELL_TIMEOUT = "300"


def run(lab: str, backend: str, out: Path) -> tuple[int, list[dict]]:
    code = cli.main(["run", lab, "--backend", backend, "--out", str(out), "-q", "--timeout", CELL_TIMEOUT])
    record = out / f"{lab}.checks.json"
    return code, json.loads(record.read_text()) if record.is_file() else []


def leftovers(server: ApiServer) -> list[str]:
    """What labkit created and did not delete, and the mesh-wide changes it did not undo."""
    found = []
    for r in resources.RESOURCES:
        for obj in server.sim.list_objects(r.api_version(), r.kind, None, f"{MANAGED_BY}={MANAGED_BY_VALUE}"):
            found.append(f"{r.kind} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}")
    mesh = yaml.safe_load(server.sim.mesh.store.raw("", "ConfigMap", "istio-system", "istio")["data"]["mesh"])
    if mesh["outboundTrafficPolicy"]["mode"] != "ALLOW_ANY":
        found.append(f"outbound policy {mesh['outboundTrafficPolicy']['mode']}")
    for namespace in ("istio-system", "kube-system"):
        extra = set(server.sim.mesh.cluster.namespace_labels(namespace)) - {"kubernetes.io/metadata.name"}
        found += [f"label {label} on namespace {namespace}" for label in sorted(extra)]
    return found


@pytest.mark.parametrize("lab", LABS)
def test_lab_passes_on_the_kube_backend_over_the_wire(
    lab: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LABKIT_ALLOW_CONTEXT", raising=False)
    with ApiServer() as server:
        monkeypatch.setenv("KUBECONFIG", str(server.write_kubeconfig(tmp_path / "kubeconfig")))
        code, checks = run(lab, "kube", tmp_path / "kube")
        left = leftovers(server)
        execs = [r for r in server.requests if "/exec?" in r.path]
    failed = [f"{c['title']}: {c['actual']}" for c in checks if not c["passed"]]
    assert code == 0, failed or (tmp_path / "kube" / f"{lab}.ipynb")
    assert checks and not failed
    assert not any(c["simulated"] or c.get("skipped") for c in checks)  # real-cluster path, nothing n/a
    assert execs, "no curl went over pods/exec"
    assert left == []

    monkeypatch.delenv("KUBECONFIG")
    sim_code, sim_checks = run(lab, "sim", tmp_path / "sim")
    assert sim_code == 0
    assert [(c["title"], c["expected"]) for c in checks] == [(c["title"], c["expected"]) for c in sim_checks]
