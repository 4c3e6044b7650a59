"""``labkit.connect``: pick a backend (a real cluster when one answers, else the simulator)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from . import paths
from .backend import Backend, DoctorItem
from .display import RichDisplay, in_ipython, install_error_display, notebook_console, show
from .errors import BackendUnavailable, ContextNotAllowed, LabkitError, UnknownChoice
from .lab import Lab
from .labinfo import LabMeta, find

BACKENDS = ("auto", "sim", "kube", "envoy")
#: ``labkit run --backend auto`` chooses once and injects the choice into each notebook; these carry
#: which backend it chose and why, so the banner gives that reason (set by ``runner.kernel_env``).
AUTO_CHOICE_VAR, AUTO_REASON_VAR = "LABKIT_AUTO_CHOICE", "LABKIT_AUTO_REASON"
#: The name of a lab connected without ``lab=`` outside the runner.
UNNAMED_LAB = "lab"
BACKEND_FIX = 'backend="sim" (offline), "kube" (a kind cluster), "envoy" (real Envoy, as root) or "auto"'
#: Names shaped like the labs' folders (``01-external-access``) must name one of them; any other
#: name (``lab="scratch"``) is a lab of your own.
LAB_LIKE = re.compile(r"^\d+-")


def check_sim_options(options: Mapping[str, Any]) -> None:
    """Refuse an option the simulator does not have (``SimOptions``) before anything starts."""
    if not options:
        return
    from dataclasses import fields

    from .lab import OUTBOUND_POLICIES
    from .sim import SimOptions

    known = [f.name for f in fields(SimOptions) if f.name != "istio_namespace"]
    for name, value in options.items():
        if name == "istio_namespace":
            raise LabkitError("sim_options={'istio_namespace': ...}", hint="pass it as connect(istio_namespace=...)")
        if name not in known:
            raise UnknownChoice("sim option", name, known, fix="see labkit.sim.SimOptions")
        if name == "outbound_policy" and value not in OUTBOUND_POLICIES:
            raise UnknownChoice("sim_options outbound_policy", value, OUTBOUND_POLICIES)


def check_lab_name(lab: str) -> None:
    """A lab named like the labs' folders must be one of them (its banner and records use it)."""
    from .labinfo import lab_dirs

    if not LAB_LIKE.match(lab):
        return
    labs = [p.name for p in lab_dirs()] if paths.LABS.is_dir() else []
    if lab not in labs:
        fix = "lab= is the lab's folder under labs/ (`labkit list`), or a name of your own without a number"
        raise UnknownChoice("lab", lab, labs, fix=fix)


def detect(
    context: str | None = None, kubeconfig: str | None = None, allow_context: str | None = None
) -> tuple[str, str]:
    """Which backend ``auto`` picks, and why."""
    try:
        from .kube.context import guard, probe
    except ImportError as exc:  # the kubernetes client is missing
        return "sim", f"the kubernetes client is not importable ({exc})"
    try:
        name = guard(context, kubeconfig, allow_context)
    except ContextNotAllowed as exc:
        return "sim", f"{exc}".splitlines()[0]
    except Exception as exc:  # no kubeconfig, unreadable file, ...
        return "sim", f"no usable kube context ({type(exc).__name__}: {exc})"
    ok, reason = probe(name, kubeconfig)
    return ("kube", f"context {name} answers") if ok else ("sim", f"context {name}: {reason}")


def make_backend(
    backend: str = "auto",
    *,
    context: str | None = None,
    kubeconfig: str | None = None,
    allow_context: str | None = None,
    istio_namespace: str = "istio-system",
    sim_options: dict[str, Any] | None = None,
    preflight: bool = True,
) -> tuple[Backend, str]:
    """The backend to use and why. A ``kube`` backend must answer first (``preflight``), so a stopped
    cluster is one clear error here rather than a long traceback at the first call."""
    if backend not in BACKENDS:
        raise UnknownChoice("backend", backend, BACKENDS, fix=BACKEND_FIX)
    check_sim_options(sim_options or {})
    reason = f"backend={backend!r} was asked for"
    if backend == "auto":
        backend, reason = detect(context, kubeconfig, allow_context)
    if backend == "kube":
        try:
            from .kube import KubeBackend
        except ImportError as exc:
            raise BackendUnavailable(f"the kube backend needs the kubernetes client: {exc}") from exc
        driver = KubeBackend(
            context, kubeconfig=kubeconfig, allow_context=allow_context, istio_namespace=istio_namespace
        )
        if preflight:
            try:
                driver.preflight()
            except BaseException:
                driver.close()
                raise
        return driver, reason
    if backend == "envoy":  # refuses (EnvoyBackendUnavailable, with the fix) without root, iptables or Envoy
        from .envoy.backend import EnvoyBackend

        return EnvoyBackend(istio_namespace=istio_namespace, **(sim_options or {})), reason
    from .sim import SimBackend

    return SimBackend(istio_namespace=istio_namespace, **(sim_options or {})), reason


