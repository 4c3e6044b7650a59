"""Remove what runs left behind: their processes, network namespaces and state directories.

A run whose owner process is still alive is left alone (unless ``force``), so a reset never breaks a
parallel run. Namespaces are found by their ``lk-<run>-`` prefix, processes both from the run's records
and from ``ip netns pids`` of each namespace, so nothing survives even if a record was lost.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Any

from ..snapshot import ResetReport
from . import names, netns, rundir


def _kill(pids: list[int], grace: float = 2.0) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(rundir.process_start_time(p) is not None for p in pids):
        time.sleep(0.05)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def reset(*, base: Path | None = None, force: bool = False) -> ResetReport:
    report = ResetReport()
    live_runs: set[str] = set()
    stale_dirs: list[rundir.RunDir] = []
    for run in rundir.all_runs(base):
        if run.owner_alive() and not force:
            live_runs.add(run.run_id)
            report.kept.append(f"run {run.run_id} (its owner, pid {run.owner().pid}, is still running)")  # type: ignore[union-attr]
        else:
            stale_dirs.append(run)

    # Processes first: a namespace stays alive while a process is in it.
    for run in stale_dirs:
        recorded = [p.pid for p in run.processes() if rundir.alive(p.pid, p.started)]
        if recorded:
            report.found.append(f"run {run.run_id}: processes {recorded}")
            _kill(recorded)
            report.actions.append(f"stopped processes {recorded}")
    stale_ids = {run.run_id for run in stale_dirs}
    leftovers = []
    for ns in netns.names():
        run_id = names.run_of(ns)
        if run_id is None or run_id in live_runs:
            continue
        if run_id in stale_ids or force:
            leftovers.append(ns)
        else:
            # No state directory here: it may belong to a run with another state base. Only --force.
            report.kept.append(f"network namespace {ns} (no state directory for run {run_id}; use force)")
    for ns in leftovers:
        inside = [p for p in netns.pids(ns) if p != os.getpid()]
        report.found.append(f"network namespace {ns}" + (f" with processes {inside}" if inside else ""))
        if inside:
            _kill(inside)
        netns.delete(ns)
        report.actions.append(f"deleted network namespace {ns}")
    for run in stale_dirs:
        report.found.append(f"state directory {run.path}")
        run.remove()
        report.actions.append(f"removed {run.path}")

    report.remaining += [f"network namespace {ns}" for ns in leftovers if netns.exists(ns)]
    report.remaining += [f"state directory {r.path}" for r in stale_dirs if r.path.exists()]
    return report


def print_reset(console: Any, *, force: bool = False) -> int:
    """``labkit reset --backend envoy``: reset, show what was found and done; exit 0 when clean."""
    report = reset(force=force)
    console.print(f"labkit reset · envoy backend (network namespaces lk-*, state in {rundir.state_base()})")
    report.print_lines(console)
    if report.remaining:
        return 1
    console.print("clean: no envoy-backend leftovers.", style="green")
    return 0
