"""SIGTERM and SIGHUP stop ``labkit run`` the way Ctrl-C does, so the guard's cleanup still runs.

``timeout``, a cancelled CI job and a closed terminal send SIGTERM or SIGHUP, whose default action
kills the process on the spot, before the ``finally`` blocks that restore the cluster. While
``interruptible`` is active they raise ``Stopped`` instead: a ``KeyboardInterrupt``, so everything that
already handles Ctrl-C handles them too. Once one arrived, further ones are ignored, so a second
signal cannot cut the cleanup short (a supervisor that really wants the process gone sends SIGKILL).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """A stop signal arrived; ``exit_code`` is the shell's convention for it (128 + its number)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _raise(signum: int, frame: FrameType | None) -> None:
    for other in SIGNALS:
        signal.signal(other, signal.SIG_IGN)  # the cleanup this starts must not be interrupted in turn
    raise Stopped(signum)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into ``Stopped`` inside the block (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _raise) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def exit_code(exc: KeyboardInterrupt) -> int:
    """130 for Ctrl-C (128 + SIGINT), 143 for SIGTERM, 129 for SIGHUP."""
    return exc.exit_code if isinstance(exc, Stopped) else 128 + signal.SIGINT
