"""Fixtures for the runner tests: real papermill runs of two tiny notebooks (one passes, one fails)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from labkit.runner import RunSummary, run_labs

FIXTURES = Path(__file__).parent / "notebooks"


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the fixture notebooks, so runs never write beside the sources."""
    directory = tmp_path_factory.mktemp("notebooks")
    for nb in FIXTURES.glob("*.ipynb"):
        shutil.copy(nb, directory / nb.name)
    return directory


@pytest.fixture(scope="module")
def ran(
    notebooks: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[RunSummary, dict[str, str | None], dict[str, str | None]]:
    """Both fixture labs run once for the whole module (each kernel start costs seconds)."""
    out = tmp_path_factory.mktemp("out")
    # A record from an earlier run must not leak into this run's results.
    stale = [{"title": "stale check", "expected": "x", "actual": "y", "passed": False}]
    (out / "01-pass.checks.json").write_text(json.dumps(stale))
    keys = ("LABKIT_RECORD_DIR", "LABKIT_LAB")
    env_before = {k: os.environ.get(k) for k in keys}
    summary = run_labs(None, "sim", out, notebooks_dir=notebooks, progress=False)
    env_after = {k: os.environ.get(k) for k in keys}
    return summary, env_before, env_after
