"""Run lab notebooks end to end with papermill and summarise what each one proved.

Each notebook runs in a fresh kernel with its ``backend`` parameter injected. The kernel's labkit
writes every check it makes to ``<out>/<lab>.checks.json`` (``LABKIT_RECORD_DIR``), so the summary
and the JUnit report can name the check that failed instead of only the cell that raised.

On a real cluster each notebook runs between a snapshot and a restore (``snapshot.Guard``): whatever
it leaves behind is cleaned up, and reported as a failure of that lab.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from . import paths
from .backend import Backend
from .checks import Check
from .connect import AUTO_CHOICE_VAR, AUTO_REASON_VAR
from .errors import LabkitError, UnknownChoice
from .kernelpool import ENGINE, KernelStarter, register_engine, running, shutdown_now, start_kernel
from .labinfo import LAB_PATTERN, LabInfo, catalogue, notebook_title  # noqa: F401  (the lab catalogue)
from .snapshot import ClusterReport, Guard

#: The exception a failing check raises in the kernel (labkit.checks.ExpectationFailed).
CHECK_FAILURE = "ExpectationFailed"
BACKENDS = ("auto", "sim", "kube", "envoy")
#: Whether notebooks on a backend may run at the same time. Each sim kernel builds its own private
#: mesh; kube labs share one mesh-wide config (the outbound policy, the istio ConfigMap), so one
#: lab's change would break another's checks. A backend missing here runs one notebook at a time.
#: envoy: every run names its namespaces after a unique run id, but two data planes on a 2-core
#: machine race for the CPU while timing real delays, so its labs run one at a time as well.
PARALLEL_SAFE: dict[str, bool] = {"sim": True, "kube": False, "envoy": False}
#: ``labkit run --api``: the notebook parameter that picks Istio's own API or the Kubernetes Gateway
#: API for a lab's routing, its values, and ``both`` (each lab that takes it runs once per value).
API_PARAMETER = "api"
APIS = ("istio", "gateway-api")
API_CHOICES = (*APIS, "both")
#: The kernel ``make venv`` registers (see the README); plain ``python3`` when it is not installed.
LAB_KERNEL, FALLBACK_KERNEL = "labkit", "python3"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


class UnknownLab(LabkitError):
    """A lab name on the command line matches no notebook."""


def variant_name(lab: str, variant: str) -> str:
    """How results name a lab run with a variant: ``01-external-access [gateway-api]``."""
    return f"{lab} [{variant}]" if variant else lab


@dataclass(frozen=True)
class LabRun:
    """One notebook execution of a run: a lab, and the variant (``--api`` value) it runs with."""

    lab: LabInfo
    variant: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)  # what the variant sets

    @property
    def name(self) -> str:
        return variant_name(self.lab.name, self.variant)

    @property
    def stem(self) -> str:
        """The file name of its executed notebook, without ``.ipynb``: ``01-external-access.gateway-api``."""
        return f"{self.lab.name}.{self.variant}" if self.variant else self.lab.name

    def record_dir(self, out: Path) -> Path:
        """Where its kernel writes the check records. Records are named after the lab, so each
        variant has its own folder: two variants may run side by side."""
        return out / self.variant if self.variant else out


@dataclass(frozen=True)
class CellError:
    """The error that stopped a notebook."""

    ename: str
    evalue: str
    cell_index: int | None = None
    traceback: str = ""

    def short(self, limit: int = 200) -> str:
        text = f"{self.ename}: {self.evalue}" if self.evalue else self.ename
        text = strip_ansi(text).strip()
        return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class LabResult:
    """How one notebook went."""

    lab: LabInfo
    backend: str  # what was asked for: auto, sim or kube
    output: Path
    seconds: float = 0.0
    error: CellError | None = None
    checks: list[Check] = field(default_factory=list)
    record_problem: str = ""  # the checks file existed but could not be read
    cluster: ClusterReport | None = None  # how it left the cluster (real clusters only)
    variant: str = ""  # the --api value this run was given, when the lab takes one

    @property
    def name(self) -> str:
        """The lab's name, with the API it ran with: ``01-external-access [gateway-api]``."""
        return variant_name(self.lab.name, self.variant)

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.passed and not c.skipped]

    @property
    def passed(self) -> bool:
        # A check recorded as failed fails the lab even if the notebook swallowed it; so does a
        # lab that left something in the cluster, even when labkit could clean it up.
        return self.error is None and not self.failed_checks and self.cluster_clean

    @property
    def cluster_clean(self) -> bool:
        return self.cluster is None or self.cluster.clean

    @property
    def status(self) -> str:
        return "passed" if self.passed else "failed"

    @property
    def simulated(self) -> bool:
        return any(c.simulated for c in self.checks)

    @property
    def backend_used(self) -> str:
        """The backend the checks ran on, when the records tell (``auto`` resolves in the kernel)."""
        if self.backend == "auto" and self.checks:  # an explicit backend (envoy too) is the one used
            if all(c.simulated for c in self.checks):
                return "sim"
            if not any(c.simulated for c in self.checks):
                return "kube"
        return self.backend

    @property
    def error_outside_checks(self) -> bool:
        """The notebook stopped for a reason other than a failing check (a typo, a dead kernel...)."""
        if self.error is None:
            return False
        return not (self.error.ename == CHECK_FAILURE and self.failed_checks)


