"""A virtual clock: ``/delay/5`` and retry loops advance it instead of waiting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

EPOCH = datetime(2026, 1, 1, 9, 0, 0, tzinfo=timezone.utc)


class VirtualClock:
    def __init__(self) -> None:
        self.seconds = 0.0

    def now(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("cannot sleep a negative time")
        self.seconds += seconds

    def timestamp(self, at: float | None = None) -> str:
        """Envoy's %START_TIME% format, e.g. ``2026-01-01T09:00:01.250Z``."""
        moment = EPOCH + timedelta(seconds=self.seconds if at is None else at)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
