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

from labkit.lab import Lab
from labkit.sim import SimBackend

from .conftest import PUSH_DELAY, QUIET
from .observe import observe
from .scenarios import SCENARIOS, Scenario

TABLE = Path(__file__).with_name("differences.yaml")


def rows() -> list[dict[str, Any]]:
    out = yaml.safe_load(TABLE.read_text()) or []
    for row in out:
        assert row.get("reason"), f"differences.yaml: row {row} has no reason"
    return out


#: Which "*" rows (by position) described a difference some scenario showed, and which scenarios ran.
USED_STAR_ROWS: set[int] = set()
RAN: set[str] = set()


def covering(table: list[dict[str, Any]], scenario: str, name: str, sim: str, envoy: str) -> dict[str, Any] | None:
    """The row that lists this difference: its scenario (or "*", any scenario), field and both values."""
    for index, row in enumerate(table):
        if (
            row["scenario"] in (scenario, "*")
            and row["field"] == name
            and (str(row["sim"]), str(row["envoy"]))
            == (
                sim,
                envoy,
            )
        ):
            if row["scenario"] == "*":
                USED_STAR_ROWS.add(index)
            return row
    return None


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
    table = rows()
    problems = []
    for name in sorted(set(sim) | set(envoy)):
        a, b = sim.get(name, "(absent)"), envoy.get(name, "(absent)")
        if a != b and covering(table, scenario.name, name, a, b) is None:
            problems.append(f"{name}: sim {a!r} ≠ envoy {b!r} (not in differences.yaml)")
    for row in table:
        if row["scenario"] == scenario.name and sim.get(row["field"]) == envoy.get(row["field"]):
            problems.append(
                f"{row['field']}: listed as different, but both say {sim.get(row['field'])!r}; remove the row"
            )
    for name, value in scenario.expect.items():
        for backend, seen in (("sim", sim), ("envoy", envoy)):
            if seen.get(name) != value:
                problems.append(f"{backend}: {name} is {seen.get(name)!r}, the documentation says {value!r}")
    RAN.add(scenario.name)
    assert not problems, f"{scenario.name}:\n  " + "\n  ".join(problems)


def test_every_any_scenario_row_still_describes_a_difference() -> None:
    """Runs after the scenarios (pytest keeps file order): a "*" row no scenario needed is stale."""
    if {s.name for s in SCENARIOS} != RAN:
        pytest.skip("not every scenario ran in this pytest run, so unused rows can't be told apart")
    stale = [f"{row['field']}: {row['sim']!r} vs {row['envoy']!r}"
             for i, row in enumerate(rows()) if row["scenario"] == "*" and i not in USED_STAR_ROWS]  # fmt: skip
    assert not stale, "differences.yaml rows no scenario shows any more; remove them:\n  " + "\n  ".join(stale)


def test_every_listed_difference_names_a_scenario() -> None:
    names = {s.name for s in SCENARIOS} | {"*"}
    unknown = sorted(row["scenario"] for row in rows() if row["scenario"] not in names)
    assert not unknown, f"differences.yaml rows for unknown scenarios: {unknown}"