@dataclass
class RunSummary:
    """All labs of one run; renders as a rich table."""

    results: list[LabResult]
    backend: str
    out: Path

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> list[LabResult]:
        return [r for r in self.results if not r.passed]

    def __rich__(self) -> RenderableType:
        table = Table(title="Lab results", box=box.SIMPLE_HEAVY, expand=False)
        table.add_column("lab", style="bold")
        table.add_column("backend")
        table.add_column("result")
        table.add_column("time", justify="right")
        table.add_column("checks", justify="right")
        table.add_column("first failure", overflow="fold")
        for r in self.results:
            backend = r.backend_used if r.backend_used == r.backend else f"{r.backend} → {r.backend_used}"
            result = Text("PASSED", style="bold green") if r.passed else Text("FAILED", style="bold red")
            if r.simulated:
                result.append(" simulated", style="magenta")
            n_ok = sum(c.passed for c in r.checks)
            n_na = sum(c.skipped for c in r.checks)
            counted = len(r.checks) - n_na
            checks = Text(f"{n_ok}/{counted}", style="green" if n_ok == counted else "red")
            if n_na:
                checks.append(f" +{n_na} n/a", style="yellow")
            table.add_row(Text(r.name), backend, result, f"{r.seconds:.1f}s", checks, _first_failure(r))
        n_ok = sum(r.passed for r in self.results)
        table.caption = f"{n_ok}/{len(self.results)} labs passed · executed notebooks in {self.out}"
        parts: list[RenderableType] = [table]
        if any(r.simulated for r in self.results):
            parts.append(
                Text(
                    "simulated: checks ran against the offline mesh simulator, not a real cluster.",
                    style="magenta",
                )
            )
        return Group(*parts)


def _first_failure(r: LabResult) -> Text:
    text = Text()
    if r.failed_checks:
        c = r.failed_checks[0]
        text.append(c.title, style="bold")
        text.append(f"\nexpected: {c.expected}\nactual:   {c.actual}", style="dim")
        if c.hint:
            text.append(f"\nhint: {c.hint}", style="yellow")
    if r.error_outside_checks and r.error is not None:
        if text:
            text.append("\n")
        where = f"cell {r.error.cell_index + 1}: " if r.error.cell_index is not None else ""
        text.append(f"{where}{r.error.short()}", style="red")
    if r.record_problem:
        text.append(("\n" if text else "") + r.record_problem, style="yellow")
    if r.cluster is not None and not r.cluster.clean:
        text.append(("\n" if text else "") + "\n".join(r.cluster.problems), style="red")
    if not r.passed:
        text.append(f"\nsee {r.output}", style="dim")
    return text


# -- discovery -------------------------------------------------------------------------------


