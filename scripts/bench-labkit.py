#!/usr/bin/env python3
"""Benchmark: how long ``import labkit`` takes, and the wall time of ``labkit run --backend sim``
for the original five labs (01-05) and for all labs.

Not a test: it prints figures for this machine (a loaded machine gives slower ones; the best of
``--runs`` is the least disturbed). Run from the checkout with the project's venv:

    .venv/bin/python scripts/bench-labkit.py [--repeat 5] [--runs 3] [--skip-labs] [-- --jobs 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIRST_FIVE = ["01", "02", "03", "04", "05"]


def import_seconds(repeat: int) -> list[float]:
    """Wall time of a fresh interpreter importing labkit, minus a bare interpreter's start."""

    def run(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        return time.perf_counter() - start

    bare = min(run("pass") for _ in range(repeat))
    return [run("import labkit") - bare for _ in range(repeat)]


def labs_seconds(labs: list[str], extra: list[str]) -> float:
    """Wall time of one ``labkit run`` (quiet), which must pass."""
    labkit = Path(sys.executable).with_name("labkit")
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [str(labkit), "run", *labs, "--backend", "sim", "--out", out, "-q", *extra],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - start


def describe(times: list[float]) -> str:
    if len(times) == 1:
        return f"{times[0]:.1f} s"
    return f"best {min(times):.1f} s, median {statistics.median(times):.1f} s ({len(times)} runs)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="imports to time")
    parser.add_argument("--runs", type=int, default=3, help="lab runs to time, each")
    parser.add_argument("--skip-labs", action="store_true")
    parser.add_argument("labkit_args", nargs="*", help="extra arguments for `labkit run`, e.g. --jobs 2")
    args = parser.parse_args()
    times = import_seconds(args.repeat)
    print(f"import labkit: median {statistics.median(times):.3f} s, best {min(times):.3f} s ({args.repeat} runs)")
    if args.skip_labs:
        return
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} before the lab runs")
    for title, labs in (("labs 01-05", FIRST_FIVE), ("all labs", [])):
        runs = [labs_seconds(labs, args.labkit_args) for _ in range(args.runs)]
        print(f"labkit run --backend sim ({title}): {describe(runs)}")


if __name__ == "__main__":
    main()
