"""Kernels started ahead: each lab still gets its own kernel with its own environment and folder,
started while the lab before it runs, and none is left running."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import nbformat
import pytest

from labkit.kernelpool import KernelStarter
from labkit.runner import run_labs


class FakeManager:
    def __init__(self, item: str) -> None:
        self.item, self.stopped = item, False

    async def shutdown_kernel(self, now: bool = False) -> None:
        self.stopped = True


def test_taking_a_kernel_starts_the_next_ones() -> None:
    started: list[str] = []

    def start(item: str) -> FakeManager:
        started.append(item)
        return FakeManager(item)

    kernels = KernelStarter(["a", "b", "c", "d"], start, ahead=2)
    assert kernels.take(0).item == "a"
    assert started == ["a", "b", "c"]
    assert kernels.take(1).item == "b"  # started earlier, not again
    assert started == ["a", "b", "c", "d"]


def test_a_kernel_that_fails_to_start_fails_its_own_lab_only() -> None:
    def start(item: str) -> FakeManager:
        if item == "b":
            raise RuntimeError("No such kernel named nope")
        return FakeManager(item)

    kernels = KernelStarter(["a", "b"], start, ahead=1)
    assert kernels.take(0).item == "a"  # b's start failed meanwhile
    with pytest.raises(RuntimeError, match="No such kernel"):
        kernels.take(1)


def test_close_ends_the_kernels_nobody_took() -> None:
    made: list[FakeManager] = []

    def start(item: str) -> FakeManager:
        made.append(FakeManager(item))
        return made[-1]

    kernels = KernelStarter(["a", "b", "c"], start, ahead=1)
    taken = kernels.take(0)
    kernels.close()
    assert [m.stopped for m in made] == [False, True]  # a is its notebook's to stop
    assert taken is made[0]
    with pytest.raises(RuntimeError):
        kernels.take(2)  # the run has ended: nothing new starts


#: Writes when this kernel process started (Linux: /proc/self/stat field 22, clock ticks since
#: boot; proc(5)), where it runs and for which lab, then when its last cell ended.
PROBE = """
import json, os, time
ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
boot = float(open("/proc/stat").read().split("btime ")[1].split()[0])
started = boot + ticks / os.sysconf("SC_CLK_TCK")
time.sleep(1.5)
report = {"started": started, "ended": time.time(), "cwd": os.getcwd(), "lab": os.environ.get("LABKIT_LAB"),
          "pid": os.getpid()}
target = os.path.join(os.environ["LABKIT_RECORD_DIR"], os.environ["LABKIT_LAB"] + ".probe.json")
open(target, "w").write(json.dumps(report))
"""


KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process start times from /proc")
def test_the_next_kernel_boots_while_a_lab_runs(tmp_path: Path) -> None:
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    for name in ("01-first", "02-second"):
        cells = [nbformat.v4.new_code_cell('backend = "auto"', metadata={"tags": ["parameters"]})]
        cells.append(nbformat.v4.new_code_cell(PROBE))
        nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC})
        nbformat.write(nb, notebooks / f"{name}.ipynb")
    out = tmp_path / "out"
    summary = run_labs(None, "sim", out, notebooks_dir=notebooks, progress=False, jobs=1)
    assert summary.passed, [r.error for r in summary.results]
    first, second = (json.loads((out / f"{n}.probe.json").read_text()) for n in ("01-first", "02-second"))
    assert second["started"] < first["ended"]  # booted while lab 01 still ran
    assert [first["lab"], second["lab"]] == ["01-first", "02-second"]
    assert first["cwd"] == second["cwd"] == str(notebooks)
    assert first["pid"] != second["pid"]  # a fresh kernel each
    for pid in (first["pid"], second["pid"]):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # shut down and reaped


def test_a_fast_notebook_is_written_a_few_times_and_completely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill.engines

    writes: list[int] = []
    real_write = papermill.engines.write_ipynb

    def counting_write(nb: Any, path: str) -> None:
        writes.append(sum(bool(c.get("outputs")) for c in nb.cells))
        real_write(nb, path)

    monkeypatch.setattr(papermill.engines, "write_ipynb", counting_write)
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    cells = [nbformat.v4.new_code_cell('backend = "auto"', metadata={"tags": ["parameters"]})]
    cells += [nbformat.v4.new_code_cell(f"print({i})") for i in range(10)]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC})
    nbformat.write(nb, notebooks / "01-quick.ipynb")
    summary = run_labs(None, "sim", tmp_path / "out", notebooks_dir=notebooks, progress=False)
    assert summary.passed
    # papermill writes it 26 times: at the start, as each of its 12 cells (the injected one too) starts
    # and ends, and at the end (papermill.engines.NotebookExecutionManager).
    assert 2 <= len(writes) < 12
    assert writes[0] == 0 and writes[-1] == 10  # first before any output, last with every output
    done = nbformat.read(tmp_path / "out" / "01-quick.ipynb", as_version=4)
    assert [c.outputs[0]["text"] for c in done.cells[2:]] == [f"{i}\n" for i in range(10)]


def test_a_kernel_that_cannot_start_fails_each_lab_by_name(tmp_path: Path) -> None:
    # jupyter_client raises NoSuchKernel ("No such kernel named ...") for a kernelspec it cannot find.
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    for name in ("01-a", "02-b"):
        cells = [nbformat.v4.new_code_cell('backend = "auto"', metadata={"tags": ["parameters"]})]
        nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC})
        nbformat.write(nb, notebooks / f"{name}.ipynb")
    summary = run_labs(None, "sim", tmp_path / "out", notebooks_dir=notebooks, progress=False, kernel_name="no-such")
    assert [r.status for r in summary.results] == ["failed", "failed"]
    assert all(r.error is not None and "no-such" in r.error.evalue for r in summary.results)
