"""``labkit run`` on a real cluster: each notebook runs between a snapshot and a restore.

The notebooks' kernels are replaced by an in-process stand-in (papermill.execute_notebook) that drives
a ``Lab`` on the same fake cluster the runner guards, so the whole path from the runner to the
Kubernetes client is exercised without a kernel or a cluster.
"""

from __future__ import annotations

import importlib
import io
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
import yaml
from nbclient.exceptions import DeadKernelError
from rich.console import Console

from labkit import Lab, lab_file
from labkit.junit import CLUSTER_CASE
from labkit.kube import KubeBackend
from labkit.reports import write_reports
from labkit.runner import run_labs

#: labkit.connect the module (the package exports a function of the same name).
CONNECT = importlib.import_module("labkit.connect")
SE_KEY = ("networking.istio.io/v1", "ServiceEntry", "default", "httpbin-ext")
CM_KEY = ("v1", "ConfigMap", "istio-system", "istio")


def _notebooks(directory: Path, *names: str) -> Path:
    directory.mkdir()
    for name in names:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"# {name}")])
        nbformat.write(nb, directory / f"{name}.ipynb")
    return directory


def _kernel(cluster: KubeBackend, seen: list[dict[str, Any]]) -> Callable[..., None]:
    """Stands in for a kernel running a lab: checks ALLOW_ANY, switches to REGISTRY_ONLY, registers a
    host. Lab ``01-*`` then dies (no cleanup, as when the kernel is killed); the others clean up."""

    def execute(input_path: str, output_path: str, parameters: dict[str, Any], **kwargs: Any) -> None:
        seen.append(dict(parameters))
        name = Path(input_path).stem
        # A kernel process would start with these (where to record its checks); this one is in-process.
        with pytest.MonkeyPatch.context() as env:
            for key, value in kwargs["kernel_manager_class"].launch_env.items():
                env.setenv(key, value)
            run(name)

    def run(name: str) -> None:
        lab = Lab(cluster, name=name, console=Console(file=io.StringIO()))
        lab.verify_that("the mesh starts with ALLOW_ANY", lab.outbound_policy(), "ALLOW_ANY")
        lab.set_outbound_policy("REGISTRY_ONLY")
        lab.apply(lab_file("01-external-access", "serviceentry-http.yaml"), name="httpbin-ext", host="httpbin.org")
        if name.startswith("01"):
            raise DeadKernelError("Kernel died")
        lab.cleanup()

    return execute