def discover(notebooks_dir: Path | None = None) -> list[LabInfo]:
    """Every lab notebook in ``notebooks_dir`` (default: ``paths.notebooks_dir()``), in order."""
    return catalogue(notebooks_dir)


def select(names: list[str] | None, notebooks_dir: Path | None = None) -> list[LabInfo]:
    """Resolve lab names (``01``, ``1``, ``01-external-access`` or a notebook path) to labs.

    Raises UnknownLab, listing the labs that exist, before anything runs.
    """
    available = discover(notebooks_dir)
    where = Path(notebooks_dir or paths.notebooks_dir())
    if not available:
        raise UnknownLab(f"no lab notebooks (NN-name.ipynb) in {where}")
    if not names:
        return available
    chosen: list[LabInfo] = []
    unknown: list[str] = []
    for raw in names:
        key = Path(raw).name.removesuffix(".ipynb")
        matches = [lab for lab in available if lab.name == key]
        if not matches and key.isdigit():
            matches = [lab for lab in available if lab.number == int(key)]
        if len(matches) != 1:
            unknown.append(raw)
            continue
        if matches[0] not in chosen:
            chosen.append(matches[0])
    if unknown:
        listing = "\n".join(f"  {lab.name}" for lab in available)
        raise UnknownLab(
            f"unknown lab{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}\navailable labs:\n{listing}",
            hint="Name a lab by its number (01) or its full name (01-external-access).",
        )
    return chosen


# -- running ---------------------------------------------------------------------------------


def run_labs(
    labs: list[str] | None,
    backend: str,
    out: Path,
    *,
    kernel_name: str | None = None,
    timeout_per_cell: float | None = 600,
    progress: bool = True,
    notebooks_dir: Path | None = None,
    console: Console | None = None,
    cluster: Backend | None = None,
    jobs: int | None = None,
    parameters: Mapping[str, Any] | None = None,
    on_result: Callable[[LabResult], None] | None = None,
    api: str | None = None,
) -> RunSummary:
    """Execute the selected labs (all when ``labs`` is empty) and return what happened.

    A failing notebook does not stop the others. Executed notebooks and check records land in ``out``.
    ``cluster`` is the backend the runner snapshots and restores around each notebook; by default a
    connection to the cluster when the labs run on ``kube`` (with ``auto``, when a cluster answers).
    ``jobs``: how many notebooks run at once where the backend allows it (``PARALLEL_SAFE``);
    ``None`` means one per CPU. Results keep the order of ``labs`` whatever finishes first.
    ``parameters`` fill the notebooks' parameters cells (``labkit run -p name=value``); a name some
    selected notebook lacks is refused before anything runs.
    ``on_result`` is called with each lab's result as soon as that lab ends (in the thread that ran
    it), e.g. to render its report while the other labs still run.
    ``api`` (``labkit run --api``) is given to the labs whose parameters cell defines ``api``: one
    value, or ``both`` to run each such lab once per value (``plan_runs``); None leaves their default.
    """
    if backend not in BACKENDS:
        raise UnknownChoice("backend", backend, BACKENDS, fix="labkit run --backend sim|kube|envoy|auto")
    selected = select(labs, notebooks_dir)
    for lab in selected:
        check_parameters(lab, parameters or {})
    runs = plan_runs(selected, parameters or {}, api)
    # The kernel starts in the notebooks directory, so every path we hand it must be absolute.
    out = Path(out).resolve()
    kernel_name, note = choose_kernel(kernel_name)
    if note and progress:
        (console or Console(stderr=True)).print(f"[yellow]{note}[/]")
    with private_output(out):
        return _run_selected(
            runs, backend, out, kernel_name, timeout_per_cell, progress, console, cluster, jobs,
            dict(parameters or {}), on_result,
        )  # fmt: skip


