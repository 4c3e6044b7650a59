"""The simulator's clock follows the wall clock, so config applied a moment ago holds after a real wait,
while simulated waits (``/delay/5``) cost no real time."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import labkit
from labkit.sim.clock import VirtualClock

README = Path(__file__).resolve().parents[2] / "README.md"


class FakeWall:
    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t


def test_the_clock_follows_real_time() -> None:
    wall = FakeWall()
    clock = VirtualClock(wall)
    wall.t += 1.5
    assert clock.now() == 1.5


def test_a_simulated_wait_runs_ahead_and_is_not_counted_twice() -> None:
    wall = FakeWall()
    clock = VirtualClock(wall)
    clock.sleep(5.0)  # a curl of /delay/5
    wall.t += 3.0
    assert clock.now() == 5.0  # ahead of the wall clock, never moved back
    wall.t += 4.0
    assert clock.now() == 7.0  # the wall clock caught up: real time counts again, once


def test_config_applied_before_a_real_wait_holds_for_plain_curl() -> None:
    # istio.io, Accessing External Services ("Change to the blocking-by-default policy"): after the
    # switch to REGISTRY_ONLY, "make a couple of requests to external HTTPS services ... the requests
    # are now blocked" (curl exits with code 35). The page also says the change takes a moment to
    # propagate; a learner who waits sees it.
    lab = labkit.connect(backend="sim", lab="01-external-access")
    lab.deploy_client()
    assert lab.curl("https://www.baidu.com", "-sSI").exit_code == 0
    lab.set_outbound_policy("REGISTRY_ONLY")
    time.sleep(1.5)
    results = [lab.curl("https://www.baidu.com", "-sSI") for _ in range(3)]
    assert [r.exit_code for r in results] == [35, 35, 35]


def test_explain_says_when_config_had_not_reached_the_proxy_yet() -> None:
    lab = labkit.connect(backend="sim", lab="01-external-access")
    lab.deploy_client()
    lab.set_outbound_policy("REGISTRY_ONLY")
    r = lab.curl("https://www.baidu.com", "-sSI")  # at once: istiod has not pushed it yet
    text = str(r.explain())
    assert r.exit_code == 0
    assert re.search(r"ConfigMap istio-system/istio was applied \d+\.\d s before this request", text), text


def test_the_readme_snippet_prints_what_its_comments_promise() -> None:
    block = re.search(r"## Using labkit\n\n```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert block is not None
    lines = [line.split("#", 1)[0].rstrip() for line in block.group(1).splitlines()]
    code = "\n".join(line for line in lines if line.strip()) + "\n"
    out = subprocess.run(
        [sys.executable, "-i", "-q"], input=code, capture_output=True, text=True, timeout=120, check=False
    )
    # The README's comment for this line: (35, None), blocked by the sidecar (istio.io egress-control).
    assert "(35, None)" in out.stdout, out.stdout + out.stderr
