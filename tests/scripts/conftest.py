"""Fixtures for the script tests (the pretend machine lives in script_sandbox.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from script_sandbox import Machine


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)
