"""Notebook integration: cleanup runs when a cell fails and when the kernel exits."""

from __future__ import annotations

import atexit
import contextlib
import weakref
from typing import TYPE_CHECKING

from rich.text import Text

from .display import show

if TYPE_CHECKING:
    from .lab import Lab


def install_cleanup(lab: Lab) -> None:
    ref = weakref.ref(lab)

    def run_cleanup(reason: str) -> None:
        target = ref()
        if target is None or target.is_clean:
            return
        # One output for the whole clean-up, not one per line.
        report = Text(f"{reason}: cleaning up what lab {target.name} changed…", style="yellow")
        try:
            for line in target.cleanup():
                report.append(f"\n  {line}", style="dim")
        except Exception as exc:  # never mask the original failure
            report.append(f"\ncleanup problem: {exc}", style="red")
        show(report, target.console)

    atexit.register(run_cleanup, "the kernel is exiting")
    with contextlib.suppress(ImportError):
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:

            def after_cell(result) -> None:
                if result.error_in_exec is not None:
                    run_cleanup("a cell failed")

            shell.events.register("post_run_cell", after_cell)
