"""The simulator's virtual clock, as seen by clients that live in real time.

Behind the API, time is virtual: a curl of ``/delay/5`` advances it by five seconds and returns at
once, and Istio config reaches the proxies ``push_delay`` virtual seconds after it is written. The
kube backend's client, though, waits and retries in real seconds. Two rules join the two:

* the virtual clock never runs behind the wall clock: before each request it is advanced by the real
  time that passed, so config written a second ago (real) has been pushed, and a check that retries
  every second sees the change after one retry, not after minutes of retries that advance nothing;
* a simulated command takes as long in real time as it did in virtual time: the exec answer is held
  back for the command's virtual duration, so the client measures what a real curl would take
  (``elapsed=(4.5, 9.0)`` for ``/delay/5``), and a curl timeout makes the caller wait as on a cluster.

The virtual clock may run ahead of the wall clock (a command advanced it), never behind it; the
real wait that follows lets the wall clock catch up without counting the same seconds twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..sim.clock import VirtualClock


class WallClock:
    def __init__(self, virtual: VirtualClock, wall: Callable[[], float] = time.monotonic) -> None:
        self.virtual = virtual
        self._wall = wall
        self._origin = wall() - virtual.now()

    def sync(self) -> None:
        """Advance the virtual clock to the wall clock if it fell behind (call with the sim locked)."""
        behind = (self._wall() - self._origin) - self.virtual.now()
        if behind > 0:
            self.virtual.sleep(behind)

    @staticmethod
    def hold(seconds: float, stop: threading.Event) -> None:
        """Wait ``seconds`` of real time (the command's virtual duration), or until the server stops."""
        if seconds > 0:
            stop.wait(seconds)
