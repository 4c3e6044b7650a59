"""``labkit.connect``: pick a backend (a real cluster when one answers, else the simulator)."""

from __future__ import annotations

import os
from typing import Any

from rich.console import Console
from rich.panel import Panel

from .backend import Backend, DoctorItem
from .display import RichDisplay, show
from .errors import BackendUnavailable, ContextNotAllowed
from .lab import Lab

BACKENDS = ("auto", "sim", "kube")


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
) -> tuple[Backend, str]:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    reason = f"backend={backend!r} was asked for"
    if backend == "auto":
        backend, reason = detect(context, kubeconfig, allow_context)
    if backend == "kube":
        try:
            from .kube import KubeBackend
        except ImportError as exc:
            raise BackendUnavailable(f"the kube backend needs the kubernetes client: {exc}") from exc
        return KubeBackend(
            context, kubeconfig=kubeconfig, allow_context=allow_context, istio_namespace=istio_namespace
        ), reason
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
    """Connect a lab to a mesh. ``backend``: ``"sim"``, ``"kube"`` or ``"auto"``.

    In a notebook, a cell that raises triggers ``lab.cleanup()`` (and so does the kernel's exit),
    so a lab leaves the cluster as it found it even when it fails halfway.
    """
    driver, reason = make_backend(
        backend,
        context=context,
        kubeconfig=kubeconfig,
        allow_context=allow_context,
        istio_namespace=istio_namespace,
        sim_options=sim_options,
    )
    name = lab or os.environ.get("LABKIT_LAB") or "lab"
    result = Lab(driver, name=name, console=console)
    show(Banner(result, reason), result.console)
    if cleanup_on_error:
        from .notebook import install_cleanup

        install_cleanup(result)
    return result


class Banner(RichDisplay):
    """The first thing a lab shows: which backend answers, and whether results are simulated."""

    def __init__(self, lab: Lab, reason: str) -> None:
        self.lab, self.reason = lab, reason

    def __rich__(self) -> Panel:
        return banner(self.lab, self.reason)


def banner(lab: Lab, reason: str) -> Panel:
    if lab.simulated:
        text = (
            f"[bold magenta]SIMULATED MESH[/] — results come from labkit's offline model of Istio, "
            f"not from a real cluster.\n{lab.driver.describe()}\n[dim]why: {reason}[/]"
        )
        return Panel(text, title=f"lab {lab.name}", border_style="magenta")
    return Panel(
        f"[bold green]REAL CLUSTER[/] — {lab.driver.describe()}\n[dim]why: {reason}[/]",
        title=f"lab {lab.name}",
        border_style="green",
    )


def doctor_report(backend: str = "auto") -> tuple[str, list[DoctorItem]]:
    """What ``labkit doctor`` prints: the backend that would be used, and its checks."""
    driver, reason = make_backend(backend)
    return driver.name, [DoctorItem("backend choice", None, reason), *driver.doctor()]
