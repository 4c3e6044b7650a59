"""Fixtures for the real data plane. Tests that need root, iptables and Envoy skip with the reason when
the machine lacks them; with CI=true they fail instead, so CI can never pass by skipping them."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from labkit.envoy import DataPlane
from labkit.envoy import preflight as pf


@pytest.fixture(scope="session")
def preflight_report() -> pf.Report:
    return pf.run()


@pytest.fixture
def needs_envoy(preflight_report: pf.Report) -> pf.Tools:
    if not preflight_report.ok or preflight_report.tools is None:
        reason = "; ".join(f"{c.name}: {c.detail} (fix: {c.fix})" for c in preflight_report.failures())
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the envoy data-plane tests, but: {reason}")
        pytest.skip(f"the envoy backend cannot run here: {reason}")
    return preflight_report.tools


@pytest.fixture
def plane(needs_envoy: pf.Tools) -> Iterator[DataPlane]:
    p = DataPlane.start()
    try:
        yield p
    finally:
        p.cleanup()
