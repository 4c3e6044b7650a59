"""Every exit path leaves nothing behind: no network namespace, no process, no state directory.

The paths are those issue 11 lists: ``cleanup()``, interpreter exit, SIGTERM, SIGINT, and a SIGKILL
followed by ``reset()``. Each one runs a real data plane with a sidecar Envoy in a child process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labkit.envoy import DataPlane, netns, reset
from labkit.envoy.rundir import process_start_time

HERE = Path(__file__).parent
TIMEOUT = 60


def assert_clean(report: dict[str, object]) -> None:
    run_id = report["run_id"]
    left_ns = [ns for ns in netns.names() if ns.startswith(f"lk-{run_id}-")]
    assert left_ns == [], f"namespaces left: {left_ns}"
    pids = report["pids"]
    assert isinstance(pids, list)
    deadline = time.monotonic() + 5
    while any(process_start_time(p) is not None for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)  # a killed process may take a moment to be reaped by init
    left = [p for p in pids if process_start_time(p) is not None and "zombie" not in _state(p)]
    assert left == [], f"processes left: {left}"
    assert not Path(str(report["run_dir"])).exists(), "state directory left"


def _state(pid: int) -> str:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "zombie"
    return next((line for line in status.splitlines() if line.startswith("State:")), "").lower()


def start_child(mode: str) -> tuple[subprocess.Popen[str], dict[str, object]]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "run_and_wait.py"), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(TIMEOUT)
        pytest.fail(f"the child failed to build a data plane: {proc.stderr.read() if proc.stderr else ''}")
    report = json.loads(line)
    # While the child runs, its run is really there.
    assert [ns for ns in netns.names() if ns.startswith(f"lk-{report['run_id']}-")]
    return proc, report


def test_cleanup_call_removes_everything(plane: DataPlane) -> None:
    pod = plane.add_pod("sleep")
    assert pod.proxy is not None and pod.proxy.process is not None and plane.internet is not None
    report = {
        "run_id": plane.run_id,
        "run_dir": str(plane.run.path),
        "pids": [pod.proxy.process.pid, plane.internet.pid],
    }
    plane.cleanup()
    assert_clean(report)
    plane.cleanup()  # a second call is harmless


def test_interpreter_exit_cleans_up(needs_envoy: object) -> None:
    proc, report = start_child("exit")
    assert proc.wait(TIMEOUT) == 0
    assert_clean(report)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_cleans_up(needs_envoy: object, sig: signal.Signals) -> None:
    proc, report = start_child("wait")
    proc.send_signal(sig)
    code = proc.wait(TIMEOUT)
    # The process still dies of the signal: SIGTERM is delivered again after cleanup, and an uncaught
    # KeyboardInterrupt makes Python end by SIGINT (Python docs, "Exit status" of KeyboardInterrupt, 3.8+).
    assert code == -sig, proc.stderr.read() if proc.stderr else ""
    assert_clean(report)


def test_sigkill_then_reset_cleans_up(needs_envoy: object) -> None:
    proc, report = start_child("wait")
    proc.kill()
    proc.wait(TIMEOUT)
    # Nothing ran in the killed process: its namespaces, Envoy and servers are still there ...
    assert [ns for ns in netns.names() if ns.startswith(f"lk-{report['run_id']}-")]
    result = reset()
    # ... until reset finds them by the run's state directory and the namespaces' prefix.
    assert result.clean, result.remaining
    assert any(str(report["run_id"]) in line for line in result.actions)
    assert_clean(report)


def test_reset_leaves_a_live_run_alone(plane: DataPlane) -> None:
    result = reset()
    assert any(plane.run_id in line for line in result.kept)
    assert netns.exists(plane.fabric.name) and plane.run.path.exists()


def test_labkit_reset_backend_envoy_removes_a_crashed_run(
    needs_envoy: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from labkit.cli import main

    proc, report = start_child("wait")
    proc.kill()
    proc.wait(TIMEOUT)
    assert main(["reset", "--backend", "envoy"]) == 0
    out = capsys.readouterr().out
    assert f"lk-{report['run_id']}-fabric" in out and "clean" in out
    assert_clean(report)
