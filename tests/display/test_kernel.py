"""labkit's output inside a real IPython kernel: what papermill logs and records, and what a notebook
frontend receives (display frames, in-place updates, error messages)."""

from __future__ import annotations

import json
import logging
import os
import queue
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
from jupyter_client.manager import KernelManager, start_new_kernel
from nbformat.v4 import new_code_cell, new_notebook
from papermill.exceptions import PapermillExecutionError

from labkit import paths

ANSI = re.compile(r"\x1b\[[0-9;]*m")
TIMEOUT = 60  # seconds for any one kernel reply; the simulator answers in well under one


def kernel_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABKIT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(paths.ROOT / "lib"), os.environ.get("PYTHONPATH")]))
    return env


def notebook(*sources: str) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


SETUP = """import labkit
lab = labkit.connect(backend=backend, lab="01-external-access")
lab.deploy_client()"""
# A new outbound policy takes a moment to reach the sidecar: the first try still passes through.
RETRIED = """lab.apply(labkit.lab_file("01-external-access", "serviceentry-https.yaml"), namespace="default",
          name="https-ext", host="www.baidu.com")
lab.set_outbound_policy("REGISTRY_ONLY")
lab.verify_curl("http://httpbin.org/headers", "-sS", status=502, title="unregistered host is refused")"""
FAILING = 'lab.verify_curl("http://httpbin.org/headers", "-sS", status=418, within=3, title="teapot")'


def test_papermill_logs_clean_text_once_per_wait_and_fails_the_run_on_a_failed_check(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in kernel_env().items():
        monkeypatch.setenv(key, value)
    source, output = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(notebook('backend = "auto"', SETUP, RETRIED, "lab.report()", FAILING, "print('after')"), source)
    with caplog.at_level(logging.INFO, logger="papermill"), pytest.raises(PapermillExecutionError) as failure:
        papermill.execute_notebook(
            str(source),
            str(output),
            parameters={"backend": "sim"},
            kernel_name="python3",
            log_output=True,
            progress_bar=False,
            cwd=str(tmp_path),
            execution_timeout=TIMEOUT,
        )
    # The run failed on the check, by name, with the check's details in the message.
    assert failure.value.ename == "ExpectationFailed"
    assert "expected: status 418" in failure.value.evalue

    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "papermill")
    assert not ANSI.search(logged), "escape codes in papermill's log"
    assert "SIMULATED MESH" in logged
    assert "applying serviceentry-https.yaml: ServiceEntry/https-ext in default" in logged
    assert "apiVersion:" not in logged  # the YAML stays in the notebook's HTML, not in the log
    # One line per wait, however many tries: the retried check and the failing one.
    waits = [line for line in logged.splitlines() if line.startswith("↻ waiting")]
    assert len(waits) == 2 and "unregistered host is refused" in waits[0] and "teapot" in waits[1]
    assert re.search(r"✔ PASS unregistered host is refused  \[simulated\]  \(2 tries, [\d.]+s virtual clock\)", logged)
    assert "✘ FAIL teapot" in logged and "hint:" in logged
    assert "Checks: 01-external-access" in logged and "1/1 passed" in logged

    executed = nbformat.read(output, as_version=4)
    failed = next(c for c in executed.cells if c.source == FAILING)  # papermill inserted a parameters cell
    errors = [o for o in failed.outputs if o.output_type == "error"]
    assert len(errors) == 1 and errors[0].ename == "ExpectationFailed"
    (line,) = errors[0].traceback  # one line, no stack frames
    assert "check failed: teapot (expected status 418; details above)" in line
    cell_text = json.dumps(failed.outputs)
    assert "a cell failed: cleaning up" in cell_text and "restored the mesh config" in cell_text
    assert executed.cells[-1].execution_count is None  # the run stopped at the failure


# -- a kernel driven directly, to see each message a frontend gets


