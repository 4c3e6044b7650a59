"""``labkit``: list the labs, run them end to end, and check that the environment can run them."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import paths
from .errors import LabkitError
from .labinfo import catalogue
from .runner import API_CHOICES, BACKENDS, LabResult, plan_runs, private_output, run_labs, select
from .stopping import exit_code, interruptible

DEFAULT_OUT = Path("build/labs")


def _console(stderr: bool = False) -> Console:
    # CI logs are not terminals; rich would squeeze tables into 80 columns there.
    wide = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, width=120 if wide else None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description="Istio Egress Labs: run and check the lab notebooks.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p_list = sub.add_parser("list", help="list the labs and their titles")
    _notebooks_option(p_list)

    p_run = sub.add_parser("run", help="execute labs end to end and report their checks")
    p_run.add_argument("labs", nargs="*", metavar="LAB", help="lab number or name (default: all labs)")
    _backend_option(p_run)
    p_run.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"executed notebooks, their HTML, junit.xml and summary.md (default: {DEFAULT_OUT})",
    )
    p_run.add_argument(
        "--kernel", default=None, help="Jupyter kernel to run in (default: labkit when installed, else python3)"
    )
    p_run.add_argument(
        "-j",
        "--jobs",
        type=_positive_int,
        default=None,
        metavar="N",
        help="notebooks to run at once on sim (default: the CPU count); kube always runs one at a time",
    )
    p_run.add_argument(
        "--timeout",
        type=float,
        default=600,
        metavar="SECONDS",
        help="limit per cell, 0 for none (default: 600)",
    )
    p_run.add_argument(
        "--api",
        choices=API_CHOICES,
        default=None,
        help="for labs whose parameters cell sets `api`: istio (Istio's Gateway and VirtualService), "
        "gateway-api (the Kubernetes Gateway API), or both (each such lab runs once per API); "
        "default: each notebook's own choice",
    )
    p_run.add_argument("-q", "--quiet", action="store_true", help="do not stream cell output")
    p_run.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a notebook parameter, VALUE read as YAML: -p https_hosts='[\"example.org\"]' (repeatable)",
    )
    _notebooks_option(p_run)

    p_doctor = sub.add_parser("doctor", help="check that the chosen backend can run the labs")
    _backend_option(p_doctor)

    p_reset = sub.add_parser(
        "reset",
        help="undo what labs left in the cluster (after a kernel died mid-lab)",
        description="Delete every object labelled app.kubernetes.io/managed-by=labkit (searching the kinds "
        "the labs' lab.yaml list and every kind the cluster serves), set the outbound traffic policy back "
        "to ALLOW_ANY and remove the namespace labels the labs' lab.yaml say they add. Exit 0 when the "
        "cluster is as the labs expect to find it.",
    )
    # kube by default: "auto" would fall back to the simulator, where there is never anything to reset.
    p_reset.add_argument(
        "--backend", choices=BACKENDS, default="kube", help="default: kube (envoy: leftovers)"
    )
    p_reset.add_argument(
        "--timeout",
        type=float,
        default=180,
        metavar="SECONDS",
        help="how long to wait for deleted namespaces to go away (default: 180)",
    )

    p_serve = sub.add_parser(
        "serve",
        help="serve the simulator as a Kubernetes API on 127.0.0.1, for kubectl and --backend kube",
        description="Start an offline practice cluster: the simulated mesh behind the Kubernetes REST API on "
        "127.0.0.1, with a kubeconfig (context kind-labkit-sim) for kubectl and the labs' kube backend.",
    )
    p_serve.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    p_serve.add_argument(
        "--kubeconfig",
        type=Path,
        default=Path("build/labkit-sim/kubeconfig"),
        help="where to write the kubeconfig (default: build/labkit-sim/kubeconfig)",
    )
    p_serve.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _backend_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="kube: a real cluster; sim: the offline simulator; envoy: real Envoy and curl offline, labkit's "
        "control plane (root); auto: kube when reachable (default: auto)",
    )


def _notebooks_option(p: argparse.ArgumentParser) -> None:
    # None: paths.notebooks_dir(), which LABKIT_NOTEBOOKS_DIR moves.
    p.add_argument("--notebooks", type=Path, default=None, help=argparse.SUPPRESS)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list(args)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "reset":
            return cmd_reset(args)
        if args.command == "serve":
            from .serve.command import run as serve

            return serve(args.port, args.kubeconfig, verbose=args.verbose, console=_console())
        return cmd_doctor(args)
    except LabkitError as e:
        _console(stderr=True).print(Text(f"labkit: {e}", style="red"))
        return 2
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM/SIGHUP during a run (see stopping.py)
        _console(stderr=True).print(Text(f"labkit: stopped ({stop or 'SIGINT'})", style="red"))
        return exit_code(stop)


def cmd_list(args: argparse.Namespace) -> int:
    """The lab catalogue: each notebook with what its lab.yaml says (time, prerequisites, external hosts)."""
    labs = catalogue(args.notebooks)
    console = _console()
    if not labs:
        console.print(f"no lab notebooks (NN-name.ipynb) in {args.notebooks or paths.notebooks_dir()}")
        return 1
    table = Table(box=box.SIMPLE, show_header=True)
    # The name is what `labkit run` takes: never cut it short.
    table.add_column("lab", style="bold", no_wrap=True, min_width=max(len(lab.name) for lab in labs))
    table.add_column("title")
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("needs")
    table.add_column("external hosts")
    for lab in labs:
        meta = lab.meta
        if meta is None:  # a notebook without lab.yaml: only what the notebook says
            table.add_row(lab.name, lab.title, "", "", "")
            continue
        needs = ", ".join(d[:2] for d in meta.depends_on) or "—"
        table.add_row(lab.name, meta.title, f"{meta.minutes} min", needs, ", ".join(meta.hosts) or "—")
    console.print(table)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .reports import html_name, render_html, write_reports

    def render_page(result: LabResult) -> None:
        # Each page as its lab ends, while the others run; write_reports retries and names a failure.
        with contextlib.suppress(Exception):
            render_html(result.output, result.output.parent / html_name(result))

    parameters = parse_parameters(args.parameter)
    # An unknown lab, or --api clashing with -p api=..., is reported before anything is created.
    runs = plan_runs(select(args.labs, args.notebooks), parameters, args.api)
    if args.api is not None:  # a lab without the parameter runs as it is: say so rather than pass over --api
        for run in runs:
            if not run.variant:
                _console(stderr=True).print(
                    f"--api {args.api}: {run.lab.name} has no api parameter; it runs once, as it is"
                )
    with interruptible(), private_output(args.out):  # the reports quote the notebooks: private like them
        summary = run_labs(
            args.labs,
            args.backend,
            args.out,
            kernel_name=args.kernel,
            timeout_per_cell=args.timeout,
            progress=not args.quiet,
            notebooks_dir=args.notebooks,
            console=_console(stderr=True),
            jobs=args.jobs,
            parameters=parameters,
            on_result=render_page,
            api=args.api,
        )
        reports = write_reports(summary)
    console = _console()
    console.print(summary)
    console.print(f"JUnit report: {reports.junit}\nSummary: {reports.summary}", style="dim")
    for problem in reports.problems:
        console.print(problem, style="yellow")
    return 0 if summary.passed else 1


def cmd_reset(args: argparse.Namespace) -> int:
    if args.backend == "envoy":
        from .envoy.reset import print_reset

        return print_reset(_console())
    from .connect import make_backend
    from .snapshot import reset

    driver, _ = make_backend(args.backend)
    console = _console()
    console.print(f"labkit reset · {driver.describe()}", style="bold")
    try:
        report = reset(driver, timeout=args.timeout)
    finally:
        driver.close()
    report.print_lines(console)
    if report.remaining:
        console.print(Text("the cluster is not back to where the labs start; run `labkit doctor`.", style="red"))
        return 1
    console.print(Text("clean: the cluster is where the labs start.", style="green"))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    console = _console()
    try:
        # Imported here so list/run keep working while the backends are unavailable or broken.
        from . import doctor_report
    except ImportError as e:
        console.print(Text(f"labkit doctor is unavailable: {e}", style="red"))
        return 1
    backend, items = doctor_report(args.backend)
    table = Table(title=f"labkit doctor · backend {backend}", box=box.SIMPLE_HEAVY)
    table.add_column("check", style="bold")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    table.add_column("fix", overflow="fold", style="yellow")
    for item in items:
        if item.ok is None:
            status = Text("info", style="cyan")
        elif item.ok:
            status = Text("ok", style="green")
        else:
            status = Text("FAILED", style="bold red")
        table.add_row(item.name, status, item.detail, item.fix if item.ok is False else "")
    console.print(table)
    failed = [item for item in items if item.ok is False]
    if failed:
        console.print(Text(f"{len(failed)} problem(s) found; apply the fixes above and run again.", style="red"))
        return 1
    console.print(Text("ready.", style="green"))
    return 0


def parse_parameters(items: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs from ``-p``; VALUE is YAML, so lists, numbers and booleans keep their type."""
    from . import yamlsafe

    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise LabkitError(f"-p {item!r}: write it as NAME=VALUE", hint="e.g. -p https_hosts='[\"example.org\"]'")
        out[name] = yamlsafe.load(value) if value.strip() else ""
    return out


if __name__ == "__main__":
    sys.exit(main())

