"""Every scenario on the simulator and on real Envoy: the observations must match, field by field, except
for the differences listed (with their reason) in ``differences.yaml``. A listed difference that no longer
shows is an error too, so the table stays true.

The oracle is the real proxy (Envoy 1.40 with labkit's translation of the same Istio config); where both
backends agree with each other but not with Istio's documentation, ``expect`` catches it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import PUSH_DELAY, QUIET
from observe import observe
from scenarios import SCENARIOS, Scenario

from labkit.lab import Lab
from labkit.sim import SimBackend

TABLE = Path(__file__).with_name("differences.yaml")


def listed() -> dict[tuple[str, str], dict[str, Any]]:
    rows = yaml.safe_load(TABLE.read_text()) or []
    out = {}
    for row in rows:
        assert row.get("reason"), f"differences.yaml: row {row} has no reason"
        out[(row["scenario"], row["field"])] = row
    return out


def run(lab: Lab, scenario: Scenario) -> dict[str, str]:
    lab.deploy_client()
    scenario.setup(lab)
    lab.driver.sleep(PUSH_DELAY * 3)  # the config has reached the proxies
    try:
        return observe(lab, scenario.request, lambda: lab.driver.sleep(0.1)).fields
    finally:
        lab.cleanup()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_sim_and_envoy_agree(scenario: Scenario, envoy_driver: Any) -> None:
    sim = run(Lab(SimBackend(push_delay=PUSH_DELAY), name="conformance", console=QUIET), scenario)
    envoy = run(Lab(envoy_driver, name="conformance", console=QUIET), scenario)
    table = listed()
    problems = []
    for name in sorted(set(sim) | set(envoy)):
        a, b = sim.get(name, "(absent)"), envoy.get(name, "(absent)")
        row = table.get((scenario.name, name)) or table.get(("*", name))
        if a == b:
            if row is not None and row["scenario"] == scenario.name:
                problems.append(f"{name}: listed as different but both say {a!r}; remove the row")
            continue
        if row is None:
            problems.append(f"{name}: sim {a!r} ≠ envoy {b!r} (not in differences.yaml)")
        elif (str(row.get("sim")), str(row.get("envoy"))) != (a, b) and row.get("sim") != "*":
            problems.append(
                f"{name}: sim {a!r} ≠ envoy {b!r}, but differences.yaml lists {row['sim']!r} ≠ {row['envoy']!r}"
            )
    for name, value in scenario.expect.items():
        for backend, seen in (("sim", sim), ("envoy", envoy)):
            if seen.get(name) != value:
                problems.append(f"{backend}: {name} is {seen.get(name)!r}, the documentation says {value!r}")
    assert not problems, f"{scenario.name}:\n  " + "\n  ".join(problems)


def test_every_listed_difference_names_a_scenario() -> None:
    names = {s.name for s in SCENARIOS} | {"*"}
    unknown = sorted(k for k in listed() if k[0] not in names)
    assert not unknown, f"differences.yaml rows for unknown scenarios: {unknown}"