class Kernel:
    def __init__(self, manager: KernelManager, client: Any) -> None:
        self.manager, self.client = manager, client

    def run(self, code: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Execute code; return the reply's content and this execution's iopub messages."""
        msg_id = self.client.execute(code)
        reply = self.client.get_shell_msg(timeout=TIMEOUT)
        messages = []
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=TIMEOUT)
            except queue.Empty:
                pytest.fail(f"no idle status from the kernel within {TIMEOUT}s")
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return reply["content"], messages
            messages.append(msg)


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    manager, client = start_new_kernel(kernel_name="python3", env=kernel_env(), startup_timeout=TIMEOUT)
    try:
        k = Kernel(manager, client)
        reply, _ = k.run(SETUP.replace("backend=backend", 'backend="sim"'))
        assert reply["status"] == "ok"
        yield k
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_a_wait_is_one_output_updated_in_place(kernel: Kernel) -> None:
    kernel.run("import labkit.display\nlabkit.display.UPDATE_EVERY = 0  # push every try")
    reply, messages = kernel.run(
        'n = iter(range(4))\nlab.verify("counts to 3", lambda: next(n), lambda i: [] if i == 3 else ["not yet"],'
        ' command="count", expected="3", actual=str)'
    )
    assert reply["status"] == "ok"
    frames = [m for m in messages if (m["content"].get("transient") or {}).get("display_id")]
    ids = {m["content"]["transient"]["display_id"] for m in frames}
    kinds = [m["msg_type"] for m in frames]
    assert len(ids) == 1 and kinds == [
        "display_data",
        "update_display_data",
        "update_display_data",
        "update_display_data",
    ]
    texts = [m["content"]["data"]["text/plain"] for m in frames]
    assert texts == [
        "↻ waiting up to 15s (virtual clock): counts to 3: want 3; try 1 got 0",
        "↻ waiting up to 15s (virtual clock): counts to 3: want 3; try 2 got 1",
        "↻ waiting up to 15s (virtual clock): counts to 3: want 3; try 3 got 2",
        "↻ the try before it held got: 2",
    ]
    assert "so far:   3 tries" in frames[2]["content"]["data"]["text/html"]  # the notebook's richer view
    assert all("text/html" in m["content"]["data"] for m in frames)


def test_a_failed_check_replies_error_without_a_traceback_and_cleans_up(kernel: Kernel) -> None:
    kernel.run(RETRIED)
    reply, messages = kernel.run(FAILING)
    assert reply["status"] == "error" and reply["ename"] == "ExpectationFailed"
    (error,) = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert len(error["traceback"]) == 1 and "details above" in error["traceback"][0]
    shown = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "display_data"]
    assert any(s.startswith("✘ FAIL teapot") and "expected: status 418" in s for s in shown)
    assert any("a cell failed: cleaning up" in s for s in shown)
    assert not any(ANSI.search(s) for s in shown)


def test_a_refused_manifest_shows_the_problem_and_hint_not_a_traceback(kernel: Kernel) -> None:
    reply, messages = kernel.run(
        'lab.apply("apiVersion: networking.istio.io/v1\\nkind: VirtualService\\nmetadata: {name: x}\\n'
        'spec: {hosts: 5}", namespace="default")'
    )
    assert reply["status"] == "error" and reply["ename"] == "ManifestError"
    (error,) = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert len(error["traceback"]) == 1 and "ManifestError" in error["traceback"][0]
    (shown,) = [m["content"]["data"] for m in messages if m["msg_type"] == "display_data"]
    assert "spec.hosts" in shown["text/plain"] and "→ Fix the field named above" in shown["text/plain"]
    assert "<span" in shown["text/html"]


def test_a_real_bug_keeps_its_full_traceback(kernel: Kernel) -> None:
    reply, messages = kernel.run("def broken():\n    return {}['missing']\n\nbroken()")
    assert reply["status"] == "error" and reply["ename"] == "KeyError"
    (error,) = [m["content"] for m in messages if m["msg_type"] == "error"]
    text = ANSI.sub("", "\n".join(error["traceback"]))
    assert "Traceback" in text and "broken()" in text and "return {}['missing']" in text