def connect(
    backend: str = "auto",
    *,
    lab: str | None = None,
    context: str | None = None,
    kubeconfig: str | None = None,
    allow_context: str | None = None,
    istio_namespace: str = "istio-system",
    sim_options: dict[str, Any] | None = None,
    cleanup_on_error: bool = True,
    console: Console | None = None,
) -> Lab:
    """Connect a lab to a mesh. ``backend``: ``"sim"``, ``"kube"``, ``"envoy"`` or ``"auto"``.

    In a notebook, a cell that raises triggers ``lab.cleanup()`` (and so does the kernel's exit),
    so a lab leaves the cluster as it found it even when it fails halfway.
    """
    if lab is not None:
        check_lab_name(lab)
    if in_ipython():  # first: a cluster that does not answer is shown as one message, not a traceback
        from IPython import get_ipython

        install_error_display(get_ipython())
    driver, reason = make_backend(
        backend,
        context=context,
        kubeconfig=kubeconfig,
        allow_context=allow_context,
        istio_namespace=istio_namespace,
        sim_options=sim_options,
    )
    reason = runner_reason(backend) or reason
    name = lab or os.environ.get("LABKIT_LAB") or UNNAMED_LAB
    result = Lab(driver, name=name, console=console or notebook_console())
    show(Banner(result, reason, find(name), cleanup_on_error), result.console)
    if cleanup_on_error:
        from .notebook import install_cleanup

        install_cleanup(result)
    return result


def runner_reason(asked: str) -> str:
    """Why the runner chose ``asked`` for this kernel when it resolved ``auto``; '' otherwise.

    The notebook then asks for the injected name (``sim``), and "backend='sim' was asked for" would
    hide the real reason, such as no lab cluster answering.
    """
    if os.environ.get(AUTO_CHOICE_VAR) != asked:
        return ""
    return os.environ.get(AUTO_REASON_VAR, "")


class Banner(RichDisplay):
    """The first thing a lab shows: which backend answers, whether results are simulated, and what the
    lab is about to change (from ``labs/<lab>/lab.yaml``)."""

    # Narrow enough for JupyterLab at 1280 px with the file browser open (about 100 columns show).
    render_width = 92

    def __init__(self, lab: Lab, reason: str, meta: LabMeta | None = None, cleanup_on_error: bool = True) -> None:
        self.lab, self.reason, self.meta, self.cleanup_on_error = lab, reason, meta, cleanup_on_error

    def __rich__(self) -> Panel:
        return banner(self.lab, self.reason, self.meta, self.cleanup_on_error)


def banner(lab: Lab, reason: str, meta: LabMeta | None = None, cleanup_on_error: bool = True) -> Panel:
    if lab.simulated:
        from .sim import MODELLED_ISTIO

        style = "magenta"
        head = Text.assemble(
            (" SIMULATED MESH ", "bold white on magenta"),
            f"  results come from a model of Istio {MODELLED_ISTIO}, ",
            ("not from a real cluster", "bold"),
            ".",
        )
        target = "the simulated cluster (nothing real is touched)"
    elif lab.backend == "envoy":
        style = "cyan"
        head = Text.assemble(
            (" REAL ENVOY ", "bold white on cyan"),
            "  real proxies and real curl in network namespaces on this machine; ",
            ("the control plane is labkit's model", "bold"),
            ".",
        )
        target = "the mesh on this machine (its network namespaces are removed at the end)"
    else:
        style = "green"
        head = Text.assemble((" REAL CLUSTER ", "bold white on green"), "  every step runs against a live cluster.")
        target = "the cluster"
    lines: list[RenderableType] = [
        head,
        Text.assemble(("backend: ", "dim"), lab.driver.describe()),
        Text(f"chosen because: {_first_line(reason)}", style="dim"),
    ]
    if meta is not None:
        lines += [Text(""), Text(f"What this lab changes in {target}:", style="bold")]
        lines.append(_bullets(meta.changes_in(lab.istio_namespace)))
        undo = "The last cell, lab.cleanup(), undoes these changes"
        undo += ", and so does a failing cell." if cleanup_on_error else "."
        lines.append(Text(undo, style="dim"))
        requires = meta.requires_in(lab.istio_namespace)
        if requires:
            lines += [Text("It needs:", style="bold"), _bullets(requires)]
        if meta.hosts:  # on a cluster these must answer from the internet
            lines.append(Text.assemble(("External hosts it reaches: ", "bold"), ", ".join(meta.hosts)))
    if meta is not None:
        title = f"Lab {meta.number} · {meta.title} · about {meta.minutes} min"
    else:
        title = lab.name if lab.name == UNNAMED_LAB else f"lab {lab.name}"  # never "lab lab"
    subtitle = None
    if meta is not None and meta.depends_on:
        subtitle = "builds on " + ", ".join(meta.depends_on)
    return Panel(Group(*lines), title=title, subtitle=subtitle, border_style=style, title_align="left")


def _first_line(reason: str) -> str:
    # The rest is advice for someone who wanted a cluster; `labkit doctor` prints all of it.
    line = (reason.splitlines() or [""])[0].rstrip()
    return line + ")" * max(0, line.count("(") - line.count(")"))


def _bullets(items: list[str]) -> Table:
    # A grid keeps wrapped lines indented under their bullet.
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=3, justify="right")
    grid.add_column()
    for item in items:
        grid.add_row("•", item)
    return grid


def doctor_report(backend: str = "auto") -> tuple[str, list[DoctorItem]]:
    """What ``labkit doctor`` prints: the backend that would be used, and its checks."""
    driver, reason = make_backend(backend, preflight=False)  # the doctor diagnoses a cluster that does not answer
    return driver.name, [DoctorItem("backend choice", None, reason), *driver.doctor()]
