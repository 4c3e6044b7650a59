#!/usr/bin/env python3
"""Benchmark: how long ``import labkit`` takes, and how long every lab takes on the simulator.

Not a test: it prints figures for this machine. Run from the checkout with the project's venv:

    .venv/bin/python scripts/bench-labkit.py [--repeat 5] [--skip-labs]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def import_seconds(repeat: int) -> list[float]:
    """Wall time of a fresh interpreter importing labkit, minus a bare interpreter's start."""
    def run(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        return time.perf_counter() - start

    bare = min(run("pass") for _ in range(repeat))
    return [run("import labkit") - bare for _ in range(repeat)]


def labs_seconds(extra: list[str]) -> float:
    labkit = Path(sys.executable).with_name("labkit")
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([str(labkit), "run", "--backend", "sim", "--out", out, *extra], check=True, cwd=ROOT)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-labs", action="store_true")
    parser.add_argument("labkit_args", nargs="*", help="extra arguments for `labkit run`, e.g. --jobs 2")
    args = parser.parse_args()
    times = import_seconds(args.repeat)
    print(f"import labkit: median {statistics.median(times):.3f} s, best {min(times):.3f} s ({args.repeat} runs)")
    if not args.skip_labs:
        print(f"labkit run --backend sim (all labs): {labs_seconds(args.labkit_args):.1f} s")


if __name__ == "__main__":
    main()
