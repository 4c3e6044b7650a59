"""``labkit run --jobs``: which backends run notebooks side by side, and that doing so changes no output."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from labkit import cli
from labkit.reports import write_reports
from labkit.runner import PARALLEL_SAFE, parallel_jobs, run_labs


def test_sim_runs_in_parallel_up_to_the_number_of_labs() -> None:
    assert parallel_jobs("sim", 4, labs=2) == 2
    assert parallel_jobs("sim", 1, labs=5) == 1
    assert parallel_jobs("sim", 3, labs=5) == 3


def test_sim_defaults_to_the_cpu_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    assert parallel_jobs("sim", None, labs=10) == 3


def test_kube_and_unknown_backends_run_one_at_a_time() -> None:
    # Labs on one cluster share mesh-wide config (the outbound policy lives in the istio ConfigMap).
    assert PARALLEL_SAFE["kube"] is False
    assert parallel_jobs("kube", 8, labs=5) == 1
    assert parallel_jobs("kube", None, labs=5) == 1
    assert parallel_jobs("no-such-backend", 8, labs=5) == 1


def test_jobs_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "--jobs", "0"])
    assert "must be 1 or more" in capsys.readouterr().err


def _junit(path: Path) -> list[tuple[str, list[tuple[str, str | None, list[str]]]]]:
    """junit.xml without what differs between any two runs (times, timestamps)."""
    root = ET.parse(path).getroot()
    suites = []
    for suite in root.findall("testsuite"):
        cases = [(c.get("name", ""), c.get("classname"), sorted(child.tag for child in c)) for c in suite]
        suites.append((suite.get("name", ""), cases))
    return suites


def _cell_outputs(notebook: Path) -> list[list[dict]]:
    nb = json.loads(notebook.read_text())
    return [
        [{k: v for k, v in o.items() if k != "execution_count"} for o in c.get("outputs", [])]
        for c in nb["cells"]
        if c["cell_type"] == "code"
    ]


def test_parallel_output_matches_a_serial_run(notebooks: Path, tmp_path: Path) -> None:
    runs = {}
    for jobs in (1, 2):
        out = tmp_path / f"jobs{jobs}"
        summary = run_labs(None, "sim", out, notebooks_dir=notebooks, progress=False, jobs=jobs)
        reports = write_reports(summary)
        runs[jobs] = (summary, reports, out)
    (serial, serial_reports, serial_out), (par, par_reports, par_out) = runs[1], runs[2]
    assert [r.name for r in par.results] == [r.name for r in serial.results] == ["01-pass", "02-fail"]
    assert [r.status for r in par.results] == [r.status for r in serial.results]
    assert [[c.title for c in r.checks] for r in par.results] == [[c.title for c in r.checks] for r in serial.results]
    assert par_reports.summary.read_text() == serial_reports.summary.read_text()
    assert _junit(par_reports.junit) == _junit(serial_reports.junit)
    for r in serial.results:
        assert _cell_outputs(par_out / r.output.name) == _cell_outputs(serial_out / r.output.name)
    # Each kernel recorded its own checks in its own file, under its own lab name.
    for r in par.results:
        assert re.fullmatch(r"\d\d-\w+", r.name) and (par_out / f"{r.name}.checks.json").is_file()


def _sleeping_lab(directory: Path, name: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('backend = "auto"')
    params.metadata["tags"] = ["parameters"]
    sleep = nbformat.v4.new_code_cell("import time\ntime.sleep(120)")
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}"), params, sleep]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, directory / f"{name}.ipynb")


def test_ctrl_c_ends_labs_running_side_by_side(tmp_path: Path) -> None:
    import os
    import signal
    import threading
    import time

    from labkit import runner

    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    for name in ("01-sleep", "02-sleep"):
        _sleeping_lab(notebooks, name)
    sent: list[float] = []
    earlier = {id(m) for m in runner._running_kernels}  # kernels of other tests, long ended

    def ours() -> list:
        return [m for m in list(runner._running_kernels) if id(m) not in earlier]

    def interrupt_once_both_kernels_run() -> None:
        deadline = time.monotonic() + 60
        while len(ours()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends

    threading.Thread(target=interrupt_once_both_kernels_run, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run_labs(None, "sim", tmp_path / "out", notebooks_dir=notebooks, progress=False, jobs=2)
    # Well before the cells' 120 s sleep would end: the kernels were killed, not waited for.
    assert sent and time.monotonic() - sent[0] < 30
    processes = [m.provisioner.process for m in ours() if m.provisioner is not None]
    assert len(processes) == 2 and all(p.poll() is not None for p in processes)
