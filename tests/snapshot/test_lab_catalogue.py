"""A lab is data: a throwaway lab (notebook, lab.yaml, manifests) in a folder of its own runs through the
runner, the guard and ``labkit reset`` with no library change, and the kinds its lab.yaml lists (a Pod
and a Sidecar, which no project lab creates) are cleaned up."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import yaml
from rich.console import Console

from labkit import cli, labinfo, snapshot
from labkit.kube import KubeBackend
from labkit.manifests import Ref, prepare
from labkit.runner import run_labs
from labkit.serve import ApiServer
from labkit.sim import SimBackend

LAB = "90-throwaway"
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "stray"},
    "spec": {"containers": [{"name": "sleep", "image": "curlimages/curl:8.16.0", "command": ["sleep", "1d"]}]},
}
SIDECAR = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "Sidecar",
    "metadata": {"name": "egress-only"},
    "spec": {"egress": [{"hosts": ["./*", "istio-system/*"]}]},
}
LAB_YAML = {
    "title": "A throwaway lab",
    "minutes": 1,
    "summary": "a Pod and a Sidecar it leaves behind",
    "hosts": ["httpbin.org"],
    "kinds": [{"apiVersion": "v1", "kind": "Pod"}, {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar"}],
    "parameters": [{"name": "backend", "default": "auto", "meaning": "where it runs"}],
    "changes": ["creates the Pod stray and the Sidecar egress-only in default, and leaves them behind"],
}
#: The notebook applies its two manifests and, like a kernel that died, never cleans up.
CELLS = [
    ("markdown", "# Lab 90 — A throwaway lab", []),
    ("code", 'backend = "auto"', ["parameters"]),
    (
        "code",
        "import labkit\n"
        f'lab = labkit.connect(backend=backend, lab="{LAB}", cleanup_on_error=False)\n'
        f'lab.apply(labkit.lab_file("{LAB}", "pod.yaml"))\n'
        f'lab.apply(labkit.lab_file("{LAB}", "sidecar.yaml"))\n',
        [],
    ),
]


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A labs root and a notebooks folder holding only the throwaway lab; labkit pointed at them."""
    labs, notebooks = tmp_path / "labs", tmp_path / "notebooks"
    (labs / LAB).mkdir(parents=True)
    notebooks.mkdir()
    (labs / LAB / labinfo.FILENAME).write_text(yaml.safe_dump(LAB_YAML, sort_keys=False))
    (labs / LAB / "pod.yaml").write_text(yaml.safe_dump(POD))
    (labs / LAB / "sidecar.yaml").write_text(yaml.safe_dump(SIDECAR))
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    for kind, source, tags in CELLS:
        new = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        nb.cells.append(new(source, metadata={"tags": tags}))
    nbformat.write(nb, notebooks / f"{LAB}.ipynb")
    monkeypatch.setenv("LABKIT_LABS_DIR", str(labs))
    monkeypatch.setenv("LABKIT_NOTEBOOKS_DIR", str(notebooks))
    return tmp_path


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ApiServer, Path]]:
    """``labkit serve`` and its kubeconfig, which kernels and ``labkit reset`` find through KUBECONFIG."""
    with ApiServer() as server:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        yield server, kubeconfig


def left(backend: Any) -> list[Ref]:
    refs = [Ref("v1", "Pod", "default", "stray"), Ref("networking.istio.io/v1", "Sidecar", "default", "egress-only")]
    return [ref for ref in refs if backend.get(ref) is not None]


def apply_as_the_lab(backend: Any) -> None:
    backend.apply(prepare([POD, SIDECAR], "default", LAB))
    assert len(left(backend)) == 2


class NoDiscovery:
    """Hides API discovery, so only lab.yaml (and nothing a cluster serves) can name the kinds."""

    def __init__(self, backend: KubeBackend) -> None:
        self._backend = backend

    def __getattr__(self, name: str) -> Any:
        if name == "served_kinds":
            raise AttributeError(name)
        return getattr(self._backend, name)