def notebook_parameters(path: Path) -> list[str]:
    """The names the notebook's ``parameters`` cell assigns (papermill injects values after it)."""
    import ast

    import nbformat

    nb = nbformat.read(path, as_version=4)
    cell = next((c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return []
    names: list[str] = []
    for node in ast.parse(cell.source).body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def check_parameters(lab: LabInfo, parameters: Mapping[str, Any]) -> None:
    """Refuse a parameter the lab's notebook does not take, before anything runs."""
    from .errors import LabkitError, UnknownChoice

    if "backend" in parameters:
        raise LabkitError("-p backend=...: the backend is chosen with --backend", hint="labkit run --backend sim")
    if not parameters:
        return
    known = notebook_parameters(lab.path)
    for name in parameters:
        if name not in known:
            raise UnknownChoice(f"parameter of {lab.name}", name, known, fix="see the notebook's parameters cell")


def plan_runs(selected: list[LabInfo], parameters: Mapping[str, Any], api: str | None) -> list[LabRun]:
    """The notebook executions of a run: one per lab, and with ``api="both"`` one per API value for
    each lab whose parameters cell defines ``api`` (the others run once, as they are)."""
    if api is None:
        return [LabRun(lab) for lab in selected]
    if api not in API_CHOICES:
        raise UnknownChoice("--api", api, API_CHOICES)
    if API_PARAMETER in parameters:
        raise LabkitError(
            f"-p {API_PARAMETER}={parameters[API_PARAMETER]} and --api {api} both choose the API",
            hint=f"give one of them: --api {api} (or both) for every lab that takes it, or -p {API_PARAMETER}=...",
        )
    takes = [lab for lab in selected if API_PARAMETER in notebook_parameters(lab.path)]
    if not takes:
        raise LabkitError(
            f"--api {api}: none of the selected labs ({', '.join(lab.name for lab in selected)}) has an "
            f"{API_PARAMETER!r} parameter",
            hint="drop --api for these labs; it applies to labs whose parameters cell sets api = ...",
        )
    values = APIS if api == "both" else (api,)
    runs: list[LabRun] = []
    for lab in selected:
        if lab in takes:
            runs += [LabRun(lab, value, {API_PARAMETER: value}) for value in values]
        else:
            runs.append(LabRun(lab))
    return runs


def choose_kernel(requested: str | None, installed: set[str] | None = None) -> tuple[str, str]:
    """The Jupyter kernel to run in, and a note when it is not the one asked for or expected.

    ``requested`` wins when given (papermill names a missing one). Otherwise the project's ``labkit``
    kernel when it is installed, else ``python3``, saying why.
    """
    if requested:
        return requested, ""
    if installed is None:
        from jupyter_client.kernelspec import KernelSpecManager

        installed = set(KernelSpecManager().find_kernel_specs())
    if LAB_KERNEL in installed:
        return LAB_KERNEL, ""
    return FALLBACK_KERNEL, (
        f"the {LAB_KERNEL!r} Jupyter kernel is not installed (`make venv` registers it); "
        f"running the labs in {FALLBACK_KERNEL!r}"
    )


def parallel_jobs(backend: str, requested: int | None, labs: int) -> int:
    """How many notebooks run at once: ``requested`` (default: the CPU count) where ``backend`` is
    parallel-safe, else 1; never more than there are labs."""
    if not PARALLEL_SAFE.get(backend, False):
        return 1
    wanted = requested if requested is not None else (os.cpu_count() or 1)
    return max(1, min(wanted, labs))


def _run_selected(
    selected: list[LabRun],
    backend: str,
    out: Path,
    kernel_name: str,
    timeout_per_cell: float | None,
    progress: bool,
    console: Console | None,
    cluster: Backend | None,
    jobs: int | None = None,
    parameters: dict[str, Any] | None = None,
    on_result: Callable[[LabResult], None] | None = None,
) -> RunSummary:
    console = console or Console(stderr=True)
    # The runner decides "auto" once, so its snapshots and the kernels talk to the same mesh.
    kernel_backend, reason = _resolve_auto(cluster) if backend == "auto" else (backend, "")
    workers = parallel_jobs(kernel_backend, jobs, len(selected))
    if progress and jobs is not None and jobs > 1 and workers == 1 and len(selected) > 1:
        console.print(
            f"[yellow]backend {kernel_backend}: labs share one mesh, so they run one at a time "
            f"(--jobs {jobs} ignored)[/]"
        )
    owned = cluster is None and kernel_backend == "kube"
    if owned:
        from .connect import make_backend

        cluster, _ = make_backend("kube")

    def start(item: LabRun) -> Any:
        env = kernel_env(item.lab, item.record_dir(out), backend, kernel_backend, reason)
        return start_kernel(kernel_manager_class(env), kernel_name, str(item.lab.path.parent))

    # Each lab's kernel boots while the labs before it run (one ahead per worker).
    kernels = KernelStarter(selected, start, ahead=workers)

    def run(i: int, item: LabRun) -> LabResult:
        if progress and workers == 1:
            console.rule(f"[bold]{escape(item.name)}[/] ({i}/{len(selected)}) · backend {backend}")
        # Only a real cluster keeps state between kernels; each simulator starts fresh.
        guard = Guard(cluster) if cluster is not None and kernel_backend == "kube" else None
        _current_lab.name = item.name if workers > 1 else ""
        result = _run_one(
            item.lab, backend, kernel_backend, out, kernel_name, timeout_per_cell, progress, guard, reason,
            {**(parameters or {}), **item.parameters}, kernel=lambda: kernels.take(i - 1), variant=item.variant,
        )  # fmt: skip
        if progress:
            style = "green" if result.passed else "red"
            console.print(f"[{style}]{escape(item.name)} {result.status}[/] in {result.seconds:.1f}s")
            if result.cluster is not None:
                for line in result.cluster.problems:
                    console.print(f"  [red]{line}[/]")
        if on_result is not None:
            on_result(result)
        return result

    try:
        with _papermill_logging(progress):
            if workers == 1:
                results = [run(i, item) for i, item in enumerate(selected, 1)]
            else:
                if progress:
                    console.rule(f"[bold]{len(selected)} labs[/], {workers} at a time · backend {backend}")
                results = _run_side_by_side(run, selected, workers)
    finally:
        kernels.close()
        if owned and cluster is not None:
            cluster.close()
    return RunSummary(results=results, backend=backend, out=out)


def _run_side_by_side(run: Any, selected: list[LabRun], workers: int) -> list[LabResult]:
    """``run`` for every lab, ``workers`` at a time, results in the selection order (so the reports
    read as a serial run's would). Ctrl-C or a stop signal kills the running kernels, which ends their
    threads at once; a serial run stops its one kernel through papermill."""
    pool = ThreadPoolExecutor(max_workers=workers)
    futures = [pool.submit(run, i, item) for i, item in enumerate(selected, 1)]
    try:
        return [f.result() for f in futures]
    except BaseException:
        for f in futures:
            f.cancel()
        _kill_running_kernels()
        raise
    finally:
        pool.shutdown(wait=True)


def _kill_running_kernels() -> None:
    for manager in list(_running_kernels):
        process = getattr(getattr(manager, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            process.kill()


@contextlib.contextmanager
def private_output(out: Path) -> Iterator[Path]:
    """``out`` as a folder only its owner can open (0700), with every file written in it 0600.

    Executed notebooks, check records and reports hold what the cluster answered (a lab's Secrets
    included), so while the block runs the umask keeps new files private (the kernels inherit it),
    and afterwards files left by older runs are made private too.
    """
    out = Path(out)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    out.chmod(0o700)
    previous = os.umask(0o077)
    try:
        yield out
    finally:
        os.umask(previous)
        restrict(out)


def restrict(out: Path) -> None:
    """chmod 0600 every file and 0700 every folder under ``out`` that this user owns."""
    uid = os.getuid()
    for path in [out, *out.rglob("*")]:
        try:
            info = path.lstat()
            if info.st_uid != uid or path.is_symlink():
                continue
            path.chmod(0o700 if path.is_dir() else 0o600)
        except OSError:
            continue  # gone meanwhile, or not ours to change


def _resolve_auto(cluster: Backend | None) -> tuple[str, str]:
    """The backend ``auto`` stands for in this run, and why (the kernels' banners repeat the reason)."""
    if cluster is not None:
        return cluster.name, f"the runner was given a {cluster.name} backend"
    from .connect import detect

    return detect()


def _run_one(
    lab: LabInfo,
    backend: str,
    kernel_backend: str,
    out: Path,
    kernel_name: str,
    timeout: float | None,
    progress: bool,
    guard: Guard | None = None,
    reason: str = "",
    parameters: Mapping[str, Any] | None = None,
    kernel: Callable[[], Any] | None = None,
    variant: str = "",
) -> LabResult:
    """``kernel`` hands over the kernel manager of a kernel started for this lab (``kernelpool``);
    without it papermill starts one. ``variant``: the ``--api`` value, which names the outputs."""
    import papermill  # slow to import; only the run command needs it
    from papermill.exceptions import PapermillExecutionError

    item = LabRun(lab, variant)
    output = out / f"{item.stem}.ipynb"
    records = item.record_dir(out)
    records.mkdir(exist_ok=True)
    record = records / f"{lab.name}.checks.json"
    applied = records / f"{lab.name}.applied.yaml"
    # A record left by an earlier run would be mistaken for this run's checks.
    record.unlink(missing_ok=True)
    applied.unlink(missing_ok=True)  # the guard reads this run's kinds from it
    result = LabResult(lab=lab, backend=backend, output=output, variant=variant)
    if guard is not None:
        guard.snapshot()
    start = time.monotonic()
    started: dict[str, Any] = {}
    try:
        if kernel is not None:
            register_engine()
            started = {"km": kernel(), "engine_name": ENGINE}
        # Neither papermill's ``cwd`` (a process-wide chdir) nor os.environ: both would leak between
        # notebooks running side by side. The kernel gets its directory and variables at launch.
        papermill.execute_notebook(
            str(lab.path),
            str(output),
            parameters={**(parameters or {}), "backend": kernel_backend},
            kernel_name=kernel_name,
            log_output=progress,
            progress_bar=False,
            execution_timeout=timeout if timeout and timeout > 0 else None,  # 0: no limit
            kernel_manager_class=kernel_manager_class(kernel_env(lab, records, backend, kernel_backend, reason)),
            resources={"metadata": {"path": str(lab.path.parent)}},  # the kernel's working directory
            # A simulated mesh lives inside its kernel, so once the last cell has answered there is
            # nothing for the kernel's exit hooks to undo: end it at once. Elsewhere they may
            # (labkit's clean-up on a cluster, the envoy backend's namespaces): let them run.
            shutdown_kernel="immediate" if kernel_backend == "sim" else "graceful",
            **started,
        )
    except PapermillExecutionError as e:
        result.error = CellError(
            ename=e.ename, evalue=str(e.evalue), cell_index=e.cell_index, traceback="\n".join(e.traceback)
        )
    except Exception as e:  # a dead kernel or a cell timeout must not stop the other labs
        result.error = CellError(ename=type(e).__name__, evalue=str(e))
    finally:
        manager = started.get("km")
        if manager is not None and running(manager):  # papermill stopped before its engine ran
            shutdown_now(manager)
        # Passed, failed or interrupted: the cluster goes back to how the lab found it.
        if guard is not None:
            result.cluster = guard.settle(applied_kinds(applied))
    result.seconds = time.monotonic() - start
    result.checks, result.record_problem = read_checks(record)
    return result


def kernel_env(lab: LabInfo, out: Path, backend: str, kernel_backend: str = "", reason: str = "") -> dict[str, str]:
    """The variables one lab's kernel starts with: this process's, plus where to record its checks.

    With ``auto`` the runner chooses the backend and injects it; the two ``AUTO_*`` variables carry that
    choice and its reason, so the kernel's banner gives the real reason (no lab cluster answered)
    rather than "backend='sim' was asked for".
    """
    env = {**os.environ, "LABKIT_RECORD_DIR": str(out), "LABKIT_LAB": lab.name}
    env.pop(AUTO_CHOICE_VAR, None)
    env.pop(AUTO_REASON_VAR, None)
    if backend == "auto" and kernel_backend and reason:
        env[AUTO_CHOICE_VAR], env[AUTO_REASON_VAR] = kernel_backend, reason
    if env.get("PYTHONPATH"):
        # The kernel starts in the notebooks directory: a relative entry (PYTHONPATH=lib) would miss.
        env["PYTHONPATH"] = _absolute_paths(env["PYTHONPATH"])
    return env


def kernel_manager_class(env: dict[str, str]) -> type:
    """A jupyter_client kernel manager that launches the kernel with ``env`` and encrypted sockets.

    ipykernel warns "Kernel is running over TCP without encryption" unless the manager provisions
    CurveZMQ keys; jupyter_client does that with ``transport_encryption="auto"`` for kernelspecs that
    declare ``supported_encryption: ["curve"]`` (ipykernel >= 7 writes it), and leaves older ones as
    they were. The kernel and the runner talk over loopback either way.
    """
    import zmq
    from jupyter_client.manager import AsyncKernelManager

    # An older jupyter_client without transport_encryption would pass the option on to Popen.
    knows_encryption = AsyncKernelManager.class_traits().get("transport_encryption") is not None
    encryption = "auto" if zmq.has("curve") else "disabled"

    class LabKernelManager(AsyncKernelManager):
        launch_env = env  # what the kernel process starts with

        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            kw.setdefault("env", self.launch_env)
            if knows_encryption:
                kw.setdefault("transport_encryption", encryption)
            await super().start_kernel(**kw)
            _running_kernels.add(self)

    return LabKernelManager


def applied_kinds(record: Path) -> list[tuple[str, str]]:
    """(apiVersion, kind) of everything the kernel recorded applying (``checks.record_applied``)."""
    from . import yamlsafe

    try:
        docs = list(yamlsafe.load_all(record.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yamlsafe.YamlRefused):
        return []  # no record (nothing applied, or the kernel died first): the usual kinds are searched
    kinds = {(str(d.get("apiVersion", "")), str(d.get("kind", ""))) for d in docs if isinstance(d, dict)}
    return sorted(kinds)


def _absolute_paths(value: str) -> str:
    return os.pathsep.join(str(Path(p).resolve()) if p else p for p in value.split(os.pathsep))


def read_checks(path: Path) -> tuple[list[Check], str]:
    """The check records a kernel wrote, and a note when the file was unreadable."""
    if not path.is_file():
        return [], ""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError("not a JSON list")
        known = {f.name for f in dataclasses.fields(Check)}
        checks = [_check(item, known) for item in data]
    except (OSError, ValueError, TypeError) as e:
        return [], f"unreadable check record {path.name}: {e}"
    return checks, ""


def _check(item: Any, known: set[str]) -> Check:
    if not isinstance(item, dict):
        raise ValueError("a check record is not an object")
    kw = {k: v for k, v in item.items() if k in known}
    for key in ("title", "command", "expected", "actual", "hint"):
        kw[key] = str(kw.get(key, ""))
    kw["passed"] = bool(kw.get("passed", False))
    return Check(**kw)


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


#: Kernel managers of this process's labs, so a stopped parallel run can end their kernels.
_running_kernels: weakref.WeakSet[Any] = weakref.WeakSet()
#: The lab a runner thread is executing, to label its output when labs run side by side.
_current_lab = threading.local()


class _RawHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Cell output arrives already formatted and newline-terminated; print it as it is."""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Ending Cell"):  # one marker per cell is enough to follow progress
            return
        # Side by side, each line says which lab printed it.
        prefix = getattr(_current_lab, "name", "")
        if prefix:
            message = "".join(f"[{prefix}] {line}\n" for line in message.rstrip("\n").splitlines())
        try:
            self.stream.write(message.rstrip("\n") + "\n")
            self.flush()
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def _papermill_logging(enabled: bool) -> Iterator[None]:
    """papermill streams cell output through its logger; show it while labs run."""
    if not enabled:
        yield
        return
    logger = logging.getLogger("papermill")
    handler = _RawHandler()
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # avoid printing each line twice when the root logger is configured
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate
