"""A proxy's own config, read as ``istioctl proxy-config`` reads it: ``pilot-agent request GET
config_dump`` in the pod's ``istio-proxy`` container, which asks Envoy's admin API on localhost and
prints its ``/config_dump`` (envoy.admin.v3.ConfigDump: a ``configs`` list of typed sections)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..backend import ExecResult
from ..errors import LabkitError

PROXY_CONTAINER = "istio-proxy"
CONFIG_DUMP_ARGV = ["pilot-agent", "request", "GET", "config_dump"]
#: Seconds the dump may take; a gateway with many routes prints megabytes.
EXEC_TIMEOUT = 30.0

Exec = Callable[[str, str, str, list[str], float], ExecResult]


def read(run: Exec, namespace: str, pod: str, kubectl: str = "kubectl") -> dict[str, Any]:
    """The pod's Envoy config dump; a pod without a proxy, or an answer that is no dump, is refused by name."""
    command = f"{kubectl} -n {namespace} exec {pod} -c {PROXY_CONTAINER} -- {' '.join(CONFIG_DUMP_ARGV)}"
    result = run(namespace, pod, PROXY_CONTAINER, list(CONFIG_DUMP_ARGV), EXEC_TIMEOUT)
    if result.exit_code != 0:
        why = (result.stderr.strip().splitlines() or [f"exit code {result.exit_code}"])[-1]
        raise LabkitError(
            f"cannot read the config dump of {namespace}/{pod}: {why}",
            hint=f"does the pod run a sidecar or gateway proxy? try: {command}",
        )
    try:
        dump = json.loads(result.stdout)
    except ValueError as exc:
        raise LabkitError(f"the config dump of {namespace}/{pod} is not JSON ({exc})", hint=command) from None
    if not isinstance(dump, dict) or not isinstance(dump.get("configs"), list):
        raise LabkitError(f"the config dump of {namespace}/{pod} has no 'configs' list", hint=command)
    return dump