def test_the_catalogue_reads_the_throwaway_lab(course: Path) -> None:
    (entry,) = labinfo.catalogue()
    assert (entry.name, entry.number, entry.title) == (LAB, 90, "Lab 90 — A throwaway lab")
    assert entry.meta is not None and entry.meta.kinds == (("v1", "Pod"), ("networking.istio.io/v1", "Sidecar"))
    assert labinfo.parameter_differences(entry.meta, entry.path) == []
    assert {("v1", "Pod"), ("networking.istio.io/v1", "Sidecar")} <= set(snapshot.labelled_kinds())


def test_the_guard_on_the_simulator_cleans_the_kinds_lab_yaml_lists(course: Path) -> None:
    sim = SimBackend()  # no API discovery, and no applied record given: only lab.yaml names Pod and Sidecar
    guard = snapshot.Guard(sim, timeout=5)
    guard.snapshot()
    apply_as_the_lab(sim)
    report = guard.settle()
    assert any("Pod/default/stray" in line for line in report.left_behind), report.left_behind
    assert any("Sidecar/default/egress-only" in line for line in report.left_behind), report.left_behind
    assert left(sim) == [] and report.not_restored == []


def test_without_the_lab_yaml_kinds_the_same_guard_misses_them(course: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABKIT_LABS_DIR", str(course / "no-labs-here"))
    (course / "no-labs-here").mkdir()
    sim = SimBackend()
    guard = snapshot.Guard(sim, timeout=5)
    guard.snapshot()
    apply_as_the_lab(sim)
    guard.settle()
    assert len(left(sim)) == 2  # the control: it is lab.yaml's kinds that made the guard find them


def test_reset_through_labkit_serve_cleans_them_without_api_discovery(
    course: Path, served: tuple[ApiServer, Path]
) -> None:
    _, kubeconfig = served
    backend = KubeBackend(kubeconfig=str(kubeconfig))
    try:
        apply_as_the_lab(backend)
        report = snapshot.reset(NoDiscovery(backend), timeout=10)  # type: ignore[arg-type]
        assert any("Pod/default/stray" in line for line in report.found), report.found
        assert any("Sidecar/default/egress-only" in line for line in report.found), report.found
        assert report.clean and left(backend) == []
    finally:
        backend.close()


def test_the_guard_through_labkit_serve_cleans_them_without_api_discovery(
    course: Path, served: tuple[ApiServer, Path]
) -> None:
    _, kubeconfig = served
    backend = KubeBackend(kubeconfig=str(kubeconfig))
    try:
        guard = snapshot.Guard(NoDiscovery(backend), timeout=10)  # type: ignore[arg-type]
        guard.snapshot()
        apply_as_the_lab(backend)
        report = guard.settle()
        assert len([line for line in report.left_behind if LAB in line]) == 2, report.left_behind
        assert left(backend) == [] and report.not_restored == []
    finally:
        backend.close()


def test_labkit_reset_command_through_labkit_serve(
    course: Path, served: tuple[ApiServer, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, kubeconfig = served
    backend = KubeBackend(kubeconfig=str(kubeconfig))
    try:
        apply_as_the_lab(backend)
        assert cli.main(["reset", "--backend", "kube", "--timeout", "10"]) == 0
        out = capsys.readouterr().out
        assert "Pod/default/stray" in out and "Sidecar/default/egress-only" in out
        assert left(backend) == []
    finally:
        backend.close()


def test_the_runner_runs_the_throwaway_lab_and_its_guard_cleans_up(
    course: Path, served: tuple[ApiServer, Path]
) -> None:
    _, kubeconfig = served
    backend = KubeBackend(kubeconfig=str(kubeconfig))
    try:
        summary = run_labs(None, "kube", course / "out", cluster=backend, progress=False, timeout_per_cell=120)
        (result,) = summary.results
        assert result.name == LAB and result.error is None, result.error
        assert result.cluster is not None
        assert len([line for line in result.cluster.left_behind if LAB in line]) == 2, result.cluster.left_behind
        assert not result.passed  # a lab that leaves objects behind fails, even when labkit cleans them up
        assert left(backend) == [] and result.cluster.not_restored == []
        # The kernel's banner read the throwaway lab.yaml from the labs root it was pointed at.
        executed = (course / "out" / f"{LAB}.ipynb").read_text()
        assert "A throwaway lab" in executed and "creates the Pod stray" in executed
    finally:
        backend.close()
    Console(file=io.StringIO()).print(summary)  # the summary renders for a lab outside the project
