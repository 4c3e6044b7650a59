"""The simulator's clock: real time that simulated waits may run ahead of, never behind.

Two rules make it behave like a mesh a learner can poke at:

* it never lags the wall clock: a learner who waits a second (or just runs the next cell) sees
  config that was applied a second ago, exactly as on a cluster where istiod pushes within about
  a second;
* simulated waits cost no real time: a curl of ``/delay/5`` moves the clock five seconds ahead and
  returns at once. Real time passing afterwards is not counted twice: the clock only moves again
  once the wall clock has caught up with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone


class VirtualClock:
    def __init__(self, wall: Callable[[], float] | None = time.monotonic, epoch: datetime | None = None) -> None:
        """``wall=None`` gives a purely virtual clock (time moves only by ``sleep``), for tests that
        need exact times. ``epoch`` is the date the clock's zero stands for (default: now)."""
        self._wall = wall
        self._origin = wall() if wall is not None else 0.0
        self._ahead = 0.0  # the latest time a simulated wait reached
        self.epoch = epoch or datetime.now(timezone.utc).replace(microsecond=0)

    def _wall_elapsed(self) -> float:
        return self._wall() - self._origin if self._wall is not None else 0.0

    def now(self) -> float:
        return max(self._ahead, self._wall_elapsed())

    def sleep(self, seconds: float) -> None:
        """A simulated wait: the clock moves ``seconds`` ahead of now, at no real cost."""
        if seconds < 0:
            raise ValueError("cannot sleep a negative time")
        self._ahead = self.now() + seconds

    def datetime(self, at: float | None = None) -> datetime:
        return self.epoch + timedelta(seconds=self.now() if at is None else at)

    def timestamp(self, at: float | None = None) -> str:
        """Envoy's %START_TIME% format, e.g. ``2026-01-01T09:00:01.250Z``."""
        moment = self.datetime(at)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def http_date(self, at: float | None = None) -> str:
        """The ``date`` header servers and Envoy send (RFC 9110 IMF-fixdate)."""
        return self.datetime(at).strftime("%a, %d %b %Y %H:%M:%S GMT")
