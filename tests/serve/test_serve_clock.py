"""The virtual clock behind the API keeps up with the wall clock, and never runs behind it."""

from __future__ import annotations

import threading
import time

from labkit.serve.clock import WallClock
from labkit.sim.clock import VirtualClock


class FakeWall:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_real_seconds_advance_the_virtual_clock() -> None:
    wall, virtual = FakeWall(), VirtualClock(wall=None)
    clock = WallClock(virtual, wall)
    wall.t += 2.5
    clock.sync()
    assert virtual.now() == 2.5


def test_a_clock_that_ran_ahead_is_not_moved_back_nor_advanced_twice() -> None:
    wall, virtual = FakeWall(), VirtualClock(wall=None)
    clock = WallClock(virtual, wall)
    virtual.sleep(5.0)  # a simulated /delay/5
    wall.t += 3.0
    clock.sync()
    assert virtual.now() == 5.0  # ahead of the wall: left alone
    wall.t += 5.0  # the real wait for the command is over, and more
    clock.sync()
    assert virtual.now() == 8.0  # the 5 s are not counted twice


def test_hold_waits_in_real_time_and_stops_with_the_server() -> None:
    stop = threading.Event()
    start = time.monotonic()
    WallClock.hold(0.2, stop)
    assert time.monotonic() - start >= 0.2
    stop.set()
    start = time.monotonic()
    WallClock.hold(30.0, stop)
    assert time.monotonic() - start < 1.0
