"""The differential suite needs the real data plane: it skips with the preflight's reason on a machine
without root, iptables or Envoy, and fails instead under CI=true, so CI can never pass by skipping."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from rich.console import Console

from labkit.envoy import preflight as pf


@pytest.fixture(scope="session")
def envoy_driver() -> Iterator[object]:
    report = pf.run()
    if not report.ok or report.tools is None:
        reason = "; ".join(f"{c.name}: {c.detail} (fix: {c.fix})" for c in report.failures())
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the conformance suite, but: {reason}")
        pytest.skip(f"the envoy backend cannot run here: {reason}")
    from labkit.envoy.backend import EnvoyBackend

    driver = EnvoyBackend(push_delay=PUSH_DELAY)
    try:
        yield driver
    finally:
        driver.close()


#: istiod's push, shortened alike on both backends so the suite spends its time on requests.
PUSH_DELAY = 0.2
QUIET = Console(quiet=True)
