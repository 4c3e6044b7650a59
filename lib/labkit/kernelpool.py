"""Kernels started ahead of their notebooks, so a run never waits for a kernel to boot.

A Jupyter kernel takes about half a second to start (a Python process importing IPython and
ipykernel). Each notebook still gets its own fresh kernel, started with that notebook's environment
and working directory exactly as papermill would start it; the only change is *when*: the kernel of
the lab ``ahead`` places later in the run is launched as a lab begins, so it boots while other
notebooks run. papermill then executes the notebook in that kernel and shuts it down after, as it
does with one it started itself (``ENGINE``), writing the output notebook as it goes at most once
a second (``SAVE_EVERY``) instead of twice per cell.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

#: The papermill engine that runs a notebook in a kernel started for it beforehand (``km=``).
ENGINE = "labkit-prestarted"

Item = TypeVar("Item")


class KernelStarter(Generic[Item]):
    """Launches the kernel of ``items[i + ahead]`` when item ``i`` is taken; ``close`` ends the
    kernels nobody took (a stopped run, or labs never reached)."""

    def __init__(self, items: Sequence[Item], start: Callable[[Item], Any], ahead: int) -> None:
        self._items = list(items)
        self._start = start
        self._ahead = max(0, ahead)
        self._launched: dict[int, Future[Any]] = {}
        self._closed = False
        self._lock = threading.Lock()

    def take(self, index: int) -> Any:
        """The started kernel manager for ``items[index]``; raises what starting it raised."""
        own = self._launch(index)
        for later in range(index + 1, min(index + self._ahead, len(self._items) - 1) + 1):
            self._launch(later)
        manager = own.result()  # started by this thread just now, or by another one earlier
        with self._lock:
            self._launched[index] = _TAKEN
        return manager

    def _launch(self, index: int) -> Future[Any]:
        with self._lock:
            if index in self._launched:
                return self._launched[index]
            future: Future[Any] = Future()
            self._launched[index] = future  # claimed: no other thread starts it again
            closed = self._closed
        if closed:
            future.set_exception(RuntimeError("the run has ended"))
            return future
        try:
            future.set_result(self._start(self._items[index]))
        except Exception as exc:  # raised when its lab is taken, as papermill would raise it there
            future.set_exception(exc)
        except BaseException as stop:  # Ctrl-C while launching: nobody waits for this one
            future.set_exception(stop)
            raise
        with self._lock:
            closed = self._closed
        if closed and future.exception() is None:
            shutdown_now(future.result())  # close() ran while this one was starting
        return future

    def close(self) -> None:
        """Shut down every kernel started and not taken."""
        with self._lock:
            self._closed = True
            waiting = [f for f in self._launched.values() if f is not _TAKEN and f.done()]
        for future in waiting:
            if future.exception() is None:
                shutdown_now(future.result())


#: What ``KernelStarter`` keeps for a kernel handed out: it is the notebook's to shut down now.
_TAKEN: Future[Any] = Future()


def running(manager: Any) -> bool:
    """Whether the manager's kernel process is still there."""
    from jupyter_core.utils import run_sync

    try:
        return bool(manager.has_kernel and run_sync(manager.is_alive)())
    except Exception:
        return False


def shutdown_now(manager: Any) -> None:
    from jupyter_core.utils import run_sync

    with contextlib.suppress(Exception):  # already gone: nothing else to release
        run_sync(manager.shutdown_kernel)(now=True)


def start_kernel(manager_class: type, kernel_name: str, cwd: str) -> Any:
    """A kernel started as nbclient starts one for a notebook (same arguments, same directory)."""
    from jupyter_core.utils import run_sync

    manager = manager_class(kernel_name=kernel_name)
    # nbclient keeps an ipykernel's history in memory (NotebookClient.ipython_hist_file), so kernels
    # running side by side never lock the same history database.
    extra = ["--HistoryManager.hist_file=:memory:"] if getattr(manager, "ipykernel", False) else []
    try:
        run_sync(manager.start_kernel)(extra_arguments=extra, cwd=cwd)
    except BaseException:
        shutdown_now(manager)  # a half-started kernel must not outlive the run
        raise
    return manager


def register_engine() -> None:
    """Make ``ENGINE`` known to papermill (once)."""
    from papermill.engines import papermill_engines

    if ENGINE not in papermill_engines._engines:
        papermill_engines.register(ENGINE, _prestarted_engine())


#: Seconds between two writes of the output notebook while it runs (papermill writes it as every
#: cell starts and ends, each write validated: about forty per lab, most of them within a second).
SAVE_EVERY = 1.0


def _prestarted_engine() -> type:
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, NotebookExecutionManager
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class PacedSaves(NotebookExecutionManager):  # type: ignore[misc]
        """Writes the running notebook at most every ``SAVE_EVERY`` seconds, and always first and
        last, so the file still follows a long run while a fast one is written a few times."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.last_write: float | None = None
            self.finishing = False

        def save(self, **kwargs: Any) -> Any:
            now = time.monotonic()
            if self.finishing or self.last_write is None or now - self.last_write >= SAVE_EVERY:
                self.last_write = now
                return super().save(**kwargs)
            return None

        def notebook_complete(self, **kwargs: Any) -> Any:
            self.finishing = True
            return super().notebook_complete(**kwargs)

    class PrestartedKernelEngine(NBClientEngine):
        """papermill's nbclient engine, given the kernel manager (``km``) of a started kernel."""

        @classmethod
        def execute_notebook(  # type: ignore[override]
            cls,
            nb: Any,
            kernel_name: str,
            output_path: Any = None,
            progress_bar: bool = True,
            log_output: bool = False,
            autosave_cell_every: int = 30,
            **kwargs: Any,
        ) -> Any:
            # papermill's Engine.execute_notebook, with PacedSaves as the execution manager.
            nb_man = PacedSaves(
                nb,
                output_path=output_path,
                progress_bar=progress_bar,
                log_output=log_output,
                autosave_cell_every=autosave_cell_every,
            )
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            return nb_man.nb

        @classmethod
        def execute_managed_notebook(  # type: ignore[override]
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: float = 60,
            execution_timeout: float | None = None,
            **kwargs: Any,
        ) -> Any:
            # The same options NBClientEngine hands nbclient.
            kwargs = remove_args(["input_path"], **kwargs)
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(
                safe_kwargs,
                timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            # cleanup_kc: shut the kernel down after the notebook, as for a kernel nbclient starts.
            return PapermillNotebookClient(nb_man, **final_kwargs).execute(cleanup_kc=True)

    return PrestartedKernelEngine
