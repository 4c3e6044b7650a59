"""``labkit serve``: start the server in the foreground and tell the user how to point kubectl at it."""

from __future__ import annotations

import logging
from pathlib import Path

from rich.console import Console

from ..sim.topology import ISTIO_VERSION
from .kubeconfig import CONTEXT
from .server import ApiServer

DEFAULT_KUBECONFIG = Path("build/labkit-sim/kubeconfig")


def run(
    port: int = 0,
    kubeconfig: Path = DEFAULT_KUBECONFIG,
    *,
    verbose: bool = False,
    console: Console | None = None,
    gateway_api: bool = True,
) -> int:
    """``gateway_api=False`` starts a cluster without the Gateway API CRDs (until they are applied)."""
    console = console or Console()
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    server = ApiServer(port=port, gateway_api=gateway_api)
    path = server.write_kubeconfig(kubeconfig).resolve()
    console.print(
        f"[bold magenta]SIMULATED[/] kind cluster with Istio {ISTIO_VERSION}"
        f"{' and the Gateway API CRDs' if gateway_api else ''}, served on {server.url} (context {CONTEXT})\n"
        f"Point kubectl and the labs at it:\n\n    export KUBECONFIG={path}\n\n"
        "Everything it answers comes from labkit's simulator. Ctrl-C stops it.",
        highlight=False,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("stopped.")
    finally:
        server.stop()
    return 0
