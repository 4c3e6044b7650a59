from __future__ import annotations

import pytest
from rich.console import Console

import labkit
from labkit.lab import Lab


@pytest.fixture
def lab() -> Lab:
    """A fresh simulated mesh with the sleep client deployed; output kept off the test log."""
    lab = labkit.connect(backend="sim", lab="test", cleanup_on_error=False, console=Console(quiet=True))
    lab.deploy_client()
    return lab
