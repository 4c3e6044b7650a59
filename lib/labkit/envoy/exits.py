"""Cleanup on every way out: ``cleanup()``, interpreter exit, SIGTERM; SIGINT by way of the other two.

Live runs register here. At interpreter exit (atexit) every live run is cleaned up. SIGTERM, whose
default action would end the process without running atexit, is caught: the runs are cleaned up, then
the signal is delivered again with the handler that was there before, so the process still ends the way
its owner expects. SIGINT needs no handler: Python turns it into KeyboardInterrupt, which either ends the
program (and atexit runs) or is caught by its owner (a notebook cell interrupted), and the run lives on.
A process killed with SIGKILL runs nothing: ``labkit.envoy.reset`` removes what it left.
"""

from __future__ import annotations

import atexit
import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol


class Cleanable(Protocol):
    def cleanup(self) -> None: ...


_live: list[Cleanable] = []
_lock = threading.Lock()
_installed = False
_previous_term: Any = None


def register(item: Cleanable) -> None:
    with _lock:
        _live.append(item)
    _install()


def unregister(item: Cleanable) -> None:
    with _lock:
        if item in _live:
            _live.remove(item)


def cleanup_all() -> None:
    with _lock:
        items = list(reversed(_live))
    for item in items:
        # Keep going on failure: every other run must still be cleaned up.
        with contextlib.suppress(Exception):
            item.cleanup()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    cleanup_all()
    previous = _previous_term
    signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous in (signal.SIG_DFL, None):
        signal.raise_signal(signal.SIGTERM)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _install(on_main_thread: Callable[[], bool] = _on_main_thread) -> None:
    global _installed, _previous_term
    if _installed:
        return
    _installed = True
    atexit.register(cleanup_all)
    # Signal handlers can only be set from the main thread; elsewhere atexit still covers a normal exit.
    if on_main_thread():
        _previous_term = signal.getsignal(signal.SIGTERM)
        if _previous_term is not signal.SIG_IGN:
            signal.signal(signal.SIGTERM, _on_sigterm)