def test_a_lab_that_dies_halfway_is_restored_and_reported(
    cluster: KubeBackend, dynamic: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original_mesh = dynamic.objects[CM_KEY]["data"]["mesh"]
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(papermill, "execute_notebook", _kernel(cluster, seen))
    notebooks = _notebooks(tmp_path / "nb", "01-halfway", "02-tidy")

    summary = run_labs(None, "kube", tmp_path / "out", cluster=cluster, notebooks_dir=notebooks, progress=False)

    assert seen == [{"backend": "kube"}, {"backend": "kube"}]
    dead, tidy = summary.results
    assert dead.error is not None and dead.error.ename == "DeadKernelError"
    assert dead.cluster is not None and dead.cluster.left_behind == [
        "ServiceEntry/default/httpbin-ext (from lab 01-halfway) is still there",
        "mesh config: outboundTrafficPolicy.mode is REGISTRY_ONLY (was ALLOW_ANY)",
    ]
    assert dead.cluster.not_restored == []
    # The second lab found ALLOW_ANY again (its first check passed) and, having cleaned up, passes.
    assert [c.passed for c in tidy.checks] == [True]
    assert tidy.passed and tidy.cluster is not None and tidy.cluster.clean
    # And the cluster ends as it started.
    assert SE_KEY not in dynamic.objects
    assert dynamic.objects[CM_KEY]["data"]["mesh"] == original_mesh

    console = Console(record=True, width=200, color_system=None)
    console.print(summary)
    rendered = console.export_text()
    assert "left behind: ServiceEntry/default/httpbin-ext (from lab 01-halfway) is still there" in rendered

    reports = write_reports(summary)
    suites = {s.get("name"): s for s in ET.parse(reports.junit).getroot().findall("testsuite")}
    dead_case = suites["01-halfway"].find(f"testcase[@name='{CLUSTER_CASE}']")
    assert dead_case is not None
    failure = dead_case.find("failure")
    assert failure is not None
    assert (
        failure.get("message") == "left behind: ServiceEntry/default/httpbin-ext (from lab 01-halfway) is still there"
    )
    assert "restored the mesh config in ConfigMap istio-system/istio" in (failure.text or "")
    tidy_case = suites["02-tidy"].find(f"testcase[@name='{CLUSTER_CASE}']")
    assert tidy_case is not None and len(tidy_case) == 0  # a passing testcase has no children
    table = reports.summary.read_text()
    assert "| `01-halfway` | ❌ failed | 1/1 | 0 | DeadKernelError: Kernel died |" in table
    assert "| `02-tidy` | ✅ passed | 1/1 | 0 |  |" in table


def test_a_lab_that_passes_every_check_but_leaves_a_change_fails(
    cluster: KubeBackend, dynamic: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forgetful(input_path: str, output_path: str, parameters: dict[str, Any], **kwargs: Any) -> None:
        lab = Lab(cluster, name="03-forgetful", console=Console(file=io.StringIO()))
        lab.label_namespace("kube-system", {"kube-system": "true"})
        lab.verify_that("labelled", True, True)

    monkeypatch.setattr(papermill, "execute_notebook", forgetful)
    notebooks = _notebooks(tmp_path / "nb", "03-forgetful")
    (result,) = run_labs(
        None, "kube", tmp_path / "out", cluster=cluster, notebooks_dir=notebooks, progress=False
    ).results
    assert result.error is None and all(c.passed for c in result.checks)
    assert not result.passed
    assert result.cluster is not None
    assert result.cluster.problems == ["left behind: namespace kube-system: label kube-system=true was added"]
    assert "kube-system" not in dynamic.objects[("v1", "Namespace", None, "kube-system")]["metadata"]["labels"]


def test_auto_decides_once_and_guards_the_cluster_it_picked(
    cluster: KubeBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[bool] = []
    monkeypatch.setattr(CONNECT, "detect", lambda *a, **k: ("kube", "context kind-labs answers"))
    monkeypatch.setattr(CONNECT, "make_backend", lambda name, **k: (cluster, f"backend={name!r}"))
    monkeypatch.setattr(cluster, "close", lambda: closed.append(True))
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(papermill, "execute_notebook", _kernel(cluster, seen))
    notebooks = _notebooks(tmp_path / "nb", "02-tidy")

    summary = run_labs(None, "auto", tmp_path / "out", notebooks_dir=notebooks, progress=False)

    assert seen == [{"backend": "kube"}]  # the kernel gets the runner's decision, not "auto" again
    assert summary.results[0].cluster is not None and summary.results[0].cluster.clean
    assert closed == [True]  # the runner closes the connection it opened


def test_the_simulator_is_never_guarded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_cluster(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a sim run must not connect to a cluster")

    monkeypatch.setattr(CONNECT, "make_backend", no_cluster)
    monkeypatch.setattr(CONNECT, "detect", lambda *a, **k: ("sim", "no cluster"))
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(papermill, "execute_notebook", lambda i, o, parameters, **k: seen.append(parameters))
    notebooks = _notebooks(tmp_path / "nb", "01-a")
    for backend in ("sim", "auto"):
        (result,) = run_labs(None, backend, tmp_path / backend, notebooks_dir=notebooks, progress=False).results
        assert result.cluster is None
    assert seen == [{"backend": "sim"}, {"backend": "sim"}]


def test_the_kernel_finds_labkit_through_a_relative_pythonpath(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `PYTHONPATH=lib pytest` from the checkout: the kernel starts in the notebooks directory instead.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", "lib")
    seen: list[str] = []
    monkeypatch.setattr(
        papermill, "execute_notebook", lambda *a, **k: seen.append(k["kernel_manager_class"].launch_env["PYTHONPATH"])
    )
    run_labs(None, "sim", tmp_path / "out", notebooks_dir=_notebooks(tmp_path / "nb", "01-a"), progress=False)
    assert seen == [str(tmp_path / "lib")]
    assert os.environ["PYTHONPATH"] == "lib"  # restored for the rest of the process


def test_yaml_of_the_mesh_is_what_the_lab_reads(cluster: KubeBackend, dynamic: Any) -> None:
    # Guards the fixture itself: the labs read ALLOW_ANY from the ConfigMap the runner restores.
    assert yaml.safe_load(dynamic.objects[CM_KEY]["data"]["mesh"])["outboundTrafficPolicy"]["mode"] == "ALLOW_ANY"
    assert Lab(cluster, console=Console(file=io.StringIO())).outbound_policy() == "ALLOW_ANY"
